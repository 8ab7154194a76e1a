package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func init() { addSteps("fallback", registerFallbackSteps) }

// fallbackState is what the fallback steps leave for later steps: the
// accuracy of the all-int8 model (top-k fallback) and the record of an
// accuracy-aware fallback.
type fallbackState struct {
	allInt8    float64
	allInt8Set bool
	report     *ptq.FallbackReport
}

func registerFallbackSteps(sc *godog.ScenarioContext) {
	sc.Step(`^on the held-out set the nodes (.+) output FP32 and every other node outputs int8$`, nodesOutputFP32)
	sc.Step(`^the plan has exactly the boundaries (.+)$`, thePlanHasTheBoundaries)

	sc.Step(`^the quantized model's accuracy on the test samples is within (-?\d+(?:\.\d+)?) points? of FP32's$`, quantizedAccuracyWithin)
	sc.Step(`^the quantized model's accuracy on the test samples is (at least|at most) (-?\d+(?:\.\d+)?) points? below FP32's$`, quantizedAccuracyBelow)
	sc.Step(`^the quantized model's accuracy on the test samples is at least the all-int8 model's and at least (\d+(?:\.\d+)?)%$`, quantizedAccuracyAtLeastAllInt8)

	sc.Step(`^the (\d+) most sensitive layers by a sensitivity analysis on the selection samples are kept in FP32 and the others quantized to int8$`, topKKeptFP32)
	sc.Step(`^the layers kept in FP32 are (.+)$`, theLayersKeptFP32Are)

	sc.Step(`^the model is quantized with a budget of at most (-?\d+(?:\.\d+)?) points of accuracy drop on the selection samples$`, quantizedWithBudget)
	sc.Step(`^the layers reverted to FP32 are, in order, (.+)$`, theLayersRevertedAre)
	sc.Step(`^they were reverted in order of decreasing recovery in the sensitivity analysis$`, revertedByRecovery)
	sc.Step(`^after each reverted layer the fallback recorded the accuracy on the selection samples of the model with the layers reverted so far in FP32$`, fallbackRecordedAccuracy)
}

