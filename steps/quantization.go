package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("quantization", registerQuantizationSteps) }

// ptqState is the static quantization part of a scenario, shared by the
// domains ptqmodels (building models), calibration (data and calibration),
// quantization (the actions and their int8 results), traversal (plans) and
// reports (the quantizer's report).
type ptqState struct {
	// model is the FP32 model under test; before is a copy of its
	// parameters and buffers taken just before it was quantized.
	model  *nn.Graph
	before [][]float32
	// beforeOut is the FP32 model's output on the held-out set just
	// before it was quantized, if there is a held-out set.
	beforeOut *tensor.Tensor
	// cfg is the configuration of the next action; cfgSet says it was
	// initialised to the defaults.
	cfg    ptq.Config
	cfgSet bool
	// dynamicConv2D asks dynamic quantization to quantize Conv2D layers.
	dynamicConv2D bool
	// calib is the calibration source; calibX holds all its samples (nil
	// when it has none) and calibBatch its batch size.
	calib      ptq.Batches
	calibX     *tensor.Tensor
	calibBatch int
	// heldOut holds samples calibration never saw.
	heldOut *tensor.Tensor

	plan     *ptq.Plan
	prepared *ptq.Prepared
	// quantized and report are the result of the last action; second and
	// secondReport that of a repeated run.
	quantized, second    *ptq.Model
	report, secondReport *ptq.Report
}

// ptqOf returns the scenario's ptq state, its configuration initialised to
// the defaults.
func ptqOf(ctx context.Context) *ptqState {
	s := domainState[ptqState](ctx)
	if !s.cfgSet {
		s.cfg, s.cfgSet = ptq.Config{}, true
	}
	return s
}

func (s *ptqState) needModel() error {
	if s.model == nil {
		return errors.New("the scenario has no model: a Given step must build one")
	}
	return nil
}

func (s *ptqState) needQuantized() error {
	if s.quantized == nil {
		return errors.New("the scenario has no quantized model: a When step must quantize the model (or it was refused)")
	}
	return nil
}

func (s *ptqState) needHeldOut() error {
	if s.heldOut == nil {
		return errors.New("the scenario has no held-out set: a Given step must draw one")
	}
	return nil
}

func registerQuantizationSteps(sc *godog.ScenarioContext) {
	// Configuration.
	sc.Step(`^an override keeps the layers selected by (name|pattern|kind) "([^"]+)" in FP32$`, anOverrideKeepsFP32)

	// Actions.
	sc.Step(`^the model is calibrated$`, theModelIsCalibrated)
	sc.Step(`^the model is calibrated and converted to int8$`, theModelIsCalibratedAndConverted)
	sc.Step(`^the model is converted to int8 before any calibration batch$`, convertedBeforeCalibration)
	sc.Step(`^the model is quantized statically$`, theModelIsQuantizedStatically)
	sc.Step(`^the model is quantized statically twice$`, theModelIsQuantizedStaticallyTwice)
	sc.Step(`^the model is quantized statically without its held-out set$`, quantizedWithoutHeldOut)

	// int8 results and accuracy.
	sc.Step(`^the layers (.+) hold int8 weights$`, theLayersHoldInt8Weights)
	sc.Step(`^running the held-out set through the quantized model gives these output types:$`, heldOutOutputTypes)
	sc.Step(`^on the held-out set the quantized output has an SQNR of at least (-?\d+(?:\.\d+)?) dB against FP32$`, heldOutSQNRAtLeast)
	sc.Step(`^on the held-out samples inside the calibrated input range the quantized output is within (\d+(?:\.\d+)?) output steps? of FP32$`, inRangeWithinSteps)
	sc.Step(`^on the held-out set the quantized output has a cosine similarity of at least (\d+(?:\.\d+)?) to FP32$`, heldOutCosineAtLeast)
	sc.Step(`^on the held-out set the quantized model's outputs are bit-identical to FP32$`, heldOutBitIdentical)
	sc.Step(`^the quantized model's parameters take at most (\d+)% of the FP32 model's bytes$`, int8BytesAtMost)
	sc.Step(`^both runs give bit-identical int8 weights for every quantized layer$`, bothRunsSameWeights)
	sc.Step(`^both runs give bit-identical activation scales and zero points$`, bothRunsSameActivations)
	sc.Step(`^both runs give bit-identical outputs on the held-out set$`, bothRunsSameOutputs)

	// Refusals.
	sc.Step(`^it is refused because (there is no calibration data|the data holds NaN or infinity|the data does not fit the model|an override matches no layer|the model is not calibrated)$`, refusedBecause)
	sc.Step(`^the error message names ("[^"]*"(?:(?:, | and )"[^"]*")*)$`, theErrorMessageNames)
	sc.Step(`^the error message names the data shape (\d+(?:x\d+)*) and the model input shape (\d+(?:x\d+)*)$`, theErrorNamesShapes)
	sc.Step(`^no quantized model is returned$`, noQuantizedModel)
}

