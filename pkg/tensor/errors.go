package tensor

import (
	"errors"
	"fmt"
)

// Sentinel errors matched with errors.Is.
var (
	// ErrShape is the one shape-mismatch error of the project: every
	// *ShapeError matches it, and the shape sentinels of other packages
	// (nn.ErrLayerShape, nn.ErrInputShape, quant.ErrShape, ptq.ErrShape,
	// ...) wrap it, so errors.Is(err, tensor.ErrShape) finds any of them.
	ErrShape = errors.New("shape mismatch")
	// ErrTooLarge reports a shape whose element count overflows int or
	// exceeds MaxElements. It comes as a *ShapeError, which matches
	// ErrShape as well.
	ErrTooLarge = errors.New("too many elements")
)

// ShapeError reports an operation applied to tensors of incompatible shapes,
// or a shape that is not valid (a negative dimension, too many elements).
// It matches ErrShape, and Err when set, with errors.Is.
type ShapeError struct {
	Op   string // the operation, for example "reshape"
	Got  []int  // the shape that was supplied
	Want []int  // the shape that was expected, if any
	Msg  string // extra detail, if any
	Err  error  // a more specific cause, such as ErrTooLarge, or nil
}

// Error implements the error interface.
func (e *ShapeError) Error() string {
	s := fmt.Sprintf("tensor: %s: shape %v", e.Op, e.Got)
	if e.Want != nil {
		s += fmt.Sprintf(" does not match %v", e.Want)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns ErrShape and Err, if any.
func (e *ShapeError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrShape}
	}
	return []error{ErrShape, e.Err}
}

// NewShapeSentinel returns a sentinel error with message msg that matches
// ErrShape under errors.Is. Other packages declare their shape sentinels
// with it (nn.ErrLayerShape, quant.ErrShape, ...), so that one
// errors.Is(err, tensor.ErrShape) finds a shape mismatch from any package
// while each keeps its own sentinel and message.
func NewShapeSentinel(msg string) error { return &shapeSentinel{msg: msg} }

// shapeSentinel is a package's shape sentinel; it unwraps to ErrShape.
type shapeSentinel struct{ msg string }

func (e *shapeSentinel) Error() string { return e.msg }
func (e *shapeSentinel) Unwrap() error { return ErrShape }
