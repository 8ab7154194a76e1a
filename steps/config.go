package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("config", registerConfigSteps) }

// configSeed seeds the layers and data the quantization_config feature
// builds, so every run measures the same numbers.
const configSeed = 31

// configState is the quantization_config domain's part of a scenario: a
// tensor (weights or activations), how it is split into calibration
// batches, and the results of quantizing it.
type configState struct {
	// x is the tensor under test; batch is its calibration batch size in
	// samples (0: one batch). perChannel tells a weight tensor [out, ...].
	x     *tensor.Tensor
	batch int
	// results holds one quantization of x per label ("per-channel",
	// "affine", "entropy", ...); last is the label of the latest.
	results map[string]*configResult
	last    string
	// observed are the batches a MinMax observer saw, for golden qparams.
	observed []*tensor.Tensor
	// grid is the per-tensor qparams of the rounding examples.
	grid *quant.QParams
}

// configResult is one quantization of the scenario's tensor.
type configResult struct {
	spec quant.Spec
	qp   quant.QParams
	q    *quant.QTensor
	deq  *tensor.Tensor
	sqnr float64
}

func registerConfigSteps(sc *godog.ScenarioContext) {
	// The configuration of a model's quantization (ptq state).
	sc.Step(`^weights are configured as `+specPattern+`$`, weightsConfiguredAs)
	sc.Step(`^activations are configured as `+specPattern+`$`, activationsConfiguredAs)
	sc.Step(`^the model is configured with `+specPattern+` weights and `+specPattern+` activations$`, configuredWith)
	sc.Step(`^the model is quantized statically once with (int8|uint8) affine activations and once with (int8|uint8) affine activations$`, quantizedWithTwoActivationTypes)
	sc.Step(`^every layer with int8 weights reports `+specPattern+` weights$`, everyLayerReportsWeights)
	sc.Step(`^every int8 output in the report is (int8|uint8)$`, everyOutputIs)
	sc.Step(`^it is refused as an invalid configuration$`, refusedAsInvalidConfig)

	// Weights of one layer.
	sc.Step(`^a 3x3 Conv2D layer with (\d+) input and (\d+) output channels whose output channels span weight ranges from (\d+(?:\.\d+)?) to (\d+(?:\.\d+)?)$`, aConvWithUnevenChannels)
	sc.Step(`^a 3x3 Conv2D layer with (\d+) input and (\d+) output channels whose output channels share one weight range$`, aConvWithEvenChannels)
	sc.Step(`^its weights are quantized (per-tensor|per-channel) to int8$`, itsWeightsAreQuantized)
	sc.Step(`^its weights are quantized both per-tensor and per-channel to int8$`, itsWeightsAreQuantizedBoth)
	sc.Step(`^(\d+) of its (\d+) output channels are quantized to all zeros$`, channelsQuantizedToZero)

	// Activations.
	sc.Step(`^([\d,]+) activations after a ReLU: standard normal values with the negatives set to 0$`, activationsAfterReLU)
	sc.Step(`^([\d,]+) activations drawn from a standard normal distribution$`, normalActivations)
	sc.Step(`^they are quantized per tensor to int8 (symmetric|affine)$`, quantizedPerTensor)
	sc.Step(`^they are quantized per tensor to int8 both symmetric and affine$`, quantizedBothSchemes)
	sc.Step(`^they are quantized per tensor to both int8 and uint8 affine$`, quantizedBothDTypes)
	sc.Step(`^int8 and uint8 give the same dequantized values, bit for bit, with codes exactly 128 apart$`, sameDequantizedValues)

	// Comparisons.
	sc.Step(`^the (?:weight )?SQNR is at least (-?\d+(?:\.\d+)?) dB$`, theSQNRIsAtLeast)
	sc.Step(`^(per-channel|per-tensor|affine|symmetric) quantization beats (per-channel|per-tensor|affine|symmetric) quantization by at least (-?\d+(?:\.\d+)?) dB of SQNR$`, quantizationBeats)
	sc.Step(`^the two schemes are within (-?\d+(?:\.\d+)?) dB of SQNR of each other$`, schemesWithin)

	// Calibration methods on data with outliers.
	sc.Step(`^(\d+) samples of ([\d,]+) standard normal values, (\d+(?:\.\d+)?)% of them outliers (\d+) times larger, in batches of (\d+)$`, samplesWithOutliers)
	sc.Step(`^(\d+) values evenly spaced from (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?)$`, evenlySpacedValues)
	sc.Step(`^their range is calibrated with (minmax|moving_average|percentile|entropy|mse) for (int8|uint8) (symmetric|affine) per tensor(?: over \[(-?\d+), (-?\d+)\])?$`, rangeCalibratedWith)
	sc.Step(`^the SQNR on the values within (\d+) standard deviations is (at least|at most) (-?\d+(?:\.\d+)?) dB$`, bulkSQNR)
	sc.Step(`^on the values within (\d+) standard deviations it beats MinMax by at least (-?\d+(?:\.\d+)?) dB$`, beatsMinMaxWithin)
	sc.Step(`^the SQNR over all values, outliers included, is at least (-?\d+(?:\.\d+)?) dB$`, allValuesSQNR)
	sc.Step(`^the calibrated range reaches the largest absolute value$`, rangeReachesLargest)

	// Integer grids.
	sc.Step(`^the scale is (\d+(?:\.\d+)?) to 6 significant digits and the zero point (-?\d+)$`, theScaleAndZeroPoint)
	sc.Step(`^values from (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?) quantized with those qparams get codes from (-?\d+) to (-?\d+)$`, codesRunFromTo)
	sc.Step(`^the value (-?\d+(?:\.\d+)?) quantizes to code (-?\d+) and dequantizes to (-?\d+(?:\.\d+)?) to 6 significant digits$`, valueQuantizesTo)
	sc.Step(`^a MinMax observer has seen the values ((?:-?\d+(?:\.\d+)?, )*-?\d+(?:\.\d+)?) and then ((?:-?\d+(?:\.\d+)?, )*-?\d+(?:\.\d+)?)$`, minMaxHasSeen)
	sc.Step(`^it gives these qparams:$`, itGivesTheseQParams)
	sc.Step(`^the weights of a layer with (\d+) output channels:$`, theWeightsOfALayer)
	sc.Step(`^the weights are quantized as `+specPattern+`$`, theWeightsAreQuantizedAs)
	sc.Step(`^each output channel gets:$`, eachOutputChannelGets)
	sc.Step(`^the (int8|uint8) grid with scale (\d+(?:\.\d+)?) and zero point (-?\d+)$`, theGrid)
	sc.Step(`^these values quantize to these codes:$`, theseValuesQuantizeTo)
}

