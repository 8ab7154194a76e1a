package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("traversal", registerTraversalSteps) }

func registerTraversalSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the model is traversed for quantization$`, theModelIsTraversed)
	sc.Step(`^the plan gives these roles:$`, thePlanGivesRoles)
	sc.Step(`^the plan has exactly these boundaries:$`, thePlanHasBoundaries)
	sc.Step(`^the printed plan has a header and then one row per node, in model order, reading:$`, thePlanPrintsRows)
	sc.Step(`^both inputs of "([^"]+)" arrive in int8$`, bothInputsArriveInt8)
	sc.Step(`^on the held-out set the output of "([^"]+)" matches the FP32 output of "([^"]+)" with an SQNR of at least (-?\d+(?:\.\d+)?) dB$`, groupOutputMatches)
	sc.Step(`^nodes (.+) carry the int8 output of "([^"]+)" unchanged$`, nodesCarryOutput)
	sc.Step(`^on the calibration set the int8 output of "([^"]+)" is within (\d+(?:\.\d+)?) output steps of the sum of its inputs, clamped to its output range, at every element$`, addWithinSteps)
	sc.Step(`^every row of the quantized model's output on the held-out set sums to 1 within (\d+(?:\.\d+)?(?:e-?\d+)?)$`, rowsSumToOne)
	sc.Step(`^the quantized model's output on the held-out set is within (\d+(?:\.\d+)?) of FP32 at every element$`, outputWithinAbs)
	sc.Step(`^on the held-out set every probability moves by at most (-?\d+(?:\.\d+)?) times the largest error of its row's int8 logits$`, probabilitiesWithinLogitError)
	sc.Step(`^the quantized model keeps the FP32 model's node names, order, inputs and output shapes$`, structurePreserved)
}

func theModelIsTraversed(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	p, err := ptq.Traverse(s.model, &s.cfg)
	stateFrom(ctx).setErr(err)
	s.plan = p
	return nil
}

// currentPlan returns the plan of the last traversal, or that of the
// quantized model.
func currentPlan(ctx context.Context) (*ptq.Plan, error) {
	s := ptqOf(ctx)
	if err := stateFrom(ctx).lastErr(); err != nil {
		return nil, fmt.Errorf("the model was refused: %w", err)
	}
	switch {
	case s.plan != nil:
		return s.plan, nil
	case s.quantized != nil:
		return s.quantized.Plan(), nil
	case s.prepared != nil:
		return s.prepared.Plan, nil
	}
	return nil, errors.New("the model was not traversed: a When step must traverse or quantize it")
}

func thePlanGivesRoles(ctx context.Context, table *godog.Table) error {
	p, err := currentPlan(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "node", "role", "reason")
	if err != nil {
		return err
	}
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	var listed []string
	for _, r := range rows {
		listed = append(listed, r["node"])
	}
	if !slices.Equal(names, listed) {
		return fmt.Errorf("the plan's nodes are %q, the table lists %q: list every node, in order", names, listed)
	}
	var bad []string
	for _, r := range rows {
		n, _ := p.Node(r["node"])
		if n.Role.String() != r["role"] {
			bad = append(bad, fmt.Sprintf("%s is %s (%s), want %s", n.Name, n.Role, n.Reason, r["role"]))
		} else if !strings.Contains(n.Reason, r["reason"]) {
			bad = append(bad, fmt.Sprintf("%s: reason %q does not say %q", n.Name, n.Reason, r["reason"]))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func thePlanHasBoundaries(ctx context.Context, table *godog.Table) error {
	p, err := currentPlan(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "from", "to", "step")
	if err != nil {
		return err
	}
	var got, want []string
	for _, b := range p.Boundaries() {
		got = append(got, fmt.Sprintf("%s %s->%s", b.Op, b.From, b.To))
	}
	for _, r := range rows {
		want = append(want, fmt.Sprintf("%s %s->%s", r["step"], r["from"], r["to"]))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("the plan's boundaries are %q, want %q", got, want)
	}
	return nil
}

// thePlanPrintsRows checks what the printed plan says about every node:
// after one header line, one line per node, in the table's order, whose
// first words are the node's name, kind, role and output type, followed
// by its inputs as the table writes them ("input (quantize)", "fc
// (dequantize)") and ending with the node's reason. Column widths and the
// header's words are the plan renderer's business (pkg/ptq's
// TestPlanText); this checks that a reader finds each fact on its node's
// line.
func thePlanPrintsRows(ctx context.Context, table *godog.Table) error {
	p, err := currentPlan(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "node", "kind", "role", "output", "inputs")
	if err != nil {
		return err
	}
	text := p.String()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) != 1+len(rows) {
		return fmt.Errorf("the plan prints %d lines, want a header and %d rows:\n%s", len(lines), len(rows), text)
	}
	if len(p.Nodes) != len(rows) {
		return fmt.Errorf("the plan has %d nodes, the table lists %d", len(p.Nodes), len(rows))
	}
	var bad []string
	for i, r := range rows {
		line := strings.Join(strings.Fields(lines[i+1]), " ")
		lead := strings.Join([]string{r["node"], r["kind"], r["role"], r["output"]}, " ") + " "
		rest, ok := strings.CutPrefix(line, lead)
		reason := strings.Join(strings.Fields(p.Nodes[i].Reason), " ")
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("row %d reads %q, want it to start %q", i+1, line, lead))
		case p.Nodes[i].Name != r["node"]:
			bad = append(bad, fmt.Sprintf("row %d names %s, the plan's node %d is %s", i+1, r["node"], i+1, p.Nodes[i].Name))
		case rest != r["inputs"]+" "+reason:
			bad = append(bad, fmt.Sprintf("row %d (%s) gives the inputs and reason as %q, want the inputs %q and the reason %q", i+1, r["node"], rest, r["inputs"], reason))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s\nwhole plan:\n%s", strings.Join(bad, "\n"), text)
	}
	return nil
}

func bothInputsArriveInt8(ctx context.Context, name string) error {
	p, err := currentPlan(ctx)
	if err != nil {
		return err
	}
	n, ok := p.Node(name)
	if !ok {
		return fmt.Errorf("the plan has no node %q", name)
	}
	if len(n.Inputs) != 2 {
		return fmt.Errorf("node %q reads %d inputs, want 2", name, len(n.Inputs))
	}
	if len(n.QuantizeInputs) > 0 {
		return fmt.Errorf("node %q quantizes FP32 inputs %q on entry", name, n.QuantizeInputs)
	}
	for _, in := range n.Inputs {
		if pn, ok := p.Node(in); !ok || !pn.Int8Out {
			return fmt.Errorf("input %q of %q is not int8", in, name)
		}
	}
	return nil
}

// fp32Outputs runs the FP32 model and returns every node's output.
func fp32Outputs(g *nn.Graph, x *tensor.Tensor) (map[string]*tensor.Tensor, error) {
	outs := map[string]*tensor.Tensor{}
	_, err := g.Run(x, nn.Eval, func(n *nn.Node, out *tensor.Tensor) error {
		outs[n.Name] = out
		return nil
	})
	return outs, err
}

func groupOutputMatches(ctx context.Context, qnode, fnode string, minDB float64) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	got, err := s.quantized.Outputs(s.heldOut)
	if err != nil {
		return err
	}
	want, err := fp32Outputs(s.model, s.heldOut)
	if err != nil {
		return err
	}
	q, ok1 := got[qnode]
	f, ok2 := want[fnode]
	if !ok1 || !ok2 {
		return fmt.Errorf("no node %q in the quantized model or %q in the FP32 model", qnode, fnode)
	}
	v := quant.SQNR(f.Data(), q.Data())
	c := criterion{measured: fmt.Sprintf("SQNR of %q against FP32 %q on the held-out set", qnode, fnode), unit: "dB", direction: atLeast, threshold: minDB, value: v}
	return check(ctx, c, func() error {
		return fmt.Errorf("the output of %q has an SQNR of %.2f dB against FP32 %q, want at least %g dB", qnode, v, fnode, minDB)
	})
}

