package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// Defaults of the thresholds a Run is judged against.
const (
	// DefaultMaxDrop is the accuracy budget used when Run.MaxDrop is 0
	// and Run.Fallback has no accuracy budget: one percentage point.
	DefaultMaxDrop = 0.01
	// DefaultSQNRReference is the per-layer SQNR, in dB, used as the
	// reference line and the "low SQNR" cue when Run.SQNRReference is 0.
	DefaultSQNRReference = 30.0
)

// ErrInvalidRun is wrapped by every error about a Run that cannot be
// rendered; the message names the field.
var ErrInvalidRun = errors.New("invalid run")

// Run is everything one quantization job produced: the FP32 and int8
// accuracy, the model sizes, the quantizer's report and, optionally, a
// sensitivity analysis and an accuracy-aware fallback. Only Quant is
// required. Zero values of the fields documented with a default take that
// default; the writers never modify a Run.
type Run struct {
	// Title heads the report; "" means "PTQ report".
	Title string
	// Model names the model, such as "mlp" or "cnn".
	Model string
	// Config is a human-readable summary of the quantization configuration.
	Config string
	// CalibrationSamples is the number of calibration samples; 0 takes
	// Quant.Calibration.Samples.
	CalibrationSamples int
	// FP32Accuracy and Int8Accuracy are top-1 accuracies, fractions in
	// [0, 1], of the FP32 and the final quantized model on the same data.
	FP32Accuracy, Int8Accuracy float64
	// FP32Bytes and Int8Bytes are the model sizes; 0 takes the size from
	// Quant.
	FP32Bytes, Int8Bytes int
	// MaxDrop is the accuracy budget, a fraction (0.01 is one point); 0
	// takes the budget of Fallback when it is on accuracy, else
	// DefaultMaxDrop.
	MaxDrop float64
	// SQNRReference is the per-layer output SQNR in dB below which a layer
	// is flagged; 0 means DefaultSQNRReference.
	SQNRReference float64
	// Quant is the quantizer's report (required).
	Quant *ptq.Report
	// Sensitivity is an optional per-layer sensitivity analysis.
	Sensitivity *ptq.SensitivityReport
	// Fallback is an optional record of layers reverted to FP32 to meet an
	// accuracy budget.
	Fallback *ptq.FallbackReport
	// Timings are wall-clock seconds per phase ("train", "calibrate",
	// "convert", "evaluate", ...). When empty, the report shows the
	// quantizer's own phase times from Quant.Times.
	Timings map[string]float64
}

// title returns the report title.
func (r *Run) title() string {
	if r.Title == "" {
		return "PTQ report"
	}
	return r.Title
}

// maxDrop returns the accuracy budget in effect.
func (r *Run) maxDrop() float64 {
	switch {
	case r.MaxDrop != 0:
		return r.MaxDrop
	case r.Fallback != nil && r.Fallback.Metric == ptq.MetricAccuracy && r.Fallback.MaxDrop > 0:
		return r.Fallback.MaxDrop
	}
	return DefaultMaxDrop
}

// sqnrRef returns the SQNR reference in effect.
func (r *Run) sqnrRef() float64 {
	if r.SQNRReference == 0 {
		return DefaultSQNRReference
	}
	return r.SQNRReference
}

// fp32Bytes and int8Bytes return the model sizes in effect.
func (r *Run) fp32Bytes() int {
	if r.FP32Bytes == 0 {
		return r.Quant.FP32Bytes
	}
	return r.FP32Bytes
}

func (r *Run) int8Bytes() int {
	if r.Int8Bytes == 0 {
		return r.Quant.Int8Bytes
	}
	return r.Int8Bytes
}

// calibrationSamples returns the calibration sample count in effect.
func (r *Run) calibrationSamples() int {
	if r.CalibrationSamples == 0 && r.Quant.Calibration != nil {
		return r.Quant.Calibration.Samples
	}
	return r.CalibrationSamples
}