// specPattern matches a spec as the features write it, "int8 symmetric
// per-channel over [-127, 127]", in five groups; see parseSpec.
const specPattern = `(int8|uint8) (symmetric|affine) (per-tensor|per-channel)(?: over \[(-?\d+), (-?\d+)\])?`

func configOf(ctx context.Context) *configState {
	cs := domainState[configState](ctx)
	if cs.results == nil {
		cs.results = map[string]*configResult{}
	}
	return cs
}

// parseSpec reads a spec as the features write it, "int8 symmetric
// per-channel over [-127, 127]". The range, if given, must be one the
// dtype offers: its full range, restricted (int8 symmetric without -128)
// or reduced to 7 bits (reduce_range).
func parseSpec(dtype, scheme, granularity, lo, hi string) (quant.Spec, error) {
	s := quant.Spec{DType: quant.Int8, Scheme: quant.Affine, Granularity: quant.PerTensor}
	if dtype == "uint8" {
		s.DType = quant.UInt8
	}
	if scheme == "symmetric" {
		s.Scheme = quant.Symmetric
	}
	if granularity == "per-channel" {
		s.Granularity = quant.PerChannel
	}
	if lo == "" {
		return s, s.Validate()
	}
	qmin, err1 := strconv.Atoi(lo)
	qmax, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("range [%s, %s] is not a pair of integers", lo, hi)
	}
	var offered []string
	for _, c := range []struct{ restricted, reduce bool }{{false, false}, {true, false}, {false, true}} {
		t := s
		t.Restricted, t.ReduceRange = c.restricted, c.reduce
		if t.Validate() != nil {
			continue
		}
		a, b := t.Bounds()
		if int(a) == qmin && int(b) == qmax {
			return t, nil
		}
		offered = append(offered, fmt.Sprintf("[%d, %d]", a, b))
	}
	return s, fmt.Errorf("%s %s offers the ranges %s, not [%d, %d]", dtype, scheme, strings.Join(offered, ", "), qmin, qmax)
}

