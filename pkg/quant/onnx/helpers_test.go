package onnx

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
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
	if !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	if !slices.Equal(got.Data, want.Data) {
		t.Fatalf("data\n got %v\nwant %v", got.Data, want.Data)
	}
}

// wantFloats fails t unless got has want's shape and every element is
// within tol of want's (tol 0: bit-exact up to the sign of zero).
func wantFloats(t *testing.T, got, want Tensor[float32], tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	if len(got.Data) != len(want.Data) {
		t.Fatalf("%d elements, want %d", len(got.Data), len(want.Data))
	}
	for i := range got.Data {
		if d := math.Abs(float64(got.Data[i]) - float64(want.Data[i])); !(d <= tol) {
			t.Fatalf("element %d: got %v, want %v (tolerance %v)\n got %v\nwant %v", i, got.Data[i], want.Data[i], tol, got.Data, want.Data)
		}
	}
}

// wantErr fails t unless err wraps kind, is an *OpError of operator op,
// and its message mentions every fragment.
func wantErr(t *testing.T, err error, op string, kind error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q does not wrap %v", err, kind)
	}
	var oe *OpError
	if !errors.As(err, &oe) || oe.Op != op {
		t.Fatalf("error %q is not an *OpError of %s", err, op)
	}
	msg := err.Error()
	if want := "onnx: " + op + ": "; len(msg) < len(want) || msg[:len(want)] != want {
		t.Fatalf("error %q lacks prefix %q", msg, want)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Fatalf("error %q does not mention %q", msg, f)
		}
	}
}