// drop is FP32 minus int8 accuracy, a fraction.
func (r *Run) drop() float64 { return r.FP32Accuracy - r.Int8Accuracy }

// withinBudget reports whether the drop fits the budget, with a tolerance
// of 1e-9 so that 0.99 against 1.00 meets a budget of 0.01.
func (r *Run) withinBudget() bool { return r.drop() <= r.maxDrop()+budgetSlack }

// budgetSlack absorbs the rounding of accuracy fractions (198/200 is not
// exactly 1 - 0.01 in binary).
const budgetSlack = 1e-9

// sizeRatio is FP32 bytes over int8 bytes, or 0 when int8 bytes is 0.
func (r *Run) sizeRatio() float64 {
	if r.int8Bytes() == 0 {
		return 0
	}
	return float64(r.fp32Bytes()) / float64(r.int8Bytes())
}

// phase is one named timing.
type phase struct {
	Name    string
	Seconds float64
}

// phaseOrder is the pipeline order timings are listed in; other names
// follow alphabetically.
var phaseOrder = []string{"load", "train", "quantize", "traverse", "prepare", "calibrate", "convert", "evaluate", "sensitivity", "fallback", "report"}

// phases returns the timings in pipeline order, or the quantizer's phase
// times when Timings is empty.
func (r *Run) phases() []phase {
	if len(r.Timings) == 0 {
		t := r.Quant.Times
		var out []phase
		for _, p := range []phase{{"traverse", t.Traverse.Seconds()}, {"calibrate", t.Calibrate.Seconds()},
			{"convert", t.Convert.Seconds()}, {"evaluate", t.Evaluate.Seconds()}} {
			if p.Seconds > 0 {
				out = append(out, p)
			}
		}
		return out
	}
	names := make([]string, 0, len(r.Timings))
	for n := range r.Timings {
		names = append(names, n)
	}
	rank := func(n string) int {
		if i := slices.Index(phaseOrder, n); i >= 0 {
			return i
		}
		return len(phaseOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	out := make([]phase, len(names))
	for i, n := range names {
		out[i] = phase{n, r.Timings[n]}
	}
	return out
}

// invalid returns an ErrInvalidRun error about one field.
func invalid(format string, args ...any) error {
	return fmt.Errorf("report: %s: %w", fmt.Sprintf(format, args...), ErrInvalidRun)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// validate checks everything the writers rely on, naming the first field
// that is wrong.
func (r *Run) validate() error {
	if r == nil {
		return invalid("Run is nil")
	}
	if r.Quant == nil {
		return invalid("Run.Quant is nil (the quantizer's report is required)")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"FP32Accuracy", r.FP32Accuracy}, {"Int8Accuracy", r.Int8Accuracy}} {
		if !(f.v >= 0 && f.v <= 1) {
			return invalid("Run.%s = %v, want a fraction in [0, 1]", f.name, f.v)
		}
	}
	switch {
	case r.CalibrationSamples < 0:
		return invalid("Run.CalibrationSamples = %d, want >= 0", r.CalibrationSamples)
	case r.FP32Bytes < 0:
		return invalid("Run.FP32Bytes = %d, want >= 0", r.FP32Bytes)
	case r.Int8Bytes < 0:
		return invalid("Run.Int8Bytes = %d, want >= 0", r.Int8Bytes)
	case !(r.MaxDrop >= 0 && r.MaxDrop <= 1):
		return invalid("Run.MaxDrop = %v, want a fraction in [0, 1]", r.MaxDrop)
	case !(r.SQNRReference >= 0 && r.SQNRReference <= 1000):
		return invalid("Run.SQNRReference = %v, want dB in [0, 1000]", r.SQNRReference)
	}
	for _, p := range r.phases() {
		if !(p.Seconds >= 0) || math.IsInf(p.Seconds, 1) {
			return invalid("Run.Timings[%q] = %v, want finite seconds >= 0", p.Name, p.Seconds)
		}
	}
	if err := validateQuant(r.Quant); err != nil {
		return err
	}
	if err := validateSensitivity("Run.Sensitivity", r.Sensitivity); err != nil {
		return err
	}
	if f := r.Fallback; f != nil {
		for _, v := range []struct {
			name string
			v    float64
		}{{"FP32", f.FP32}, {"AllInt8", f.AllInt8}, {"Final", f.Final}, {"MaxDrop", f.MaxDrop}} {
			if !finite(v.v) {
				return invalid("Run.Fallback.%s = %v, want a finite value", v.name, v.v)
			}
		}
		for i, s := range f.Reverted {
			if !finite(s.Metric) || !finite(s.Drop) {
				return invalid("Run.Fallback.Reverted[%d] (layer %q): metric %v, drop %v, want finite values", i, s.Layer, s.Metric, s.Drop)
			}
		}
		if err := validateSensitivity("Run.Fallback.Sensitivity", f.Sensitivity); err != nil {
			return err
		}
	}
	return nil
}

// validateQuant checks the numbers the charts draw: finite SQNRs and
// positive, finite weight scales (the scale chart is logarithmic).
func validateQuant(q *ptq.Report) error {
	if !finite(q.OutputSQNR) {
		return invalid("Run.Quant.OutputSQNR = %v, want a finite value", q.OutputSQNR)
	}
	for i, l := range q.Layers {
		if l.SQNR != nil && !finite(*l.SQNR) {
			return invalid("Run.Quant.Layers[%d] (layer %q): SQNR %v, want a finite value", i, l.Name, *l.SQNR)
		}
		if w := l.Weights; w != nil {
			lo, hi := float64(w.ScaleMin), float64(w.ScaleMax)
			if !(lo > 0) || !finite(hi) || hi < lo || !finite(float64(w.ScaleMean)) || !finite(w.SQNR) {
				return invalid("Run.Quant.Layers[%d] (layer %q): weight scales min %v max %v mean %v, SQNR %v; want 0 < min <= max, all finite",
					i, l.Name, w.ScaleMin, w.ScaleMax, w.ScaleMean, w.SQNR)
			}
		}
		if o := l.Output; o != nil {
			if !finite(float64(o.Scale)) || !finite(float64(o.Min)) || !finite(float64(o.Max)) {
				return invalid("Run.Quant.Layers[%d] (layer %q): output scale %v range [%v, %v], want finite values", i, l.Name, o.Scale, o.Min, o.Max)
			}
		}
	}
	if c := q.Calibration; c != nil {
		if !finite(c.Tolerance) || c.Tolerance < 0 {
			return invalid("Run.Quant.Calibration.Tolerance = %v, want a finite value >= 0", c.Tolerance)
		}
		for i, s := range c.History {
			// +Inf is legitimate: a tensor got its first scale in that batch.
			if math.IsNaN(s.MaxScaleChange) || s.MaxScaleChange < 0 {
				return invalid("Run.Quant.Calibration.History[%d] (batch %d): MaxScaleChange = %v, want >= 0", i, s.Batch, s.MaxScaleChange)
			}
		}
	}
	return nil
}

// validateSensitivity checks that every number of a sensitivity report is
// finite.
func validateSensitivity(field string, s *ptq.SensitivityReport) error {
	if s == nil {
		return nil
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"FP32", s.FP32}, {"AllInt8", s.AllInt8}, {"Threshold", s.Threshold}, {"Seconds", s.Seconds}} {
		if !finite(v.v) {
			return invalid("%s.%s = %v, want a finite value", field, v.name, v.v)
		}
	}
	for i, l := range s.Layers {
		for _, v := range []float64{l.OnlyThisInt8, l.OnlyThisFP32, l.Drop, l.Recovery, l.SQNR} {
			if !finite(v) {
				return invalid("%s.Layers[%d] (layer %q): non-finite value %v", field, i, l.Layer, v)
			}
		}
	}
	return nil
}