func weightsConfiguredAs(ctx context.Context, dtype, scheme, granularity, lo, hi string) error {
	spec, err := parseSpec(dtype, scheme, granularity, lo, hi)
	if err != nil {
		return err
	}
	ptqOf(ctx).cfg.Weights = &spec
	return nil
}

func activationsConfiguredAs(ctx context.Context, dtype, scheme, granularity, lo, hi string) error {
	spec, err := parseSpec(dtype, scheme, granularity, lo, hi)
	if err != nil {
		// A spec the quant package refuses is left for the quantizer to
		// refuse, which is what a scenario about refusals checks.
		if !errors.Is(err, quant.ErrInvalidSpec) {
			return err
		}
	}
	ptqOf(ctx).cfg.Activations = &spec
	return nil
}

func configuredWith(ctx context.Context, wd, ws, wg, wlo, whi, ad, as, ag, alo, ahi string) error {
	if err := weightsConfiguredAs(ctx, wd, ws, wg, wlo, whi); err != nil {
		return err
	}
	return activationsConfiguredAs(ctx, ad, as, ag, alo, ahi)
}

func quantizedWithTwoActivationTypes(ctx context.Context, first, second string) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	run := func(dtype string) (*ptq.Model, *ptq.Report, error) {
		cfg := s.quantizeConfig()
		spec, err := parseSpec(dtype, "affine", "per-tensor", "", "")
		if err != nil {
			return nil, nil, err
		}
		cfg.Activations = &spec
		m, rep, err := ptq.Quantize(ctx, s.model, s.calib, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("quantizing with %s activations: %w", dtype, err)
		}
		return m, rep, nil
	}
	var err error
	if s.quantized, s.report, err = run(first); err != nil {
		return err
	}
	s.second, s.secondReport, err = run(second)
	return err
}

// everyLayerReportsWeights checks the report's weight type, scheme and
// granularity of every layer with int8 weights and, if a range is given,
// that the layer's weight codes are bounded by it.
func everyLayerReportsWeights(ctx context.Context, dtype, scheme, granularity, lo, hi string) error {
	spec, err := parseSpec(dtype, scheme, granularity, lo, hi)
	if err != nil {
		return err
	}
	want := dtype + " " + scheme + " " + granularity
	return eachInt8WeightLayer(ctx, func(_ *ptqState, l ptq.LayerReport, w *quant.QTensor) error {
		if got := l.Weights.DType + " " + l.Weights.Scheme + " " + l.Weights.Granularity; got != want {
			return fmt.Errorf("layer %q reports %s weights, want %s", l.Name, got, want)
		}
		a, b := w.Params().Bounds()
		if qa, qb := spec.Bounds(); a != qa || b != qb {
			return fmt.Errorf("layer %q holds weights over [%d, %d], want [%d, %d]", l.Name, a, b, qa, qb)
		}
		return nil
	})
}

func everyOutputIs(ctx context.Context, dtype string) error {
	return eachInt8Output(ctx, func(l ptq.LayerReport) error {
		if l.Output.DType != dtype {
			return fmt.Errorf("layer %q reports a %s output, want %s", l.Name, l.Output.DType, dtype)
		}
		return nil
	})
}

func refusedAsInvalidConfig(ctx context.Context) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	if !errors.Is(err, ptq.ErrInvalidConfig) && !errors.Is(err, quant.ErrInvalidSpec) {
		return fmt.Errorf("refused with %q, which is not an invalid configuration", err)
	}
	return nil
}

// aConv builds the Conv2D weights [out, in, 3, 3] drawn from configSeed.
func aConv(in, out int) *tensor.Tensor {
	return nn.NewConv2D(in, out, 3, 1, 1, rand.New(rand.NewPCG(seeded(configSeed), 0))).Weight.Value
}