func anOverrideKeepsFP32(ctx context.Context, selector, value string) error {
	s := ptqOf(ctx)
	o := ptq.Override{KeepFP32: true}
	switch selector {
	case "name":
		o.Name = value
	case "pattern":
		o.Glob = value
	case "kind":
		o.Kind = value
	}
	s.cfg.Overrides = append(s.cfg.Overrides, o)
	return nil
}

// calibrate prepares the model and runs the calibration source through it,
// recording the outcome; it reports whether it succeeded.
func (s *ptqState) calibrate(ctx context.Context) bool {
	st := stateFrom(ctx)
	s.prepared, s.quantized = nil, nil
	pr, err := ptq.Prepare(s.model, &s.cfg)
	if err == nil {
		s.prepared = pr
		err = pr.Run(ctx, s.calib)
	}
	st.setErr(err)
	return err == nil
}

func theModelIsCalibrated(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	s.calibrate(ctx)
	return nil
}

func theModelIsCalibratedAndConverted(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	if !s.calibrate(ctx) {
		return nil
	}
	m, err := s.prepared.Convert()
	stateFrom(ctx).setErr(err)
	s.quantized = m
	return nil
}

func convertedBeforeCalibration(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	pr, err := ptq.Prepare(s.model, &s.cfg)
	if err != nil {
		return fmt.Errorf("preparing the model: %w", err)
	}
	s.prepared = pr
	s.quantized, err = pr.Convert()
	stateFrom(ctx).setErr(err)
	return nil
}

// snapshotParams copies every parameter and buffer of g, in order.
func snapshotParams(g *nn.Graph) [][]float32 {
	var out [][]float32
	for _, p := range slices.Concat(g.Params(), g.Buffers()) {
		out = append(out, slices.Clone(p.Value.Data()))
	}
	return out
}

// recordFP32 copies the FP32 model's parameters and buffers, and its output
// on the held-out set if there is one, so that fp32Unchanged can tell
// whether quantizing it changed anything.
func (s *ptqState) recordFP32() error {
	if err := s.needModel(); err != nil {
		return err
	}
	s.before = snapshotParams(s.model)
	if s.heldOut != nil {
		out, err := s.model.Forward(s.heldOut, nn.Eval)
		if err != nil {
			return err
		}
		s.beforeOut = out
	}
	return nil
}

// quantizeConfig returns a copy of the scenario's configuration for a
// quantization: with the held-out set as the evaluation set of the
// report when the scenario has one (held-out is on wherever one is
// given), so that the report's SQNR figures are measured on data
// calibration never saw.
func (s *ptqState) quantizeConfig() *ptq.Config {
	cfg := s.cfg
	if s.heldOut != nil {
		cfg.Holdout = &ptq.Data{X: s.heldOut}
	}
	return &cfg
}

func theModelIsQuantizedStatically(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.recordFP32(); err != nil {
		return err
	}
	m, rep, err := ptq.Quantize(ctx, s.model, s.calib, s.quantizeConfig())
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, rep
	return nil
}

// quantizedWithoutHeldOut quantizes the model without handing the
// quantizer the scenario's held-out set, which the Then steps can still
// use.
func quantizedWithoutHeldOut(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.recordFP32(); err != nil {
		return err
	}
	m, rep, err := ptq.Quantize(ctx, s.model, s.calib, &s.cfg)
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, rep
	return nil
}

func theModelIsQuantizedStaticallyTwice(ctx context.Context) error {
	if err := theModelIsQuantizedStatically(ctx); err != nil {
		return err
	}
	s := ptqOf(ctx)
	if err := stateFrom(ctx).lastErr(); err != nil {
		return fmt.Errorf("the first run was refused: %w", err)
	}
	m, rep, err := ptq.Quantize(ctx, s.model, s.calib, s.quantizeConfig())
	if err != nil {
		return fmt.Errorf("the second run was refused: %w", err)
	}
	s.second, s.secondReport = m, rep
	return nil
}

// quantizedModel returns the model the last action produced, or an error
// saying why there is none.
func quantizedModel(ctx context.Context) (*ptqState, error) {
	s := ptqOf(ctx)
	if err := stateFrom(ctx).lastErr(); err != nil {
		return nil, fmt.Errorf("the quantization was refused: %w", err)
	}
	return s, s.needQuantized()
}

// quantizedWithHeldOut is quantizedModel for a scenario that also has a
// held-out set.
func quantizedWithHeldOut(ctx context.Context) (*ptqState, error) {
	s, err := quantizedModel(ctx)
	if err != nil {
		return nil, err
	}
	return s, s.needHeldOut()
}

func theLayersHoldInt8Weights(ctx context.Context, list string) error {
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	for _, name := range parseNames(list) {
		w, ok := s.quantized.Weights(name)
		if !ok {
			return fmt.Errorf("layer %q has no quantized weights", name)
		}
		if w.DType() != quant.Int8 {
			return fmt.Errorf("layer %q holds %v weights, want int8", name, w.DType())
		}
	}
	return nil
}

