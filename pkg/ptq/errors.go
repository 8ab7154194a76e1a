package ptq

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

var (
	// ErrInvalidConfig is wrapped by every configuration error.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNilModel is wrapped when a nil model (graph, Model or Forwarder)
	// is passed or used as a receiver.
	ErrNilModel = errors.New("nil model")
	// ErrNilReport is wrapped when a nil report is written.
	ErrNilReport = errors.New("nil report")
	// ErrUnmatchedOverride is wrapped when an override matches no layer.
	ErrUnmatchedOverride = errors.New("override matches no layer")
	// ErrNoCalibrationData is returned when calibration saw no batch, rather
	// than quantizing with made-up scales.
	ErrNoCalibrationData = errors.New("no calibration data")
	// ErrNoEvaluationData is returned when an evaluation (Accuracy, a
	// sensitivity analysis or a budgeted fallback) is given no samples.
	ErrNoEvaluationData = errors.New("no evaluation data")
	// ErrNotCalibrated is wrapped when Convert needs a statistic that
	// calibration never collected.
	ErrNotCalibrated = errors.New("not calibrated")
	// ErrNonFinite is wrapped when calibration data, activations or weights
	// hold NaN or Inf.
	ErrNonFinite = errors.New("non-finite value")
	// ErrUnknownValue is wrapped when a name is not one of a closed set's
	// (ParseRole, ParseMode, ParseMetric and their UnmarshalText).
	ErrUnknownValue = errors.New("unknown value")
	// ErrShape is wrapped when data does not fit the model's input.
	ErrShape = tensor.NewShapeSentinel("shape mismatch")
)

// NodeError is an error about one node of a model: its name, its layer
// kind and what went wrong. errors.As finds it; Err keeps the cause, and
// through it the sentinels (ErrNonFinite, quant.ErrNonFinite, ...) that
// errors.Is matches.
type NodeError struct {
	Node string // the node's name
	Kind string // the node's layer kind
	Err  error  // what went wrong
}

// Error renders `ptq: node "fc1" (Linear): ...`.
func (e *NodeError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("ptq: node %q (%s)", e.Node, e.Kind)
	}
	return fmt.Sprintf("ptq: node %q (%s): %s", e.Node, e.Kind, strings.TrimPrefix(e.Err.Error(), "ptq: "))
}

// errNilModel returns the error of an operation on a nil model.
func errNilModel(op string) error { return fmt.Errorf("ptq: %s: %w", op, ErrNilModel) }

// errNilReport returns the error of writing a nil report.
func errNilReport(what string) error { return fmt.Errorf("ptq: %s: %w", what, ErrNilReport) }

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }
