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
)

func init() { addSteps("reports", registerReportSteps) }

func registerReportSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the report lists these layers:$`, theReportListsLayers)
	sc.Step(`^every layer with int8 weights reports one weight scale per output channel and the smallest, mean and largest of those scales$`, weightScaleSummaries)
	sc.Step(`^every int8 output in the report has a positive scale, a zero point within \[(-?\d+), (-?\d+)\] and a range that contains 0$`, int8OutputsReported)
	sc.Step(`^every quantized layer in the report has an SQNR of at least (-?\d+(?:\.\d+)?) dB, measured on the (\d+) (held-out|calibration) samples$`, everyLayerSQNR)
	sc.Step(`^the report gives an output SQNR of at least (-?\d+(?:\.\d+)?) dB, measured on the (\d+) (held-out|calibration) samples$`, reportOutputSQNR)
	sc.Step(`^the report's output SQNR is within (\d+(?:\.\d+)?) dB of the quantized output's SQNR against FP32 on the held-out set$`, reportSQNRMatches)
	sc.Step(`^a note of the report says its SQNR was measured on the calibration samples$`, reportNotesCalibrationSQNR)
	sc.Step(`^the report records (\d+) calibration batch(?:es)? and (\d+) samples?$`, reportCalibration)
	sc.Step(`^the report records a positive duration for traversal, calibration, conversion and evaluation$`, reportTimes)
	sc.Step(`^the FP32 model's parameters, buffers and outputs are unchanged$`, fp32Unchanged)
	sc.Step(`^the report says the model has no quantizable layer and was returned unchanged$`, reportNothingToQuantize)
	sc.Step(`^the report shows the layers (.+) in FP32 with a reason naming the override$`, reportShowsKept)
	sc.Step(`^every other Conv2D and Linear layer in the report is int8$`, everyOtherInt8)
}

