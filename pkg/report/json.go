package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// Schema names the version of the JSON report. It changes only when a
// field changes meaning or disappears; new fields may be added within a
// version.
const Schema = "ptqspec.report/v1"

// jsonRun is the JSON document of a Run; see the package documentation
// for the meaning of each field.
type jsonRun struct {
	Schema             string                 `json:"schema"`
	Title              string                 `json:"title"`
	Model              string                 `json:"model"`
	Config             string                 `json:"config"`
	CalibrationSamples int                    `json:"calibration_samples"`
	FP32Accuracy       float64                `json:"fp32_accuracy"`
	Int8Accuracy       float64                `json:"int8_accuracy"`
	AccuracyDrop       float64                `json:"accuracy_drop"`
	MaxDrop            float64                `json:"max_drop"`
	WithinBudget       bool                   `json:"within_budget"`
	FP32Bytes          int                    `json:"fp32_bytes"`
	Int8Bytes          int                    `json:"int8_bytes"`
	SizeRatio          float64                `json:"size_ratio"`
	SQNRReference      float64                `json:"sqnr_reference_db"`
	Timings            map[string]float64     `json:"timings_seconds,omitempty"`
	Quant              *jsonQuant             `json:"quantization"`
	Sensitivity        *ptq.SensitivityReport `json:"sensitivity,omitempty"`
	Fallback           *ptq.FallbackReport    `json:"fallback,omitempty"`
}

// jsonQuant mirrors ptq.Report field for field, with the same names, so
// that the calibration history gets snake_case names and a JSON-safe
// infinity.
type jsonQuant struct {
	Mode        string            `json:"mode"`
	Layers      []ptq.LayerReport `json:"layers"`
	Calibration *jsonCalibration  `json:"calibration,omitempty"`
	Times       ptq.PhaseTimes    `json:"times"`
	FP32Bytes   int               `json:"fp32_model_bytes"`
	Int8Bytes   int               `json:"int8_model_bytes"`
	OutputSQNR  float64           `json:"output_sqnr_db"`
	Notes       []string          `json:"notes,omitempty"`
}

// jsonCalibration mirrors ptq.CalibrationReport.
type jsonCalibration struct {
	Method      string     `json:"method"`
	Batches     int        `json:"batches"`
	Samples     int        `json:"samples"`
	Converged   bool       `json:"converged"`
	ConvergedAt int        `json:"converged_at_batch"`
	Tolerance   float64    `json:"tolerance"`
	Patience    int        `json:"patience"`
	History     []jsonStep `json:"history"`
}

// jsonStep mirrors ptq.CalibrationStep; a nil MaxScaleChange stands for
// +Inf (a tensor got its first scale in that batch).
type jsonStep struct {
	Batch          int      `json:"batch"`
	Samples        int      `json:"samples"`
	MaxScaleChange *float64 `json:"max_scale_change"`
	Worst          string   `json:"worst_tensor"`
	Converged      bool     `json:"converged"`
}

// toJSON builds the document of a validated run.
func toJSON(r *Run) *jsonRun {
	q := r.Quant
	d := &jsonRun{Schema: Schema, Title: r.title(), Model: r.Model, Config: r.Config, CalibrationSamples: r.calibrationSamples(),
		FP32Accuracy: r.FP32Accuracy, Int8Accuracy: r.Int8Accuracy, AccuracyDrop: r.drop(), MaxDrop: r.maxDrop(), WithinBudget: r.withinBudget(),
		FP32Bytes: r.fp32Bytes(), Int8Bytes: r.int8Bytes(), SizeRatio: r.sizeRatio(), SQNRReference: r.sqnrRef(), Timings: r.Timings,
		Sensitivity: r.Sensitivity, Fallback: r.Fallback,
		Quant: &jsonQuant{Mode: q.Mode, Layers: q.Layers, Times: q.Times, FP32Bytes: q.FP32Bytes, Int8Bytes: q.Int8Bytes,
			OutputSQNR: q.OutputSQNR, Notes: q.Notes}}
	if c := q.Calibration; c != nil {
		jc := &jsonCalibration{Method: c.Method, Batches: c.Batches, Samples: c.Samples, Converged: c.Converged,
			ConvergedAt: c.ConvergedAt, Tolerance: c.Tolerance, Patience: c.Patience}
		if c.History != nil {
			jc.History = make([]jsonStep, len(c.History))
		}
		for i, s := range c.History {
			jc.History[i] = jsonStep{Batch: s.Batch, Samples: s.Samples, Worst: s.Worst, Converged: s.Converged}
			if !math.IsInf(s.MaxScaleChange, 1) {
				v := s.MaxScaleChange
				jc.History[i].MaxScaleChange = &v
			}
		}
		d.Quant.Calibration = jc
	}
	return d
}

