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

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

func init() { addSteps("dynamic", registerDynamicSteps) }

// Dynamic quantization works on the scenario's ptq state (see ptqState in
// quantization.go): the model built by the ptqmodels steps, the held-out
// set and the configuration, so the static steps about held-out accuracy,
// output types, overrides and reports apply to dynamic results as well.

func registerDynamicSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the model is quantized dynamically$`, theModelIsQuantizedDynamically)
	sc.Step(`^the held-out samples are multiplied by (\d+(?:\.\d+)?)$`, heldOutMultipliedBy)
	sc.Step(`^Conv2D layers are configured to be quantized dynamically too$`, conv2DQuantizedDynamically)

	sc.Step(`^the report lists the int8 weights of every (Linear|Conv2D and Linear) layer as:$`, reportListsLayerWeights)
	sc.Step(`^every weight scale is the largest absolute weight it covers divided by (\d+)$`, weightScalesFollowWeights)
	sc.Step(`^no layer in the report holds an activation scale or zero point, and no calibration was run$`, noActivationQParams)
	sc.Step(`^the quantized model stores ([\d,]+) bytes of parameters against ([\d,]+) in FP32$`, quantizedModelStores)
	sc.Step(`^on the held-out set the largest output error is at most (-?\d+(?:\.\d+)?)% of the largest FP32 output magnitude$`, largestOutputError)
}

func theModelIsQuantizedDynamically(ctx context.Context) error {
	s := ptqOf(ctx)
	if err := s.recordFP32(); err != nil {
		return err
	}
	m, rep, err := ptq.QuantizeDynamic(ctx, s.model, &ptq.DynamicConfig{Weights: s.cfg.Weights, Overrides: s.cfg.Overrides, Conv2D: s.dynamicConv2D})
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, rep
	return nil
}

func heldOutMultipliedBy(ctx context.Context, factor float64) error {
	s := ptqOf(ctx)
	if err := s.needHeldOut(); err != nil {
		return err
	}
	x := s.heldOut.Clone()
	for i := range x.Data() {
		x.Data()[i] *= float32(factor)
	}
	s.heldOut = x
	return nil
}

// conv2DQuantizedDynamically asks dynamic quantization to quantize Conv2D
// layers as it does Linear layers.
func conv2DQuantizedDynamically(ctx context.Context) error {
	ptqOf(ctx).dynamicConv2D = true
	return nil
}

// reportListsLayerWeights compares the weights the report gives every
// layer of the named kinds ("Linear" or "Conv2D and Linear"), in model
// order, with the table.
func reportListsLayerWeights(ctx context.Context, kinds string, table *godog.Table) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "layer", "dtype", "scheme", "granularity", "scales", "zero points")
	if err != nil {
		return err
	}
	var got, want []string
	for _, l := range rep.Layers {
		if !slices.Contains(strings.Split(kinds, " and "), l.Kind) {
			continue
		}
		if l.Weights == nil {
			got = append(got, l.Name+" | (no int8 weights)")
			continue
		}
		w := l.Weights
		zps := strconv.Itoa(int(w.ZeroPointMin))
		if w.ZeroPointMax != w.ZeroPointMin {
			zps = fmt.Sprintf("%d to %d", w.ZeroPointMin, w.ZeroPointMax)
		}
		got = append(got, strings.Join([]string{l.Name, w.DType, w.Scheme, w.Granularity, strconv.Itoa(w.Channels), zps}, " | "))
	}
	for _, r := range rows {
		want = append(want, strings.Join([]string{r["layer"], r["dtype"], r["scheme"], r["granularity"], r["scales"], r["zero points"]}, " | "))
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("the report lists the %s layers as\n  %s\nwant\n  %s", kinds, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return nil
}

// weightScalesFollowWeights checks, for every layer with int8 weights, that
// each scale is max|w| over the weights it covers (its output channel, or
// the whole layer) divided by div, and that the report's smallest and
// largest scales are those.
func weightScalesFollowWeights(ctx context.Context, div int) error {
	return eachInt8WeightLayer(ctx, func(s *ptqState, l ptq.LayerReport, qw *quant.QTensor) error {
		node, ok := s.model.Node(l.Name)
		if !ok {
			return fmt.Errorf("the FP32 model has no layer %q", l.Name)
		}
		lin, ok := node.Layer.(*nn.Linear)
		if !ok {
			return fmt.Errorf("layer %q is a %s, not a Linear layer", l.Name, l.Kind)
		}
		scales := qw.Params().Scale
		w := lin.Weight.Value.Data()
		per := len(w) / len(scales)
		for c, got := range scales {
			m := 0.0
			for _, v := range w[c*per : (c+1)*per] {
				m = math.Max(m, math.Abs(float64(v)))
			}
			want := m / float64(div)
			if math.Abs(float64(got)-want) > 1e-6*want {
				return fmt.Errorf("layer %q: scale %d is %.7g, the largest absolute weight it covers is %.7g and /%d gives %.7g",
					l.Name, c, got, m, div, want)
			}
		}
		if l.Weights.ScaleMin != slices.Min(scales) || l.Weights.ScaleMax != slices.Max(scales) {
			return fmt.Errorf("layer %q: the report gives scales %g to %g, the weights hold %g to %g",
				l.Name, l.Weights.ScaleMin, l.Weights.ScaleMax, slices.Min(scales), slices.Max(scales))
		}
		return nil
	})
}

func noActivationQParams(ctx context.Context) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	for _, l := range rep.Layers {
		if l.Output != nil {
			return fmt.Errorf("layer %q holds activation qparams: %s scale %g, zero point %d", l.Name, l.Output.DType, l.Output.Scale, l.Output.ZeroPoint)
		}
	}
	if rep.Calibration != nil {
		return fmt.Errorf("the report records a calibration of %d batches", rep.Calibration.Batches)
	}
	return nil
}

func quantizedModelStores(ctx context.Context, int8Bytes, fp32Bytes string) error {
	s, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	q, err := parseCount(int8Bytes)
	if err != nil {
		return err
	}
	f, err := parseCount(fp32Bytes)
	if err != nil {
		return err
	}
	if got := s.quantized.Bytes(); got != q || rep.Int8Bytes != q {
		return fmt.Errorf("the quantized model stores %d bytes (report: %d), want %d", got, rep.Int8Bytes, q)
	}
	if rep.FP32Bytes != f {
		return fmt.Errorf("the report gives %d bytes for the FP32 model, want %d", rep.FP32Bytes, f)
	}
	return nil
}

func largestOutputError(ctx context.Context, pct float64) error {
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	var maxRef, maxErr float64
	for i, w := range want.Data() {
		maxRef = math.Max(maxRef, math.Abs(float64(w)))
		maxErr = math.Max(maxErr, math.Abs(float64(got.Data()[i]-w)))
	}
	if maxRef == 0 {
		return errors.New("the FP32 outputs on the held-out set are all zero")
	}
	rel := 100 * maxErr / maxRef
	c := criterion{measured: "largest output error on the held-out set, of the largest FP32 output", unit: "%", direction: atMost, threshold: pct, value: rel}
	return check(ctx, c, func() error {
		return fmt.Errorf("the largest output error is %.3g, %.2f%% of the largest FP32 output magnitude %.3g, want at most %g%%", maxErr, rel, maxRef, pct)
	})
}
