package ptq

import (
	"errors"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

var (
	// ErrInvalidConfig is wrapped by every configuration error.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNilModel is wrapped when a nil model (graph, Model or Forwarder)
	// is passed or used as a receiver.
	ErrNilModel = errors.New("nil model")
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