func aConvWithUnevenChannels(ctx context.Context, in, out int, lo, hi float64) error {
	if out < 2 || !(lo > 0) || !(hi > lo) {
		return fmt.Errorf("want at least 2 output channels and 0 < %g < %g", lo, hi)
	}
	w := aConv(in, out)
	per := w.Len() / out
	for c := range out {
		// Channel c's largest magnitude runs geometrically from lo to hi.
		target := lo * math.Pow(hi/lo, float64(c)/float64(out-1))
		ch := w.Data()[c*per : (c+1)*per]
		m := 0.0
		for _, v := range ch {
			m = math.Max(m, math.Abs(float64(v)))
		}
		for i := range ch {
			ch[i] = float32(float64(ch[i]) * target / m)
		}
	}
	configOf(ctx).x = w
	return nil
}

func aConvWithEvenChannels(ctx context.Context, in, out int) error {
	configOf(ctx).x = aConv(in, out)
	return nil
}

// quantizeWith quantizes the scenario's tensor with an observer of method
// and spec, fed in the scenario's batches, and records the result under
// label.
func (cs *configState) quantizeWith(label, method string, spec quant.Spec) (*configResult, error) {
	if cs.x == nil {
		return nil, errors.New("the scenario has no tensor: a Given step must make one")
	}
	m, err := quant.ParseMethod(method)
	if err != nil {
		return nil, err
	}
	obs, err := quant.NewObserver(m, spec)
	if err != nil {
		return nil, err
	}
	batch := cs.batch
	if batch == 0 || spec.Granularity == quant.PerChannel {
		batch = cs.x.Dim(0)
	}
	for i := 0; i < cs.x.Dim(0); i += batch {
		b, err := cs.x.Slice(i, min(i+batch, cs.x.Dim(0)))
		if err != nil {
			return nil, err
		}
		if err := obs.Observe(b); err != nil {
			return nil, fmt.Errorf("%s: batch %d: %w", label, i/batch, err)
		}
	}
	qp, err := obs.QParams()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	q, err := quant.Quantize(cs.x, qp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	r := &configResult{spec: spec, qp: qp, q: q, deq: q.Dequantize()}
	r.sqnr = quant.SQNR(cs.x.Data(), r.deq.Data())
	cs.results[label], cs.last = r, label
	return r, nil
}

func (cs *configState) lastResult() (*configResult, error) {
	r, ok := cs.results[cs.last]
	if !ok {
		return nil, errors.New("nothing has been quantized in this scenario")
	}
	return r, nil
}

func weightSpec(granularity string) quant.Spec {
	s := quant.WeightDefault
	if granularity == "per-tensor" {
		s.Granularity = quant.PerTensor
	}
	return s
}

func itsWeightsAreQuantized(ctx context.Context, granularity string) error {
	_, err := configOf(ctx).quantizeWith(granularity, quant.MethodMinMax.String(), weightSpec(granularity))
	return err
}

func itsWeightsAreQuantizedBoth(ctx context.Context) error {
	for _, g := range []string{"per-tensor", "per-channel"} {
		if err := itsWeightsAreQuantized(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

func channelsQuantizedToZero(ctx context.Context, zeroed, out int) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	if cs.x.Dim(0) != out {
		return fmt.Errorf("the layer has %d output channels, not %d", cs.x.Dim(0), out)
	}
	per := cs.x.Len() / out
	var zero []string
	for c := range out {
		if !slices.ContainsFunc(r.deq.Data()[c*per:(c+1)*per], func(v float32) bool { return v != 0 }) {
			zero = append(zero, strconv.Itoa(c))
		}
	}
	if len(zero) != zeroed {
		return fmt.Errorf("%d output channels are quantized to all zeros (%s), want %d", len(zero), strings.Join(zero, ", "), zeroed)
	}
	return nil
}

func activationsAfterReLU(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	x := datasets.Gaussian(1, []int{n}, 0, 1, seeded(configSeed)).X
	for i, v := range x.Data() {
		x.Data()[i] = max(v, 0)
	}
	configOf(ctx).x = x
	return nil
}

func normalActivations(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	configOf(ctx).x = datasets.Gaussian(1, []int{n}, 0, 1, seeded(configSeed)).X
	return nil
}

func quantizedPerTensor(ctx context.Context, scheme string) error {
	spec, err := parseSpec("int8", scheme, "per-tensor", "", "")
	if err != nil {
		return err
	}
	_, err = configOf(ctx).quantizeWith(scheme, quant.MethodMinMax.String(), spec)
	return err
}

func quantizedBothSchemes(ctx context.Context) error {
	for _, s := range []string{"symmetric", "affine"} {
		if err := quantizedPerTensor(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func quantizedBothDTypes(ctx context.Context) error {
	for _, d := range []string{"int8", "uint8"} {
		spec, err := parseSpec(d, "affine", "per-tensor", "", "")
		if err != nil {
			return err
		}
		if _, err := configOf(ctx).quantizeWith(d, quant.MethodMinMax.String(), spec); err != nil {
			return err
		}
	}
	return nil
}

func sameDequantizedValues(ctx context.Context) error {
	cs := configOf(ctx)
	a, b := cs.results["int8"], cs.results["uint8"]
	if a == nil || b == nil {
		return errors.New("the tensor was not quantized to both int8 and uint8")
	}
	for i := range a.q.Len() {
		if a.q.At(i)+128 != b.q.At(i) {
			return fmt.Errorf("element %d: int8 code %d, uint8 code %d", i, a.q.At(i), b.q.At(i))
		}
		if math.Float32bits(a.deq.Data()[i]) != math.Float32bits(b.deq.Data()[i]) {
			return fmt.Errorf("element %d dequantizes to %g from int8 and %g from uint8", i, a.deq.Data()[i], b.deq.Data()[i])
		}
	}
	return nil
}

func theSQNRIsAtLeast(ctx context.Context, minDB float64) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	return check(ctx, criterion{measured: cs.last + " SQNR", unit: "dB", direction: atLeast, threshold: minDB, value: r.sqnr}, func() error {
		return fmt.Errorf("%s quantization has an SQNR of %.2f dB, want at least %g dB", cs.last, r.sqnr, minDB)
	})
}

func quantizationBeats(ctx context.Context, winner, loser string, margin float64) error {
	cs := configOf(ctx)
	w, l := cs.results[winner], cs.results[loser]
	if w == nil || l == nil {
		return fmt.Errorf("the scenario did not quantize both %s and %s", winner, loser)
	}
	d := w.sqnr - l.sqnr
	return check(ctx, criterion{measured: "SQNR gain of " + winner + " over " + loser, unit: "dB", direction: atLeast, threshold: margin, value: d}, func() error {
		return fmt.Errorf("%s has an SQNR of %.2f dB and %s %.2f dB: a margin of %.2f dB, want at least %g dB",
			winner, w.sqnr, loser, l.sqnr, d, margin)
	})
}

func schemesWithin(ctx context.Context, margin float64) error {
	cs := configOf(ctx)
	a, b := cs.results["symmetric"], cs.results["affine"]
	if a == nil || b == nil {
		return errors.New("the scenario did not quantize with both schemes")
	}
	d := math.Abs(a.sqnr - b.sqnr)
	return check(ctx, criterion{measured: "SQNR difference of symmetric and affine", unit: "dB", direction: within, threshold: margin, value: d}, func() error {
		return fmt.Errorf("symmetric %.2f dB and affine %.2f dB differ by %.2f dB, want at most %g dB", a.sqnr, b.sqnr, d, margin)
	})
}

func samplesWithOutliers(ctx context.Context, n int, count string, pct float64, factor, batch int) error {
	k, err := parseCount(count)
	if err != nil {
		return err
	}
	d := datasets.Gaussian(n, []int{k}, 0, 1, seeded(configSeed))
	if err := d.Validate(); err != nil {
		return err
	}
	placeOutliers(d.X.Data(), pct/100, float64(factor), seeded(configSeed+1))
	cs := configOf(ctx)
	cs.x, cs.batch = d.X, batch
	return nil
}

// placeOutliers sets a fraction of data, at positions drawn from seed, to
// factor standard deviations (the data is standard normal) on the side of
// the value it replaces. The outliers have a fixed size, so that "outliers
// 50 times larger" means the same for every seed: scaling the values in
// place (datasets.WithOutliers) leaves an outlier as small as the normal
// value it scales, and on some seeds every outlier is.
func placeOutliers(data []float32, fraction, factor float64, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	k := int(math.Round(fraction * float64(len(data))))
	for _, i := range r.Perm(len(data))[:k] {
		data[i] = float32(math.Copysign(factor, float64(data[i])))
	}
}

func evenlySpacedValues(ctx context.Context, n int, lo, hi float64) error {
	if n < 2 {
		return fmt.Errorf("want at least 2 values, got %d", n)
	}
	cs := configOf(ctx)
	cs.x = linspace(n, lo, hi)
	return nil
}

func linspace(n int, lo, hi float64) *tensor.Tensor {
	x := tensor.New(n)
	for i := range n {
		x.Data()[i] = float32(lo + (hi-lo)*float64(i)/float64(n-1))
	}
	return x
}

func rangeCalibratedWith(ctx context.Context, method, dtype, scheme, lo, hi string) error {
	spec, err := parseSpec(dtype, scheme, "per-tensor", lo, hi)
	if err != nil {
		return err
	}
	cs := configOf(ctx)
	if method != quant.MethodMinMax.String() {
		// The baseline the other methods are compared with.
		if _, err := cs.quantizeWith(quant.MethodMinMax.String(), quant.MethodMinMax.String(), spec); err != nil {
			return err
		}
	}
	_, err = cs.quantizeWith(method, method, spec)
	return err
}

// bulkOf returns the SQNR of result r over the elements of the scenario's
// tensor within k standard deviations (the data is standard normal).
func (cs *configState) bulkOf(r *configResult, k float64) float64 {
	var ref, got []float32
	for i, v := range cs.x.Data() {
		if math.Abs(float64(v)) <= k {
			ref, got = append(ref, v), append(got, r.deq.Data()[i])
		}
	}
	return quant.SQNR(ref, got)
}

// bulkSigmas is the bulk of the data that the last bulkSQNR step spoke of.
type bulkSigmas struct{ k float64 }

func bulkSQNR(ctx context.Context, k int, cmp string, db float64) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	domainState[bulkSigmas](ctx).k = float64(k)
	v := cs.bulkOf(r, float64(k))
	c := criterion{measured: fmt.Sprintf("%s SQNR within %d standard deviations", cs.last, k), unit: "dB", direction: cmp, threshold: db, value: v}
	return check(ctx, c, func() error {
		return fmt.Errorf("%s: the SQNR on the values within %d standard deviations is %.2f dB, want %s %g dB", cs.last, k, v, cmp, db)
	})
}

// beatsMinMaxWithin compares the last method with MinMax on the values
// within k standard deviations.
func beatsMinMaxWithin(ctx context.Context, k int, margin float64) error {
	domainState[bulkSigmas](ctx).k = float64(k)
	return beatsMinMaxOnBulk(ctx, margin)
}

func beatsMinMaxOnBulk(ctx context.Context, margin float64) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	base := cs.results[quant.MethodMinMax.String()]
	k := domainState[bulkSigmas](ctx).k
	if base == nil || k == 0 {
		return errors.New("say first which values are compared (the SQNR on the values within N standard deviations)")
	}
	a, b := cs.bulkOf(r, k), cs.bulkOf(base, k)
	c := criterion{measured: fmt.Sprintf("SQNR gain of %s over MinMax within %g standard deviations", cs.last, k), unit: "dB", direction: atLeast, threshold: margin, value: a - b}
	return check(ctx, c, func() error {
		return fmt.Errorf("%s gives %.2f dB and MinMax %.2f dB on the values within %g standard deviations: %.2f dB better, want at least %g dB",
			cs.last, a, b, k, a-b, margin)
	})
}

func allValuesSQNR(ctx context.Context, db float64) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	return check(ctx, criterion{measured: cs.last + " SQNR over all values", unit: "dB", direction: atLeast, threshold: db, value: r.sqnr}, func() error {
		return fmt.Errorf("%s: the SQNR over all values is %.2f dB, want at least %g dB", cs.last, r.sqnr, db)
	})
}

func rangeReachesLargest(ctx context.Context) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	lo, hi := r.qp.Bounds()
	s, z := float64(r.qp.Scale[0]), float64(r.qp.ZeroPoint[0])
	rmin, rmax := (float64(lo)-z)*s, (float64(hi)-z)*s
	var big float64
	for _, v := range cs.x.Data() {
		big = math.Max(big, math.Abs(float64(v)))
	}
	// Within one quantization step of the largest value.
	if math.Max(-rmin, rmax) < big-s {
		return fmt.Errorf("the calibrated range [%g, %g] stops short of the largest absolute value %g", rmin, rmax, big)
	}
	return nil
}

func theScaleAndZeroPoint(ctx context.Context, scale float64, zp int) error {
	r, err := configOf(ctx).lastResult()
	if err != nil {
		return err
	}
	if !sameTo6Digits(float64(r.qp.Scale[0]), scale) || r.qp.ZeroPoint[0] != int32(zp) {
		return fmt.Errorf("the scale is %.7g and the zero point %d, want %g and %d", r.qp.Scale[0], r.qp.ZeroPoint[0], scale, zp)
	}
	return nil
}

func codesRunFromTo(ctx context.Context, lo, hi float64, qmin, qmax int) error {
	r, err := configOf(ctx).lastResult()
	if err != nil {
		return err
	}
	q, err := quant.Quantize(linspace(1001, lo, hi), r.qp)
	if err != nil {
		return err
	}
	a, b := q.At(0), q.At(0)
	for i := range q.Len() {
		a, b = min(a, q.At(i)), max(b, q.At(i))
	}
	if a != int32(qmin) || b != int32(qmax) {
		return fmt.Errorf("the codes run from %d to %d, want %d to %d", a, b, qmin, qmax)
	}
	return nil
}

func valueQuantizesTo(ctx context.Context, v float64, code int, back float64) error {
	r, err := configOf(ctx).lastResult()
	if err != nil {
		return err
	}
	q, err := quant.Quantize(tensor.MustFromData([]float32{float32(v)}, 1), r.qp)
	if err != nil {
		return err
	}
	got := q.Dequantize().Data()[0]
	if q.At(0) != int32(code) || !sameTo6Digits(float64(got), back) {
		return fmt.Errorf("%g quantizes to code %d and dequantizes to %.7g, want %d and %g", v, q.At(0), got, code, back)
	}
	return nil
}

func minMaxHasSeen(ctx context.Context, first, second string) error {
	cs := configOf(ctx)
	cs.observed = nil
	for _, list := range []string{first, second} {
		vs, err := parseFloats(list)
		if err != nil {
			return err
		}
		data := make([]float32, len(vs))
		for i, v := range vs {
			data[i] = float32(v)
		}
		cs.observed = append(cs.observed, tensor.MustFromData(data, len(data)))
	}
	return nil
}

func itGivesTheseQParams(ctx context.Context, table *godog.Table) error {
	cs := configOf(ctx)
	if len(cs.observed) == 0 {
		return errors.New("no observer has seen any values")
	}
	rows, err := tableRows(table, "dtype", "scheme", "scale", "zero point")
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range rows {
		lo, hi, err := parseRange(r["range"])
		if err != nil {
			return err
		}
		spec, err := parseSpec(r["dtype"], r["scheme"], "per-tensor", lo, hi)
		if err != nil {
			return err
		}
		obs, err := quant.NewMinMaxObserver(spec)
		if err != nil {
			return err
		}
		for _, b := range cs.observed {
			if err := obs.Observe(b); err != nil {
				return err
			}
		}
		qp, err := obs.QParams()
		if err != nil {
			return err
		}
		scale, err1 := strconv.ParseFloat(r["scale"], 64)
		zp, err2 := strconv.Atoi(r["zero point"])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("row %v: scale and zero point must be numbers", r)
		}
		if !sameTo6Digits(float64(qp.Scale[0]), scale) || qp.ZeroPoint[0] != int32(zp) {
			bad = append(bad, fmt.Sprintf("%s %s %s: scale %.7g zero point %d, want %s and %d", r["dtype"], r["scheme"], r["range"], qp.Scale[0], qp.ZeroPoint[0], r["scale"], zp))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// parseRange reads an optional table cell "[-127, 127]" into its bounds;
// an empty cell gives empty strings (the dtype's full range).
func parseRange(cell string) (lo, hi string, err error) {
	if cell == "" {
		return "", "", nil
	}
	a, b, ok := strings.Cut(strings.Trim(cell, "[]"), ",")
	if !ok || !strings.HasPrefix(cell, "[") || !strings.HasSuffix(cell, "]") {
		return "", "", fmt.Errorf("range %q is not written [min, max]", cell)
	}
	return strings.TrimSpace(a), strings.TrimSpace(b), nil
}

// theWeightsOfALayer makes a weight tensor [channels, n] from a table with
// one row of weights per output channel.
func theWeightsOfALayer(ctx context.Context, channels int, table *godog.Table) error {
	rows, err := tableRows(table, "channel", "weights")
	if err != nil {
		return err
	}
	if len(rows) != channels {
		return fmt.Errorf("the table has %d channels, want %d", len(rows), channels)
	}
	var data []float32
	n := -1
	for _, r := range rows {
		ws, err := float32s(r["weights"])
		if err != nil {
			return err
		}
		if n >= 0 && len(ws) != n {
			return fmt.Errorf("channel %s has %d weights, channel 0 has %d", r["channel"], len(ws), n)
		}
		n = len(ws)
		data = append(data, ws...)
	}
	configOf(ctx).x = tensor.MustFromData(data, channels, n)
	return nil
}

func theWeightsAreQuantizedAs(ctx context.Context, dtype, scheme, granularity, lo, hi string) error {
	spec, err := parseSpec(dtype, scheme, granularity, lo, hi)
	if err != nil {
		return err
	}
	_, err = configOf(ctx).quantizeWith(granularity, quant.MethodMinMax.String(), spec)
	return err
}

func eachOutputChannelGets(ctx context.Context, table *godog.Table) error {
	cs := configOf(ctx)
	r, err := cs.lastResult()
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "channel", "scale", "zero point", "codes")
	if err != nil {
		return err
	}
	if len(rows) != len(r.qp.Scale) {
		return fmt.Errorf("the weights have %d scales, the table %d channels", len(r.qp.Scale), len(rows))
	}
	per := r.q.Len() / len(rows)
	var bad []string
	for c, row := range rows {
		scale, err1 := strconv.ParseFloat(row["scale"], 64)
		zp, err2 := strconv.Atoi(row["zero point"])
		codes, err3 := ints(row["codes"])
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("channel %s: %w", row["channel"], err)
		}
		var got []int32
		for i := c * per; i < (c+1)*per; i++ {
			got = append(got, r.q.At(i))
		}
		if !sameTo6Digits(float64(r.qp.Scale[c]), scale) || r.qp.ZeroPoint[c] != int32(zp) || !slices.Equal(got, codes) {
			bad = append(bad, fmt.Sprintf("channel %d: scale %.7g, zero point %d, codes %v; want %s, %d, %v", c, r.qp.Scale[c], r.qp.ZeroPoint[c], got, row["scale"], zp, codes))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func theGrid(ctx context.Context, dtype string, scale float64, zp int) error {
	d := quant.Int8
	if dtype == "uint8" {
		d = quant.UInt8
	}
	p := quant.PerTensorParams(d, float32(scale), int32(zp))
	if err := p.Validate(); err != nil {
		return err
	}
	configOf(ctx).grid = &p
	return nil
}

func theseValuesQuantizeTo(ctx context.Context, table *godog.Table) error {
	cs := configOf(ctx)
	if cs.grid == nil {
		return errors.New("no grid: a Given step must give the scale and zero point")
	}
	rows, err := tableRows(table, "value", "code")
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range rows {
		v, err1 := strconv.ParseFloat(r["value"], 32)
		want, err2 := strconv.Atoi(r["code"])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("row %v: value and code must be numbers", r)
		}
		q, err := quant.Quantize(tensor.MustFromData([]float32{float32(v)}, 1), *cs.grid)
		if err != nil {
			return err
		}
		if q.At(0) != int32(want) {
			bad = append(bad, fmt.Sprintf("%s quantizes to %d, want %d", r["value"], q.At(0), want))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
