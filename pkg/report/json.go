package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
	Quant              *ptq.Report            `json:"quantization"`
	Sensitivity        *ptq.SensitivityReport `json:"sensitivity,omitempty"`
	Fallback           *ptq.FallbackReport    `json:"fallback,omitempty"`
}

// toJSON builds the document of a validated run. The quantization report
// is ptq's own JSON (ptq.Report).
func toJSON(r *Run) *jsonRun {
	return &jsonRun{Schema: Schema, Title: r.title(), Model: r.Model, Config: r.Config, CalibrationSamples: r.calibrationSamples(),
		FP32Accuracy: r.FP32Accuracy, Int8Accuracy: r.Int8Accuracy, AccuracyDrop: r.drop(), MaxDrop: r.maxDrop(), WithinBudget: r.withinBudget(),
		FP32Bytes: r.fp32Bytes(), Int8Bytes: r.int8Bytes(), SizeRatio: r.sizeRatio(), SQNRReference: r.sqnrRef(), Timings: r.Timings,
		Sensitivity: r.Sensitivity, Fallback: r.Fallback, Quant: r.Quant}
}

// fromJSON rebuilds a run from its document.
func fromJSON(d *jsonRun) *Run {
	return &Run{Title: d.Title, Model: d.Model, Config: d.Config, CalibrationSamples: d.CalibrationSamples,
		FP32Accuracy: d.FP32Accuracy, Int8Accuracy: d.Int8Accuracy, FP32Bytes: d.FP32Bytes, Int8Bytes: d.Int8Bytes,
		MaxDrop: d.MaxDrop, SQNRReference: d.SQNRReference, Timings: d.Timings, Sensitivity: d.Sensitivity, Fallback: d.Fallback,
		Quant: d.Quant}
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