func nodesCarryOutput(ctx context.Context, list, head string) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	tr, err := s.quantized.Trace(s.heldOut)
	if err != nil {
		return err
	}
	outs, err := s.quantized.Outputs(s.heldOut)
	if err != nil {
		return err
	}
	byNode := map[string]ptq.TraceEntry{}
	for _, e := range tr {
		byNode[e.Node] = e
	}
	h := byNode[head]
	for _, name := range parseNames(list) {
		e, ok := byNode[name]
		if !ok {
			return fmt.Errorf("the quantized model has no node %q", name)
		}
		if e.DType != "int8" || e.Scale != h.Scale || e.ZeroPoint != h.ZeroPoint {
			return fmt.Errorf("node %q outputs %s with %g/%d, %q outputs %s with %g/%d", name, e.DType, e.Scale, e.ZeroPoint, head, h.DType, h.Scale, h.ZeroPoint)
		}
		if !sameBits(outs[name].Data(), outs[head].Data()) {
			return fmt.Errorf("node %q does not carry the output of %q unchanged", name, head)
		}
	}
	return nil
}

func addWithinSteps(ctx context.Context, name string, steps float64) error {
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	if s.calibX == nil {
		return errors.New("the scenario has no calibration set")
	}
	n, ok := s.quantized.Plan().Node(name)
	if !ok {
		return fmt.Errorf("the quantized model has no node %q", name)
	}
	var out *ptq.ActivationReport
	for _, l := range s.quantized.Layers() {
		if l.Name == name {
			out = l.Output
		}
	}
	if out == nil {
		return fmt.Errorf("node %q has no int8 output", name)
	}
	outs, err := s.quantized.Outputs(s.calibX)
	if err != nil {
		return err
	}
	// The output grid's ends: a sum beyond them saturates, which is the
	// int8 range's limit, not an arithmetic error.
	lo, hi := float64(out.Min), float64(out.Max)
	y := outs[name].Data()
	worst, at, atSum := 0.0, 0, 0.0
	for i := range y {
		sum := 0.0
		for _, in := range n.Inputs {
			sum += float64(outs[in].Data()[i])
		}
		if d := math.Abs(float64(y[i]) - min(max(sum, lo), hi)); d > worst {
			worst, at, atSum = d, i, sum
		}
	}
	// Steps of the output grid, with room for float32 rounding.
	step := float64(out.Scale)
	c := criterion{measured: fmt.Sprintf("largest error of %q against the clamped sum of its inputs on the calibration set", name), unit: "output steps", direction: within, threshold: steps, value: worst / step, slack: 1e-5}
	return check(ctx, c, func() error {
		return fmt.Errorf("the output of %q differs from the sum of its inputs (%g, output range [%g, %g]) by %g (%.3f output steps of %g) at element %d, want within %g steps",
			name, atSum, lo, hi, worst, worst/step, step, at, steps)
	})
}

// quantizedHeldOut returns the quantized model's output on the held-out
// set and that of the FP32 model.
func quantizedHeldOut(ctx context.Context) (got, want *tensor.Tensor, err error) {
	want, got, err = heldOutOutputs(ctx)
	return got, want, err
}

func rowsSumToOne(ctx context.Context, tol float64) error {
	got, _, err := quantizedHeldOut(ctx)
	if err != nil {
		return err
	}
	row := got.RowLen()
	worst, worstRow, worstSum := -1.0, 0, 0.0
	for i := range got.Dim(0) {
		sum := 0.0
		for _, v := range got.Data()[i*row : (i+1)*row] {
			sum += float64(v)
		}
		if d := math.Abs(sum - 1); !(d <= worst) {
			worst, worstRow, worstSum = d, i, sum
		}
	}
	if worst < 0 {
		return nil
	}
	c := criterion{measured: "largest distance of a row sum from 1 on the held-out set", direction: within, threshold: tol, value: worst}
	return check(ctx, c, func() error {
		return fmt.Errorf("row %d sums to %.9g, want 1 within %g", worstRow, worstSum, tol)
	})
}

func outputWithinAbs(ctx context.Context, tol float64) error {
	got, want, err := quantizedHeldOut(ctx)
	if err != nil {
		return err
	}
	d := quant.MaxAbsError(want.Data(), got.Data())
	return check(ctx, criterion{measured: "largest output error against FP32 on the held-out set", direction: within, threshold: tol, value: d}, func() error {
		return fmt.Errorf("the quantized output differs from FP32 by up to %g, want at most %g", d, tol)
	})
}

func structurePreserved(ctx context.Context) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	want, err := fp32Outputs(s.model, s.heldOut)
	if err != nil {
		return err
	}
	tr, err := s.quantized.Trace(s.heldOut)
	if err != nil {
		return err
	}
	nodes := s.model.Nodes()
	if len(tr) != len(nodes) {
		return fmt.Errorf("the quantized model has %d nodes, the FP32 model %d", len(tr), len(nodes))
	}
	for i, n := range nodes {
		e := tr[i]
		if e.Node != n.Name || e.Kind != n.Layer.Kind() {
			return fmt.Errorf("node %d is %q (%s), the FP32 model's is %q (%s)", i, e.Node, e.Kind, n.Name, n.Layer.Kind())
		}
		if ws := want[n.Name].Shape(); !slices.Equal(e.Shape, ws) {
			return fmt.Errorf("node %q outputs shape %v, FP32 %v", n.Name, e.Shape, ws)
		}
		pn, _ := s.quantized.Plan().Node(n.Name)
		if !slices.Equal(pn.Inputs, n.Inputs) {
			return fmt.Errorf("node %q reads %q, in FP32 %q", n.Name, pn.Inputs, n.Inputs)
		}
	}
	return nil
}

// probabilitiesWithinLogitError checks the final Softmax against the
// error of the logits it reads: over every held-out row, the largest move
// of a probability from FP32, divided by the largest error of that row's
// quantized logits, must be at most ratio. The Softmax's slopes with
// respect to the logits sum to at most one half for each probability, so
// a Softmax run in FP32 on the dequantized logits keeps the ratio at or
// below 0.5 for any model and data; one run on int8 codes does not.
func probabilitiesWithinLogitError(ctx context.Context, ratio float64) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	var soft *nn.Node
	for _, n := range s.model.Nodes() {
		if n.Layer.Kind() == "Softmax" {
			soft = n
		}
	}
	if soft == nil || len(soft.Inputs) != 1 {
		return fmt.Errorf("the model has no Softmax node with one input")
	}
	want, err := fp32Outputs(s.model, s.heldOut)
	if err != nil {
		return err
	}
	got, err := s.quantized.Outputs(s.heldOut)
	if err != nil {
		return err
	}
	zf, zq := want[soft.Inputs[0]], got[soft.Inputs[0]]
	pf, pq := want[soft.Name], got[soft.Name]
	if zf == nil || zq == nil || pf == nil || pq == nil {
		return fmt.Errorf("no outputs of %q and its input %q in both models", soft.Name, soft.Inputs[0])
	}
	if !slices.Equal(zf.Shape(), zq.Shape()) || !slices.Equal(pf.Shape(), pq.Shape()) || zf.Len() != pf.Len() {
		return fmt.Errorf("shapes differ: logits %v and %v, probabilities %v and %v", zf.Shape(), zq.Shape(), pf.Shape(), pq.Shape())
	}
	rows, width := pf.Dim(0), pf.RowLen()
	if rows == 0 || width == 0 {
		return fmt.Errorf("the held-out set gave no probabilities")
	}
	// Float32 rounding of the Softmax itself, allowed on top of the bound.
	const rounding = 1e-6
	worst, worstRow, worstMove, worstErr := 0.0, 0, 0.0, 0.0
	for r := range rows {
		at := r * width
		e := quant.MaxAbsError(zf.Data()[at:at+width], zq.Data()[at:at+width])
		move := quant.MaxAbsError(pf.Data()[at:at+width], pq.Data()[at:at+width])
		if move <= rounding {
			continue
		}
		q := math.Inf(1)
		if e > 0 {
			q = (move - rounding) / e
		}
		if q > worst {
			worst, worstRow, worstMove, worstErr = q, r, move, e
		}
	}
	return check(ctx, criterion{measured: "largest probability move over its row's largest logit error, held-out set", direction: within, threshold: ratio, value: worst}, func() error {
		return fmt.Errorf("row %d: a probability moves by %g while the row's logits err by at most %g (%.3g times), want at most %g times", worstRow, worstMove, worstErr, worst, ratio)
	})
}