func heldOutOutputTypes(ctx context.Context, table *godog.Table) error {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "node", "output")
	if err != nil {
		return err
	}
	tr, err := s.quantized.Trace(s.heldOut)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, e := range tr {
		got[e.Node] = e.DType
	}
	var bad []string
	for _, r := range rows {
		dt, ok := got[r["node"]]
		if !ok {
			return fmt.Errorf("the quantized model has no node %q", r["node"])
		}
		if dt != r["output"] {
			bad = append(bad, fmt.Sprintf("%s outputs %s, want %s", r["node"], dt, r["output"]))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// heldOutOutputs returns the FP32 and quantized outputs on the held-out set.
func heldOutOutputs(ctx context.Context) (want, got *tensor.Tensor, err error) {
	s, err := quantizedWithHeldOut(ctx)
	if err != nil {
		return nil, nil, err
	}
	if want, err = s.model.Forward(s.heldOut, nn.Eval); err != nil {
		return nil, nil, err
	}
	if got, err = s.quantized.Forward(s.heldOut); err != nil {
		return nil, nil, err
	}
	if !slices.Equal(want.Shape(), got.Shape()) {
		return nil, nil, fmt.Errorf("the quantized output has shape %v, FP32 %v", got.Shape(), want.Shape())
	}
	return want, got, nil
}

func heldOutSQNRAtLeast(ctx context.Context, minDB float64) error {
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	v := quant.SQNR(want.Data(), got.Data())
	return check(ctx, criterion{measured: "output SQNR on the held-out set", unit: "dB", direction: atLeast, threshold: minDB, value: v}, func() error {
		return fmt.Errorf("held-out output SQNR is %.2f dB, want at least %g dB", v, minDB)
	})
}

func heldOutCosineAtLeast(ctx context.Context, minCos float64) error {
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	v := quant.CosineSimilarity(want.Data(), got.Data())
	return check(ctx, criterion{measured: "output cosine similarity on the held-out set", direction: atLeast, threshold: minCos, value: v, ideal: 1}, func() error {
		return fmt.Errorf("held-out cosine similarity is %.6f, want at least %g", v, minCos)
	})
}

func heldOutBitIdentical(ctx context.Context) error {
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	for i, w := range want.Data() {
		if math.Float32bits(w) != math.Float32bits(got.Data()[i]) {
			return fmt.Errorf("output element %d is %g, FP32 gives %g", i, got.Data()[i], w)
		}
	}
	return nil
}

// paramBytes is the size of g's parameters and buffers in FP32.
func paramBytes(g *nn.Graph) int {
	n := 0
	for _, p := range slices.Concat(g.Params(), g.Buffers()) {
		n += 4 * p.Value.Len()
	}
	return n
}

func int8BytesAtMost(ctx context.Context, pct int) error {
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	q, f := s.quantized.Bytes(), paramBytes(s.model)
	c := criterion{measured: "quantized parameter bytes, of FP32's", unit: "%", direction: atMost, threshold: float64(pct), value: 100 * float64(q) / float64(f), slack: 1e-9}
	return check(ctx, c, func() error {
		return fmt.Errorf("the quantized model takes %d bytes, %.1f%% of the FP32 model's %d, want at most %d%%",
			q, 100*float64(q)/float64(f), f, pct)
	})
}

// bothRuns returns the two models of a repeated quantization.
func bothRuns(ctx context.Context) (*ptqState, error) {
	s, err := quantizedModel(ctx)
	if err != nil {
		return nil, err
	}
	if s.second == nil {
		return nil, errors.New("the model was quantized only once")
	}
	return s, nil
}

func bothRunsSameWeights(ctx context.Context) error {
	s, err := bothRuns(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, l := range s.quantized.Layers() {
		a, ok := s.quantized.Weights(l.Name)
		if !ok {
			continue
		}
		n++
		b, ok := s.second.Weights(l.Name)
		if !ok {
			return fmt.Errorf("layer %q has int8 weights in the first run only", l.Name)
		}
		if !slices.Equal(a.Int8s(), b.Int8s()) || !slices.Equal(a.Uint8s(), b.Uint8s()) {
			return fmt.Errorf("layer %q: the weight codes differ between runs", l.Name)
		}
		pa, pb := a.Params(), b.Params()
		if !sameBits(pa.Scale, pb.Scale) || !slices.Equal(pa.ZeroPoint, pb.ZeroPoint) {
			return fmt.Errorf("layer %q: weight qparams differ between runs: %v and %v", l.Name, pa, pb)
		}
	}
	if n == 0 {
		return errors.New("no layer has quantized weights")
	}
	return nil
}

// sameBits reports whether two float32 slices hold the same bits.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func bothRunsSameActivations(ctx context.Context) error {
	s, err := bothRuns(ctx)
	if err != nil {
		return err
	}
	a, b := s.quantized.Layers(), s.second.Layers()
	if len(a) != len(b) {
		return fmt.Errorf("the runs have %d and %d layers", len(a), len(b))
	}
	n := 0
	for i := range a {
		oa, ob := a[i].Output, b[i].Output
		if (oa == nil) != (ob == nil) {
			return fmt.Errorf("layer %q has int8 output in one run only", a[i].Name)
		}
		if oa == nil {
			continue
		}
		n++
		if math.Float32bits(oa.Scale) != math.Float32bits(ob.Scale) || oa.ZeroPoint != ob.ZeroPoint {
			return fmt.Errorf("layer %q: output qparams %g/%d and %g/%d differ", a[i].Name, oa.Scale, oa.ZeroPoint, ob.Scale, ob.ZeroPoint)
		}
	}
	if n == 0 {
		return errors.New("no layer has int8 output qparams")
	}
	return nil
}

func bothRunsSameOutputs(ctx context.Context) error {
	s, err := bothRuns(ctx)
	if err != nil {
		return err
	}
	if err := s.needHeldOut(); err != nil {
		return err
	}
	a, err := s.quantized.Forward(s.heldOut)
	if err != nil {
		return err
	}
	b, err := s.second.Forward(s.heldOut)
	if err != nil {
		return err
	}
	if !sameBits(a.Data(), b.Data()) {
		return errors.New("the two quantized models give different outputs on the held-out set")
	}
	return nil
}

// refusals maps the reasons the features give to the errors that carry
// them.
var refusals = map[string]error{
	"there is no calibration data":    ptq.ErrNoCalibrationData,
	"the data holds NaN or infinity":  ptq.ErrNonFinite,
	"the data does not fit the model": ptq.ErrShape,
	"an override matches no layer":    ptq.ErrUnmatchedOverride,
	"the model is not calibrated":     ptq.ErrNotCalibrated,
}

func refusedBecause(ctx context.Context, reason string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	if want := refusals[reason]; !errors.Is(err, want) {
		return fmt.Errorf("refused with %q, which does not say %q (%v)", err, reason, want)
	}
	return nil
}

var quoted = regexp.MustCompile(`"([^"]*)"`)

func theErrorMessageNames(ctx context.Context, list string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	names := quoted.FindAllStringSubmatch(list, -1)
	if len(names) == 0 {
		return fmt.Errorf("write the names to look for in quotes, got %q", list)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n[1]) {
			return fmt.Errorf("error %q does not name %q", err, n[1])
		}
	}
	return nil
}

func theErrorNamesShapes(ctx context.Context, data, input string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	d, perr := parseShape(data)
	if perr != nil {
		return perr
	}
	in, perr := parseShape(input)
	if perr != nil {
		return perr
	}
	// The library writes a batch shape as [8 1 28 28] and a model input,
	// which takes any batch size, as [N 3 8 8].
	ds := fmt.Sprint(d)
	is := "[N " + strings.Trim(fmt.Sprint(in), "[]") + "]"
	for _, want := range []string{ds, is} {
		if !strings.Contains(err.Error(), want) {
			return fmt.Errorf("error %q does not name the shape %s", err, want)
		}
	}
	return nil
}

func noQuantizedModel(ctx context.Context) error {
	s := ptqOf(ctx)
	if s.quantized != nil || s.report != nil {
		return errors.New("a quantized model (or report) was returned along with the refusal")
	}
	return nil
}

// inRangeWithinSteps compares the quantized model's output with FP32 on
// the held-out samples whose every feature lies inside the range the
// calibration set spans (a sample beyond it saturates the input, which no
// arithmetic can recover), in steps of the last int8 layer's output grid.
func inRangeWithinSteps(ctx context.Context, steps float64) error {
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	s := ptqOf(ctx)
	if s.calibX == nil {
		return errors.New("the scenario has no calibration set")
	}
	var out *ptq.ActivationReport
	for _, l := range s.quantized.Layers() {
		if l.Output != nil {
			out = l.Output
		}
	}
	if out == nil {
		return errors.New("the quantized model has no layer with an int8 output")
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range s.calibX.Data() {
		lo, hi = min(lo, v), max(hi, v)
	}
	in, inRow, outRow := s.heldOut.Data(), s.heldOut.RowLen(), want.RowLen()
	worst, at, used := 0.0, -1, 0
	for i := range s.heldOut.Dim(0) {
		if slices.ContainsFunc(in[i*inRow:(i+1)*inRow], func(v float32) bool { return v < lo || v > hi }) {
			continue
		}
		used++
		for j := i * outRow; j < (i+1)*outRow; j++ {
			if d := math.Abs(float64(got.Data()[j]) - float64(want.Data()[j])); d > worst || at < 0 {
				worst, at = d, j
			}
		}
	}
	if used == 0 {
		return fmt.Errorf("no held-out sample lies inside the calibrated input range [%g, %g]", lo, hi)
	}
	step := float64(out.Scale)
	c := criterion{measured: fmt.Sprintf("largest output error on the %d of %d held-out samples inside the calibrated input range", used, s.heldOut.Dim(0)),
		unit: "output steps", direction: within, threshold: steps, value: worst / step, slack: 1e-5}
	return check(ctx, c, func() error {
		return fmt.Errorf("output element %d differs from FP32 by %g (%.3f output steps of %g), want within %g steps (%d of %d held-out samples inside [%g, %g])",
			at, worst, worst/step, step, steps, used, s.heldOut.Dim(0), lo, hi)
	})
}