// fromJSON rebuilds a run from its document.
func fromJSON(d *jsonRun) *Run {
	r := &Run{Title: d.Title, Model: d.Model, Config: d.Config, CalibrationSamples: d.CalibrationSamples,
		FP32Accuracy: d.FP32Accuracy, Int8Accuracy: d.Int8Accuracy, FP32Bytes: d.FP32Bytes, Int8Bytes: d.Int8Bytes,
		MaxDrop: d.MaxDrop, SQNRReference: d.SQNRReference, Timings: d.Timings, Sensitivity: d.Sensitivity, Fallback: d.Fallback}
	if q := d.Quant; q != nil {
		r.Quant = &ptq.Report{Mode: q.Mode, Layers: q.Layers, Times: q.Times, FP32Bytes: q.FP32Bytes, Int8Bytes: q.Int8Bytes,
			OutputSQNR: q.OutputSQNR, Notes: q.Notes}
		if c := q.Calibration; c != nil {
			rc := &ptq.CalibrationReport{Method: c.Method, Batches: c.Batches, Samples: c.Samples, Converged: c.Converged,
				ConvergedAt: c.ConvergedAt, Tolerance: c.Tolerance, Patience: c.Patience}
			if c.History != nil {
				rc.History = make([]ptq.CalibrationStep, len(c.History))
			}
			for i, s := range c.History {
				rc.History[i] = ptq.CalibrationStep{Batch: s.Batch, Samples: s.Samples, Worst: s.Worst, Converged: s.Converged, MaxScaleChange: math.Inf(1)}
				if s.MaxScaleChange != nil {
					rc.History[i].MaxScaleChange = *s.MaxScaleChange
				}
			}
			r.Quant.Calibration = rc
		}
	}
	return r
}

// WriteJSON writes the run as indented JSON in the Schema format described
// in the package documentation. Fields with a default (Title, MaxDrop,
// SQNRReference, the byte counts, CalibrationSamples) are written with the
// value in effect, so ReadJSON gives back a Run that renders identically.
// Map keys are sorted: the same Run always gives the same bytes.
func WriteJSON(w io.Writer, r *Run) error {
	if err := r.validate(); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(toJSON(r)); err != nil {
		return fmt.Errorf("report: encoding JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadJSON reads a report written by WriteJSON. It refuses another schema
// and a document that does not make a valid Run (ErrInvalidRun), and names
// the byte offset of malformed JSON. Unknown fields are ignored, so that
// newer writers of the same schema stay readable.
func ReadJSON(rd io.Reader) (*Run, error) {
	var d jsonRun
	if err := json.NewDecoder(rd).Decode(&d); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("report: reading JSON at byte %d: %w", se.Offset, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("report: reading JSON at byte %d: field %q: %w", te.Offset, te.Field, err)
		}
		return nil, fmt.Errorf("report: reading JSON: %w", err)
	}
	if d.Schema != Schema {
		return nil, fmt.Errorf("report: JSON schema %q, want %q: %w", d.Schema, Schema, ErrInvalidRun)
	}
	if d.Quant == nil {
		return nil, fmt.Errorf("report: JSON has no \"quantization\" object: %w", ErrInvalidRun)
	}
	r := fromJSON(&d)
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}
