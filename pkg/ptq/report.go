package ptq

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// LayerReport describes what quantization did to one node.
type LayerReport struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Role      Role     `json:"role"`
	Quantized bool     `json:"quantized"`
	Reason    string   `json:"reason"`
	FusedInto string   `json:"fused_into,omitempty"`
	Fused     []string `json:"fused,omitempty"`
	Overrides []string `json:"overrides,omitempty"`
	// Weights describes int8 weights; nil for layers without them.
	Weights *WeightReport `json:"weights,omitempty"`
	// Output describes the int8 output qparams; nil for FP32 outputs.
	Output *ActivationReport `json:"output,omitempty"`
	// SQNR is the node's output SQNR in dB against the FP32 model on the
	// data Report.SQNRData names (capped at 200 dB for identical
	// outputs); set for quantized nodes by Quantize.
	SQNR *float64 `json:"sqnr_db,omitempty"`
}

// WeightReport summarises one layer's int8 weights.
type WeightReport struct {
	DType        string  `json:"dtype"`
	Scheme       string  `json:"scheme"`
	Granularity  string  `json:"granularity"`
	Channels     int     `json:"channels"`
	ScaleMin     float32 `json:"scale_min"`
	ScaleMax     float32 `json:"scale_max"`
	ScaleMean    float32 `json:"scale_mean"`
	ZeroPointMin int32   `json:"zero_point_min"`
	ZeroPointMax int32   `json:"zero_point_max"`
	// SQNR is the weights' own quantization SQNR in dB.
	SQNR float64 `json:"sqnr_db"`
}

// ActivationReport gives per-tensor activation qparams and the real range
// they represent.
type ActivationReport struct {
	DType     string  `json:"dtype"`
	Scale     float32 `json:"scale"`
	ZeroPoint int32   `json:"zero_point"`
	Min       float32 `json:"range_min"`
	Max       float32 `json:"range_max"`
}

// PhaseTimes are the wall-clock durations of each phase of a run.
type PhaseTimes struct {
	Traverse  time.Duration `json:"traverse_ns"`
	Calibrate time.Duration `json:"calibrate_ns"`
	Convert   time.Duration `json:"convert_ns"`
	Evaluate  time.Duration `json:"evaluate_ns"`
}

// CalibrationReport summarises calibration.
type CalibrationReport struct {
	Method      quant.Method      `json:"method"`
	Batches     int               `json:"batches"`
	Samples     int               `json:"samples"`
	Converged   bool              `json:"converged"`
	ConvergedAt int               `json:"converged_at_batch"`
	Tolerance   float64           `json:"tolerance"`
	Patience    int               `json:"patience"`
	History     []CalibrationStep `json:"history"`
}

// Report is the record of one quantization run.
type Report struct {
	// Mode is ModeStatic, ModeDynamic or ModeFP32 (nothing to quantize).
	Mode        Mode               `json:"mode"`
	Layers      []LayerReport      `json:"layers"`
	Calibration *CalibrationReport `json:"calibration,omitempty"`
	Times       PhaseTimes         `json:"times"`
	FP32Bytes   int                `json:"fp32_model_bytes"`
	Int8Bytes   int                `json:"int8_model_bytes"`
	// OutputSQNR is the model output's SQNR in dB against FP32 (capped at
	// 200) on the data SQNRData names.
	OutputSQNR float64 `json:"output_sqnr_db"`
	// SQNRData names the data OutputSQNR and the layers' SQNR were
	// measured on: SQNROnHoldout when Config.Holdout was given,
	// SQNROnCalibration otherwise; empty when nothing was measured (a
	// model returned unchanged, a dynamic model).
	SQNRData SQNRData `json:"sqnr_data,omitempty"`
	// SQNRSamples is the number of samples the SQNR figures were measured
	// on.
	SQNRSamples int `json:"sqnr_samples,omitempty"`
	// Notes say anything a reader should know, such as a model returned
	// unchanged.
	Notes []string `json:"notes,omitempty"`
}

// SQNRData names the data a report's SQNR figures were measured on.
type SQNRData string

// The data a report's SQNR can be measured on.
const (
	// SQNROnHoldout is Config.Holdout: samples calibration never saw,
	// which measures how the int8 model generalises.
	SQNROnHoldout SQNRData = "held-out"
	// SQNROnCalibration is the first calibration samples, the data the
	// ranges were fitted to: an optimistic figure.
	SQNROnCalibration SQNRData = "calibration"
)

// sqnrOn renders where the SQNR was measured, for example "on 64 held-out
// samples"; "" when it was not measured.
func (r *Report) sqnrOn() string {
	if r.SQNRData == "" {
		return ""
	}
	return fmt.Sprintf(" on %d %s samples", r.SQNRSamples, r.SQNRData)
}

