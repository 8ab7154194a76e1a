package onnx

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tn builds a tensor from a shape and its elements.
func tn[T int8 | uint8 | int32 | float32](shape []int, data ...T) Tensor[T] {
	return Tensor[T]{Shape: shape, Data: data}
}

// sc builds a one-element, rank-0 tensor.
func sc[T int8 | uint8 | int32 | float32](v T) Tensor[T] {
	return Tensor[T]{Shape: []int{}, Data: []T{v}}
}

// vec builds a 1-D tensor.
func vec[T int8 | uint8 | int32 | float32](data ...T) Tensor[T] {
	return Tensor[T]{Shape: []int{len(data)}, Data: data}
}

// wantTensor fails t unless got has exactly want's shape and elements.
func wantTensor[T int8 | uint8 | int32](t *testing.T, got, want Tensor[T]) {
	t.Helper()
	require.Equal(t, append([]int{}, want.Shape...), append([]int{}, got.Shape...), "shape") // nil == empty
	require.Equal(t, append([]T{}, want.Data...), append([]T{}, got.Data...), "data")
}

// wantFloats fails t unless got has want's shape and every element is
// within tol of want's (tol 0: bit-exact up to the sign of zero).
func wantFloats(t *testing.T, got, want Tensor[float32], tol float64) {
	t.Helper()
	require.Equal(t, append([]int{}, want.Shape...), append([]int{}, got.Shape...), "shape") // nil == empty
	require.Len(t, got.Data, len(want.Data))
	for i := range got.Data {
		require.InDelta(t, want.Data[i], got.Data[i], tol, "element %d\n got %v\nwant %v", i, got.Data, want.Data)
	}
}

// wantErr fails t unless err wraps kind, is an *OpError of operator op,
// and its message mentions every fragment.
func wantErr(t *testing.T, err error, op string, kind error, fragments ...string) {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, op, oe.Op, "operator of %q", err)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "onnx: "+op+": "), "error %q lacks its operator prefix", msg)
	for _, f := range fragments {
		assert.Contains(t, msg, f)
	}
}
