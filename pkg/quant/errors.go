package quant

import (
	"errors"
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Sentinel errors, matched with errors.Is. The errors returned by this
// package wrap them with the details of what was wrong.
var (
	// ErrNonFinite reports a NaN or ±Inf where a finite value is needed:
	// in an observed batch, a range, a scale or a bias.
	ErrNonFinite = errors.New("quant: non-finite value")
	// ErrNoData reports an observer asked for qparams before it has seen a
	// single element.
	ErrNoData = errors.New("quant: observer has seen no data")
	// ErrInvalidSpec reports a Spec that no quantizer can honour.
	ErrInvalidSpec = errors.New("quant: invalid spec")
	// ErrInvalidParams reports QParams that break their invariants (a
	// non-positive scale, a zero point outside the integer range, ...).
	ErrInvalidParams = errors.New("quant: invalid quantization parameters")
	// ErrShape reports data whose shape or length does not fit the
	// parameters or the kernel it is given to. Kernels (GemmInt, Requantize)
	// panic with an error wrapping it, which is a programming error.
	ErrShape = tensor.NewShapeSentinel("quant: shape mismatch")
	// ErrUnknownMethod reports a calibration method outside the set of
	// Method constants: an unknown name (ParseMethod, UnmarshalText), or the
	// zero Method given to NewObserver.
	ErrUnknownMethod = errors.New("quant: unknown observer method")
)

// firstNonFinite returns the index of the first NaN or ±Inf in data, or -1.
func firstNonFinite(data []float32) int {
	for i, v := range data {
		// v-v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// nonFiniteError describes data[i] for an error message.
func nonFiniteError(prefix string, data []float32, i int) error {
	return fmt.Errorf("%s: element %d is %v: %w", prefix, i, data[i], ErrNonFinite)
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float32) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}

// shapePanic panics with an error wrapping ErrShape: kernels use it for
// misuse the type system could not prevent.
func shapePanic(format string, args ...any) {
	panic(fmt.Errorf("quant: "+format+": %w", append(args, ErrShape)...))
}