// theReport returns the report of the last quantization, static or
// dynamic.
func theReport(ctx context.Context) (*ptqState, *ptq.Report, error) {
	s, err := quantizedModel(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.report == nil {
		return nil, nil, errors.New("the scenario has no report: the model must be quantized")
	}
	return s, s.report, nil
}

// eachReportedLayer calls check with every layer of the last report that
// has what (has tells which do), and fails if none has.
func eachReportedLayer(ctx context.Context, what string, has func(ptq.LayerReport) bool, check func(s *ptqState, l ptq.LayerReport) error) error {
	s, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, l := range rep.Layers {
		if !has(l) {
			continue
		}
		n++
		if err := check(s, l); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("no layer in the report has %s", what)
	}
	return nil
}

// eachInt8WeightLayer calls check with every layer of the last report that
// has int8 weights and those weights as the quantized model holds them. It
// fails if no layer has int8 weights.
func eachInt8WeightLayer(ctx context.Context, check func(s *ptqState, l ptq.LayerReport, w *quant.QTensor) error) error {
	return eachReportedLayer(ctx, "int8 weights", func(l ptq.LayerReport) bool { return l.Weights != nil },
		func(s *ptqState, l ptq.LayerReport) error {
			w, ok := s.quantized.Weights(l.Name)
			if !ok {
				return fmt.Errorf("the quantized model holds no weights for %q", l.Name)
			}
			return check(s, l, w)
		})
}

// eachInt8Output calls check with every layer of the last report that has
// int8 output qparams. It fails if no layer has.
func eachInt8Output(ctx context.Context, check func(l ptq.LayerReport) error) error {
	return eachReportedLayer(ctx, "an int8 output", func(l ptq.LayerReport) bool { return l.Output != nil },
		func(_ *ptqState, l ptq.LayerReport) error { return check(l) })
}

// weightsColumn renders a layer's weights as the features write them:
// "int8 symmetric per-channel", or "-" without int8 weights.
func weightsColumn(l ptq.LayerReport) string {
	if l.Weights == nil {
		return "-"
	}
	return l.Weights.DType + " " + l.Weights.Scheme + " " + l.Weights.Granularity
}

func theReportListsLayers(ctx context.Context, table *godog.Table) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "layer", "kind", "role", "weights")
	if err != nil {
		return err
	}
	var got, want []string
	for _, l := range rep.Layers {
		got = append(got, strings.Join([]string{l.Name, l.Kind, l.Role.String(), weightsColumn(l)}, " | "))
	}
	for _, r := range rows {
		want = append(want, strings.Join([]string{r["layer"], r["kind"], r["role"], r["weights"]}, " | "))
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("the report lists\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return nil
}

func weightScaleSummaries(ctx context.Context) error {
	return eachInt8WeightLayer(ctx, func(_ *ptqState, l ptq.LayerReport, w *quant.QTensor) error {
		p := w.Params()
		outC := w.Shape()[0]
		if l.Weights.Channels != outC || len(p.Scale) != outC {
			return fmt.Errorf("layer %q reports %d weight scales and holds %d, for %d output channels", l.Name, l.Weights.Channels, len(p.Scale), outC)
		}
		lo, hi, sum := slices.Min(p.Scale), slices.Max(p.Scale), 0.0
		for _, v := range p.Scale {
			sum += float64(v)
		}
		mean := sum / float64(len(p.Scale))
		wr := l.Weights
		if wr.ScaleMin != lo || wr.ScaleMax != hi || math.Abs(float64(wr.ScaleMean)-mean) > 1e-6*mean {
			return fmt.Errorf("layer %q reports scales %g..%g (mean %g); its weights have %g..%g (mean %g)",
				l.Name, wr.ScaleMin, wr.ScaleMax, wr.ScaleMean, lo, hi, mean)
		}
		return nil
	})
}

func int8OutputsReported(ctx context.Context, qmin, qmax int) error {
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	var loName, hiName string
	err := eachInt8Output(ctx, func(l ptq.LayerReport) error {
		o := l.Output
		if o.ZeroPoint < lo {
			lo, loName = o.ZeroPoint, l.Name
		}
		if o.ZeroPoint > hi {
			hi, hiName = o.ZeroPoint, l.Name
		}
		if !(o.Scale > 0) || math.IsInf(float64(o.Scale), 0) || o.ZeroPoint < int32(qmin) || o.ZeroPoint > int32(qmax) || o.Min > 0 || o.Max < 0 {
			return fmt.Errorf("layer %q reports output %s scale %g, zero point %d, range [%g, %g]", l.Name, o.DType, o.Scale, o.ZeroPoint, o.Min, o.Max)
		}
		return nil
	})
	if loName == "" {
		return err
	}
	if cerr := checkAll(ctx, func() error { return err },
		criterion{measured: "smallest output zero point (" + loName + ")", direction: atLeast, threshold: float64(qmin), value: float64(lo), formatLimit: true},
		criterion{measured: "largest output zero point (" + hiName + ")", direction: atMost, threshold: float64(qmax), value: float64(hi), formatLimit: true},
	); cerr != nil {
		return cerr
	}
	return err
}

// measuredOn checks that the report's SQNR figures were measured on n
// samples of the named data, "held-out" or "calibration".
func measuredOn(rep *ptq.Report, n int, data string) error {
	if string(rep.SQNRData) != data || rep.SQNRSamples != n {
		return fmt.Errorf("the report measured its SQNR on %d %q samples, want %d %s samples", rep.SQNRSamples, rep.SQNRData, n, data)
	}
	return nil
}

func everyLayerSQNR(ctx context.Context, minDB float64, n int, data string) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	if err := measuredOn(rep, n, data); err != nil {
		return err
	}
	var bad []string
	worst, worstName := math.Inf(1), ""
	for _, l := range rep.Layers {
		if l.Role != ptq.Quantized {
			continue
		}
		if l.SQNR != nil && !(*l.SQNR >= worst) {
			worst, worstName = *l.SQNR, l.Name
		}
		switch {
		case l.SQNR == nil:
			bad = append(bad, l.Name+" reports no SQNR")
		case *l.SQNR < minDB:
			bad = append(bad, fmt.Sprintf("%s %.2f dB", l.Name, *l.SQNR))
		}
	}
	fail := func() error { return fmt.Errorf("below %g dB: %s", minDB, strings.Join(bad, ", ")) }
	if worstName != "" {
		c := criterion{measured: "lowest layer SQNR in the report on the " + data + " samples (" + worstName + ")", unit: "dB", direction: atLeast, threshold: minDB, value: worst}
		if err := check(ctx, c, fail); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fail()
	}
	return nil
}

func reportOutputSQNR(ctx context.Context, minDB float64, n int, data string) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	if err := measuredOn(rep, n, data); err != nil {
		return err
	}
	return check(ctx, criterion{measured: "output SQNR in the report on the " + data + " samples", unit: "dB", direction: atLeast, threshold: minDB, value: rep.OutputSQNR}, func() error {
		return fmt.Errorf("the report gives an output SQNR of %.2f dB, want at least %g dB", rep.OutputSQNR, minDB)
	})
}

// reportSQNRMatches compares the report's output SQNR with the one
// measured here, on the held-out set, from the FP32 and quantized outputs.
func reportSQNRMatches(ctx context.Context, tol float64) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	want, got, err := heldOutOutputs(ctx)
	if err != nil {
		return err
	}
	v := quant.SQNR(want.Data(), got.Data())
	d := math.Abs(rep.OutputSQNR - v)
	c := criterion{measured: "difference between the report's output SQNR and the one measured on the held-out set", unit: "dB",
		direction: within, threshold: tol, value: d}
	return check(ctx, c, func() error {
		return fmt.Errorf("the report gives an output SQNR of %.4f dB on %d %s samples; on the held-out set it is %.4f dB", rep.OutputSQNR, rep.SQNRSamples, rep.SQNRData, v)
	})
}

func reportNotesCalibrationSQNR(ctx context.Context) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "SQNR") && strings.Contains(n, "calibration samples") {
			return nil
		}
	}
	return fmt.Errorf("no note of the report says where its SQNR was measured: %q", rep.Notes)
}

func reportCalibration(ctx context.Context, batches, samples int) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	c := rep.Calibration
	if c == nil {
		return errors.New("the report has no calibration section")
	}
	if c.Batches != batches || c.Samples != samples || len(c.History) != batches {
		return fmt.Errorf("the report records %d batches, %d samples and %d history entries; want %d, %d and %d",
			c.Batches, c.Samples, len(c.History), batches, samples, batches)
	}
	return nil
}

func reportTimes(ctx context.Context) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	t := rep.Times
	if t.Traverse <= 0 || t.Calibrate <= 0 || t.Convert <= 0 || t.Evaluate <= 0 {
		return fmt.Errorf("the report records traversal %v, calibration %v, conversion %v, evaluation %v", t.Traverse, t.Calibrate, t.Convert, t.Evaluate)
	}
	return nil
}

func fp32Unchanged(ctx context.Context) error {
	// A quantization that failed proves nothing about what a successful
	// one does to the model it was handed.
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	if s.before == nil {
		return errors.New("the model was not quantized")
	}
	after := snapshotParams(s.model)
	if len(after) != len(s.before) {
		return fmt.Errorf("the model had %d parameter tensors, now %d", len(s.before), len(after))
	}
	for i := range after {
		if !sameBits(after[i], s.before[i]) {
			return fmt.Errorf("parameter tensor %d of the FP32 model changed", i)
		}
	}
	if s.beforeOut != nil {
		out, err := s.model.Forward(s.heldOut, nn.Eval)
		if err != nil {
			return err
		}
		if !sameBits(out.Data(), s.beforeOut.Data()) {
			return errors.New("the FP32 model's outputs on the held-out set changed")
		}
	}
	return nil
}

func reportNothingToQuantize(ctx context.Context) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	if rep.Mode != ptq.ModeFP32 || len(rep.QuantizedLayers()) != 0 {
		return fmt.Errorf("the report has mode %q and quantized layers %q", rep.Mode, rep.QuantizedLayers())
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "no quantizable layer") && strings.Contains(n, "unchanged") {
			return nil
		}
	}
	return fmt.Errorf("no note of the report says so: %q", rep.Notes)
}

func reportShowsKept(ctx context.Context, list string) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	for _, name := range parseNames(list) {
		l, ok := rep.Layer(name)
		if !ok {
			return fmt.Errorf("the report has no layer %q", name)
		}
		if l.Role != ptq.FP32 || l.Weights != nil || !strings.Contains(l.Reason, "override") || len(l.Overrides) == 0 {
			return fmt.Errorf("layer %q is %s (%s), want fp32 by an override", name, l.Role, l.Reason)
		}
	}
	return nil
}

func everyOtherInt8(ctx context.Context) error {
	_, rep, err := theReport(ctx)
	if err != nil {
		return err
	}
	checked := 0
	for _, l := range rep.Layers {
		if (l.Kind != "Conv2D" && l.Kind != "Linear") || len(l.Overrides) > 0 {
			continue
		}
		checked++
		if l.Role != ptq.Quantized || l.Weights == nil || l.Weights.DType != "int8" {
			return fmt.Errorf("layer %q is %s (%s), want int8", l.Name, l.Role, l.Reason)
		}
	}
	if checked == 0 {
		return errors.New("the report has no other Conv2D or Linear layer: the step checks nothing")
	}
	return nil
}
