package onnx

import (
	"errors"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Sentinel errors. Every error returned by this package is an *OpError that
// wraps exactly one of them, so callers match the condition with errors.Is.
var (
	// ErrShape reports a tensor whose shape or length does not fit the
	// operator: Data shorter or longer than the product of Shape, mismatched
	// inner dimensions, unbroadcastable batch dimensions, a scale or zero
	// point with the wrong number of elements, a wrong rank.
	ErrShape = tensor.NewShapeSentinel("shape mismatch")
	// ErrAxis reports a quantization axis outside [-rank, rank-1].
	ErrAxis = errors.New("axis out of range")
	// ErrAttribute reports a convolution attribute (pads, strides,
	// dilations, group) of the wrong length or with an invalid value.
	ErrAttribute = errors.New("invalid attribute")
	// ErrZeroPoint reports a zero point the operator does not allow: a
	// non-zero zero point for int32 DequantizeLinear.
	ErrZeroPoint = errors.New("invalid zero point")
	// ErrNonFinite reports a NaN or infinite input where the operator derives
	// its quantization parameters from the data (DynamicQuantizeLinear), or
	// a requantization multiplier that is NaN or infinite because a scale
	// is zero, NaN or infinite (QLinearMatMul, QLinearConv).
	ErrNonFinite = errors.New("non-finite value")
	// ErrTooLarge reports a result or intermediate buffer of more than
	// tensor.MaxElements elements (the project's one, settable bound). It
	// wraps tensor.ErrTooLarge, so errors.Is finds either.
	ErrTooLarge = fmt.Errorf("result too large: %w", tensor.ErrTooLarge)
)

// OpError is the error returned by every operator of this package. Its
// message reads "onnx: <Op>: <Kind>: <Detail>", for example
// "onnx: MatMulInteger: shape mismatch: a [4 3] and b [2 2]: inner dimensions 3 and 2 differ".
type OpError struct {
	Op     string // ONNX operator name, for example "QLinearConv"
	Kind   error  // one of the package's sentinel errors
	Detail string // which input, which shapes, which values
}

// Error implements the error interface.
func (e *OpError) Error() string {
	return "onnx: " + e.Op + ": " + e.Kind.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *OpError) Unwrap() error { return e.Kind }

// opErr builds an *OpError with a formatted detail.
func opErr(op string, kind error, format string, args ...any) error {
	return &OpError{Op: op, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