func nodesOutputFP32(ctx context.Context, list string) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	tr, err := s.quantized.Trace(s.heldOut)
	if err != nil {
		return err
	}
	fp32 := parseNames(list)
	var bad []string
	seen := 0
	for _, e := range tr {
		want := "int8"
		if slices.Contains(fp32, e.Node) {
			want = "fp32"
			seen++
		}
		if e.DType != want {
			bad = append(bad, fmt.Sprintf("%s outputs %s, want %s", e.Node, e.DType, want))
		}
	}
	if seen != len(fp32) {
		return fmt.Errorf("the quantized model does not have all the nodes %q", fp32)
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// thePlanHasTheBoundaries reads "quantize input->conv2d1, dequantize
// relu1->conv2d2" and compares it, in any order, with the plan's.
func thePlanHasTheBoundaries(ctx context.Context, list string) error {
	p, err := currentPlan(ctx)
	if err != nil {
		return err
	}
	var want []string
	for b := range strings.SplitSeq(list, ",") {
		f := strings.Fields(b)
		if len(f) != 2 || (f[0] != "quantize" && f[0] != "dequantize") || !strings.Contains(f[1], "->") {
			return fmt.Errorf(`boundary %q: write "quantize from->to" or "dequantize from->to"`, strings.TrimSpace(b))
		}
		want = append(want, f[0]+" "+f[1])
	}
	var got []string
	for _, b := range p.Boundaries() {
		got = append(got, fmt.Sprintf("%s %s->%s", b.Op, b.From, b.To))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("the plan's boundaries are %q, want %q", got, want)
	}
	return nil
}

// accuracies returns the accuracy of the quantized model and of the FP32
// model on the test samples.
func accuracies(ctx context.Context) (q, f float64, err error) {
	s, err := quantizedModel(ctx)
	if err != nil {
		return 0, 0, err
	}
	test, err := testSamples(ctx)
	if err != nil {
		return 0, 0, err
	}
	if q, err = ptq.Accuracy(s.quantized, dataOf(test), blobEvalBatch); err != nil {
		return 0, 0, err
	}
	f, err = ptq.Accuracy(ptq.FP32Model(s.model), dataOf(test), blobEvalBatch)
	return q, f, err
}

func quantizedAccuracyWithin(ctx context.Context, points float64) error {
	q, f, err := accuracies(ctx)
	if err != nil {
		return err
	}
	d := 100 * math.Abs(q-f)
	c := criterion{measured: "accuracy difference to FP32 on the test samples", unit: "points", direction: within, threshold: points, value: d, slack: 1e-9}
	return check(ctx, c, func() error {
		return fmt.Errorf("the quantized model's accuracy is %.2f%%, FP32's %.2f%%: %.2f points apart, want at most %g", 100*q, 100*f, d, points)
	})
}

func quantizedAccuracyBelow(ctx context.Context, bound string, points float64) error {
	q, f, err := accuracies(ctx)
	if err != nil {
		return err
	}
	d := 100 * (f - q)
	c := criterion{measured: "accuracy drop from FP32 on the test samples", unit: "points", direction: bound, threshold: points, value: d, slack: 1e-9}
	return check(ctx, c, func() error {
		return fmt.Errorf("the quantized model's accuracy is %.2f%%, FP32's %.2f%%: %.2f points below, want %s %g", 100*q, 100*f, d, bound, points)
	})
}

func quantizedAccuracyAtLeastAllInt8(ctx context.Context, pct float64) error {
	fs := domainState[fallbackState](ctx)
	if !fs.allInt8Set {
		return errors.New("the all-int8 model's accuracy was not measured: a When step must quantize the model with some layers in FP32")
	}
	q, _, err := accuracies(ctx)
	if err != nil {
		return err
	}
	if q < fs.allInt8 {
		return fmt.Errorf("the quantized model's accuracy is %.2f%%, the all-int8 model's %.2f%%, want at least that and at least %g%%",
			100*q, 100*fs.allInt8, pct)
	}
	c := criterion{measured: "quantized accuracy on the test samples", unit: "%", direction: atLeast, threshold: pct, value: 100 * q, slack: 1e-9}
	return check(ctx, c, func() error {
		return fmt.Errorf("the quantized model's accuracy is %.2f%%, the all-int8 model's %.2f%%, want at least that and at least %g%%",
			100*q, 100*fs.allInt8, pct)
	})
}

// keepFP32 returns cfg with the layers kept in FP32 by name overrides.
func keepFP32(cfg ptq.Config, layers []string) ptq.Config {
	cfg.Overrides = slices.Clone(cfg.Overrides)
	for _, l := range layers {
		cfg.Overrides = append(cfg.Overrides, ptq.Override{Name: l, KeepFP32: true})
	}
	return cfg
}

// quantizedAccuracyWith quantizes the scenario's model statically with cfg and
// returns its accuracy on d.
func quantizedAccuracyWith(ctx context.Context, cfg ptq.Config, d *datasets.Dataset) (float64, error) {
	s := ptqOf(ctx)
	m, _, err := ptq.Quantize(ctx, s.model, s.calib, &cfg)
	if err != nil {
		return 0, err
	}
	return ptq.Accuracy(m, dataOf(d), blobEvalBatch)
}

func topKKeptFP32(ctx context.Context, k int) error {
	rep, err := analyse(ctx, 0, 0)
	if err != nil {
		return err
	}
	domainState[sensitivityState](ctx).rep = rep
	if k > len(rep.Layers) {
		return fmt.Errorf("the analysis ranks %d layers, fewer than %d", len(rep.Layers), k)
	}
	test, err := testSamples(ctx)
	if err != nil {
		return err
	}
	s, fs := ptqOf(ctx), domainState[fallbackState](ctx)
	if fs.allInt8, err = quantizedAccuracyWith(ctx, s.cfg, test); err != nil {
		return err
	}
	fs.allInt8Set = true
	m, qrep, err := ptq.Quantize(ctx, s.model, s.calib, new(keepFP32(s.cfg, rep.Ranking()[:k])))
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, qrep
	return nil
}

func theLayersKeptFP32Are(ctx context.Context, list string) error {
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	want := namesOrNone(list)
	var kept []string
	for _, n := range s.quantized.Plan().Nodes {
		switch {
		case n.Config.KeepFP32 && n.Role == ptq.FP32:
			kept = append(kept, n.Name)
		case (n.Kind == "Linear" || n.Kind == "Conv2D") && n.Role != ptq.Quantized:
			return fmt.Errorf("layer %q is %s (%s) though no override keeps it in FP32", n.Name, n.Role, n.Reason)
		}
	}
	if !slices.Equal(kept, want) {
		return fmt.Errorf("the layers kept in FP32 are %q, want %q", kept, want)
	}
	return nil
}

func quantizedWithBudget(ctx context.Context, points float64) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	sel, err := selectionSamples(ctx)
	if err != nil {
		return err
	}
	m, rep, err := ptq.QuantizeWithBudget(ctx, s.model, s.calib, dataOf(sel), &ptq.SensitivityOptions{Config: s.cfg, MaxDrop: points / 100, BatchSize: blobEvalBatch})
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, nil
	domainState[fallbackState](ctx).report = rep
	return nil
}

