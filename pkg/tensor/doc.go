// Package tensor provides a dense, row-major float32 N-dimensional array.
//
// # Overview
//
// A Tensor is a shape and a flat []float32 holding its elements in row-major
// (C) order. It knows nothing about neural networks: layers, quantization and
// data sets build on it.
//
// # Invariants
//
//   - Data() always has exactly Len() = product(Shape()) elements.
//   - Every tensor is contiguous. Views made by Reshape, Slice and Row share
//     the parent's storage: writing through a view writes the parent.
//   - A zero-dimensional tensor (empty shape) holds one element, a scalar.
//
// # Errors
//
// Operations whose validity depends on run-time shapes return a *ShapeError
// naming the operation and both shapes; every *ShapeError matches ErrShape,
// the one shape-mismatch error other packages' sentinels wrap
// (NewShapeSentinel). Numel is the one place where dimensions are
// multiplied: it refuses negative dimensions, products that overflow int
// and products above MaxElements (ErrTooLarge), the bound loaders and
// layer builders check before they allocate. A nil *Tensor is empty:
// accessors return zero values, operations that return errors refuse it. New panics on a negative dimension,
// which is a programming error, with a *ShapeError value.
package tensor
