package onnx

import (
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Tensor is a dense, row-major (C order) tensor: Data holds the
// product(Shape) elements with the last dimension varying fastest. An empty
// Shape with one element of Data is a scalar. The zero Tensor (nil Shape, nil
// Data) stands for an absent optional input, such as a zero point.
//
// Operators never modify or retain their input tensors; results own fresh
// Shape and Data slices.
type Tensor[T int8 | uint8 | int32 | float32] struct {
	Shape []int
	Data  []T
}

// absent reports whether t is the zero Tensor (an omitted optional input).
func (t Tensor[T]) absent() bool { return len(t.Shape) == 0 && len(t.Data) == 0 }

// numel returns the product of shape, or ok == false if a dimension is
// negative or the product overflows int.
func numel(shape []int) (n int, ok bool) {
	n = 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
		}
	}
	if n == 0 {
		return 0, true
	}
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// checkTensor verifies that t's Data holds exactly product(Shape) elements.
func checkTensor[T int8 | uint8 | int32 | float32](op, name string, t Tensor[T]) error {
	n, ok := numel(t.Shape)
	if !ok {
		return opErr(op, ErrShape, "%s: shape %v has a negative or overflowing dimension", name, t.Shape)
	}
	if n != len(t.Data) {
		return opErr(op, ErrShape, "%s: shape %v holds %d elements but Data has %d", name, t.Shape, n, len(t.Data))
	}
	return nil
}

// checkOptional is checkTensor for an optional input: the zero Tensor passes.
func checkOptional[T int8 | uint8 | int32 | float32](op, name string, t Tensor[T]) error {
	if t.absent() {
		return nil
	}
	return checkTensor(op, name, t)
}

// checkRequired is checkTensor for a parameter input (a scale) that must
// hold at least one element.
func checkRequired[T int8 | uint8 | int32 | float32](op, name string, t Tensor[T]) error {
	if t.absent() {
		return opErr(op, ErrShape, "%s is required but absent", name)
	}
	if err := checkTensor(op, name, t); err != nil {
		return err
	}
	if len(t.Data) == 0 {
		return opErr(op, ErrShape, "%s: shape %v holds no elements", name, t.Shape)
	}
	return nil
}

// bounds returns the saturation range of the 8-bit type T.
func bounds[T int8 | uint8]() (qmin, qmax int32) {
	var z T
	if _, ok := any(z).(int8); ok {
		return quant.Int8.Bounds()
	}
	return quant.UInt8.Bounds()
}

// zeroPoints widens a zero point to int32; the absent zero point is {0}.
func zeroPoints[T int8 | uint8 | int32](t Tensor[T]) []int32 {
	if t.absent() {
		return []int32{0}
	}
	out := make([]int32, len(t.Data))
	for i, v := range t.Data {
		out[i] = int32(v)
	}
	return out
}

// allocCheck fails with ErrTooLarge when a buffer of n elements is over
// tensor.MaxElements (or n could not be computed).
func allocCheck(op, what string, n int, ok bool) error {
	if limit := tensor.MaxElements(); !ok || n > limit {
		return opErr(op, ErrTooLarge, "%s needs more than %d elements (tensor.MaxElements)", what, limit)
	}
	return nil
}

// mulChecked multiplies non-negative ints, reporting overflow.
func mulChecked(a, b int) (int, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt/b {
		return 0, false
	}
	return a * b, true
}

// normAxis maps an ONNX axis in [-rank, rank-1] to [0, rank-1].
func normAxis(axis, rank int) (int, bool) {
	if axis < -rank || axis >= rank {
		return 0, false
	}
	if axis < 0 {
		axis += rank
	}
	return axis, true
}

// cloneShape copies a shape so results never alias inputs.
func cloneShape(s []int) []int { return slices.Clone(s) }