// theFallback returns the record of the accuracy-aware fallback.
func theFallback(ctx context.Context) (*ptq.FallbackReport, error) {
	if err := stateFrom(ctx).lastErr(); err != nil {
		return nil, fmt.Errorf("the fallback was refused: %w", err)
	}
	rep := domainState[fallbackState](ctx).report
	if rep == nil {
		return nil, errors.New("the model was not quantized with an accuracy budget")
	}
	return rep, nil
}

func revertedLayers(rep *ptq.FallbackReport) []string {
	out := []string{}
	for _, st := range rep.Reverted {
		out = append(out, st.Layer)
	}
	return out
}

func theLayersRevertedAre(ctx context.Context, list string) error {
	rep, err := theFallback(ctx)
	if err != nil {
		return err
	}
	if got, want := revertedLayers(rep), namesOrNone(list); !slices.Equal(got, want) {
		return fmt.Errorf("the fallback reverted %q, want %q\n%s", got, want, rep)
	}
	return nil
}

func revertedByRecovery(ctx context.Context) error {
	rep, err := theFallback(ctx)
	if err != nil {
		return err
	}
	reverted := revertedLayers(rep)
	if len(reverted) == 0 {
		// Nothing to order: the all-int8 model must have met the budget.
		if d := rep.FP32 - rep.AllInt8; d > rep.MaxDrop || !rep.Met {
			return fmt.Errorf("no layer was reverted, yet the all-int8 model is %.2f points below FP32 with a budget of %.2f", 100*d, 100*rep.MaxDrop)
		}
		return nil
	}
	if rep.Sensitivity == nil {
		return errors.New("layers were reverted, but the fallback holds no sensitivity analysis")
	}
	recovery := map[string]float64{}
	for _, l := range rep.Sensitivity.Layers {
		recovery[l.Layer] = l.Recovery
	}
	for i, name := range reverted {
		r, ok := recovery[name]
		if !ok {
			return fmt.Errorf("reverted layer %q is not in the sensitivity analysis", name)
		}
		for other, o := range recovery {
			if !slices.Contains(reverted[:i+1], other) && o > r {
				return fmt.Errorf("%q (recovery %.2f points) was reverted before %q (recovery %.2f points)", name, 100*r, other, 100*o)
			}
		}
	}
	return nil
}

func fallbackRecordedAccuracy(ctx context.Context) error {
	rep, err := theFallback(ctx)
	if err != nil {
		return err
	}
	s := ptqOf(ctx)
	sel, err := selectionSamples(ctx)
	if err != nil {
		return err
	}
	if rep.Selection != sel.Name || rep.Samples != sel.Len() {
		return fmt.Errorf("the fallback says it measured on %d samples of %q, want the %d selection samples of %q", rep.Samples, rep.Selection, sel.Len(), sel.Name)
	}
	fp32, err := ptq.Accuracy(ptq.FP32Model(s.model), dataOf(sel), blobEvalBatch)
	if err != nil {
		return err
	}
	allInt8, err := quantizedAccuracyWith(ctx, s.cfg, sel)
	if err != nil {
		return err
	}
	if rep.FP32 != fp32 || rep.AllInt8 != allInt8 {
		return fmt.Errorf("the fallback records FP32 %.4f and all-int8 %.4f, the models give %.4f and %.4f", rep.FP32, rep.AllInt8, fp32, allInt8)
	}
	var kept []string
	final := allInt8
	for i, st := range rep.Reverted {
		kept = append(kept, st.Layer)
		acc, err := quantizedAccuracyWith(ctx, keepFP32(s.cfg, kept), sel)
		if err != nil {
			return err
		}
		if st.Metric != acc || !sameFloat(st.Drop, fp32-acc) {
			return fmt.Errorf("step %d (%s) records accuracy %.4f and drop %.4f; with %q in FP32 the model gives %.4f",
				i+1, st.Layer, st.Metric, st.Drop, kept, acc)
		}
		final = acc
	}
	sq, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	q, err := ptq.Accuracy(sq.quantized, dataOf(sel), blobEvalBatch)
	if err != nil {
		return err
	}
	if rep.Final != final || q != final {
		return fmt.Errorf("the fallback records a final accuracy of %.4f, the returned model gives %.4f on the selection samples, the last step %.4f", rep.Final, q, final)
	}
	if met := fp32-final <= rep.MaxDrop; rep.Met != met {
		return fmt.Errorf("the fallback says the budget is met: %v, but the final drop is %s points for a budget of %s",
			rep.Met, strconv.FormatFloat(100*(fp32-final), 'f', 2, 64), strconv.FormatFloat(100*rep.MaxDrop, 'f', 2, 64))
	}
	return nil
}