// Layer returns the report of one node.
func (r *Report) Layer(name string) (LayerReport, bool) {
	if r == nil {
		return LayerReport{}, false
	}
	for _, l := range r.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return LayerReport{}, false
}

// QuantizedLayers returns the names of the quantized layers.
func (r *Report) QuantizedLayers() []string {
	if r == nil {
		return nil
	}
	var s []string
	for _, l := range r.Layers {
		if l.Quantized && l.Weights != nil || l.Quantized && l.Kind == "Add" {
			s = append(s, l.Name)
		}
	}
	return s
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	if r == nil {
		return errNilReport("report")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown renders the per-layer table.
func (r *Report) Markdown() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	sqnrHead := "SQNR dB"
	if r.SQNRData != "" {
		sqnrHead += " (" + string(r.SQNRData) + ")"
	}
	fmt.Fprintf(&b, "| layer | kind | role | weights | weight scales | output scale / zp | %s | reason |\n", sqnrHead)
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Layers {
		w, ws, out, sq := "", "", "", ""
		if l.Weights != nil {
			w = l.Weights.DType + " " + l.Weights.Scheme + " " + l.Weights.Granularity
			ws = fmt.Sprintf("%.3g..%.3g", l.Weights.ScaleMin, l.Weights.ScaleMax)
		}
		if l.Output != nil {
			out = fmt.Sprintf("%.4g / %d", l.Output.Scale, l.Output.ZeroPoint)
		}
		if l.SQNR != nil {
			sq = fmt.Sprintf("%.1f", *l.SQNR)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l.Name, l.Kind, l.Role, w, ws, out, sq, l.Reason)
	}
	return b.String()
}

// String renders a plain-text summary and the per-layer table.
func (r *Report) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mode %s, %d of %d nodes quantized, output SQNR %.1f dB%s, %d -> %d bytes\n",
		r.Mode, len(r.QuantizedLayers()), len(r.Layers), r.OutputSQNR, r.sqnrOn(), r.FP32Bytes, r.Int8Bytes)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LAYER\tKIND\tROLE\tWEIGHTS\tOUT SCALE\tOUT ZP\tSQNR")
	for _, l := range r.Layers {
		wt, sc, zp, sq := "-", "-", "-", "-"
		if l.Weights != nil {
			wt = l.Weights.DType + " " + l.Weights.Granularity
		}
		if l.Output != nil {
			sc, zp = fmt.Sprintf("%.4g", l.Output.Scale), fmt.Sprint(l.Output.ZeroPoint)
		}
		if l.SQNR != nil {
			sq = fmt.Sprintf("%.1f dB", *l.SQNR)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Kind, l.Role, wt, sc, zp, sq)
	}
	w.Flush()
	return b.String()
}

// baseReport describes a node from its plan.
func baseReport(np *NodePlan) *LayerReport {
	return &LayerReport{Name: np.Name, Kind: np.Kind, Role: np.Role,
		Quantized: np.Role == Quantized || np.Role == Fused || (np.Role == Transparent && np.Int8Out),
		Reason:    np.Reason, FusedInto: np.FusedInto, Fused: np.Fused, Overrides: np.Config.Overrides}
}

func actReport(a qnn.Act) *ActivationReport {
	d := a.Declared
	lo, hi := d.Bounds()
	return &ActivationReport{DType: d.DType.String(), Scale: d.Scale[0], ZeroPoint: d.ZeroPoint[0],
		Min: float32(lo-d.ZeroPoint[0]) * d.Scale[0], Max: float32(hi-d.ZeroPoint[0]) * d.Scale[0]}
}

func weightReport(q *quant.QTensor, spec quant.Spec, w *tensor.Tensor) WeightReport {
	p := q.Params()
	r := WeightReport{DType: p.DType.String(), Scheme: spec.Scheme.String(), Granularity: spec.Granularity.String(),
		Channels: len(p.Scale), ScaleMin: p.Scale[0], ScaleMax: p.Scale[0], ZeroPointMin: p.ZeroPoint[0], ZeroPointMax: p.ZeroPoint[0],
		SQNR: capDB(quant.SQNR(w.Data(), q.Dequantize().Data()))}
	var sum float64
	for i, s := range p.Scale {
		r.ScaleMin, r.ScaleMax = min(r.ScaleMin, s), max(r.ScaleMax, s)
		r.ZeroPointMin, r.ZeroPointMax = min(r.ZeroPointMin, p.ZeroPoint[i]), max(r.ZeroPointMax, p.ZeroPoint[i])
		sum += float64(s)
	}
	r.ScaleMean = float32(sum / float64(len(p.Scale)))
	return r
}

// capDB keeps SQNR values JSON-encodable: +Inf (identical) becomes 200 dB.
func capDB(v float64) float64 {
	if math.IsInf(v, 1) || v > 200 {
		return 200
	}
	if math.IsNaN(v) {
		return 0
	}
	return v
}
