package tensor

import (
	"fmt"
	"slices"
	"strings"
)

// Tensor is a dense row-major float32 N-dimensional array.
// The zero value is an empty scalar-less tensor and is not useful; build
// tensors with New or FromData.
type Tensor struct {
	shape []int
	data  []float32
}

// New returns a zero-filled tensor of the given shape. It panics with a
// *ShapeError if a dimension is negative or the element count overflows
// int (programming errors: shapes from data go through Numel first).
func New(shape ...int) *Tensor {
	n, err := numel("new", shape)
	if err != nil {
		panic(err)
	}
	return &Tensor{shape: slices.Clone(shape), data: make([]float32, n)}
}

// FromData wraps data (without copying) as a tensor of the given shape.
// It returns a *ShapeError if len(data) differs from the shape's size.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n, err := numel("from data", shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, &ShapeError{Op: "from data", Got: slices.Clone(shape),
			Msg: fmt.Sprintf("needs %d elements, data has %d", n, len(data))}
	}
	return &Tensor{shape: slices.Clone(shape), data: data}, nil
}

// MustFromData is FromData that panics on error; for literals in tests and
// examples.
func MustFromData(data []float32, shape ...int) *Tensor {
	t, err := FromData(data, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int {
	if t == nil {
		return nil
	}
	return slices.Clone(t.shape)
}

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int {
	if t == nil {
		return 0
	}
	return len(t.shape)
}

// Dim returns the size of dimension i.
func (t *Tensor) Dim(i int) int { return t.shape[i] }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t == nil {
		return 0
	}
	return len(t.data)
}

// Data returns the underlying storage in row-major order. It is shared, not
// copied.
func (t *Tensor) Data() []float32 {
	if t == nil {
		return nil
	}
	return t.data
}

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool {
	if t == nil || u == nil {
		return t == u
	}
	return slices.Equal(t.shape, u.shape)
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	if t == nil {
		return nil
	}
	return &Tensor{shape: slices.Clone(t.shape), data: slices.Clone(t.data)}
}

// Reshape returns a view with a new shape and the same elements. One
// dimension may be -1, inferred from the others.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if t == nil {
		return nil, &ShapeError{Op: "reshape", Want: shape, Msg: "nil tensor"}
	}
	shape = slices.Clone(shape)
	infer := -1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, &ShapeError{Op: "reshape", Got: t.Shape(), Want: shape, Msg: "bad target dimension"}
		}
	}
	known, err := numel("reshape", slices.DeleteFunc(slices.Clone(shape), func(d int) bool { return d == -1 }))
	if err != nil {
		return nil, &ShapeError{Op: "reshape", Got: t.Shape(), Want: shape, Msg: "element count overflows int", Err: ErrTooLarge}
	}
	if infer >= 0 {
		if known == 0 || len(t.data)%known != 0 {
			return nil, &ShapeError{Op: "reshape", Got: t.Shape(), Want: shape, Msg: "cannot infer -1"}
		}
		shape[infer] = len(t.data) / known
		known *= shape[infer]
	}
	if known != len(t.data) {
		return nil, &ShapeError{Op: "reshape", Got: t.Shape(), Want: shape, Msg: "element counts differ"}
	}
	return &Tensor{shape: shape, data: t.data}, nil
}

// Slice returns a view of rows [start, end) along the first dimension.
func (t *Tensor) Slice(start, end int) (*Tensor, error) {
	if t == nil {
		return nil, &ShapeError{Op: "slice", Msg: "nil tensor"}
	}
	if len(t.shape) == 0 || start < 0 || end > t.shape[0] || start > end {
		return nil, &ShapeError{Op: "slice", Got: t.Shape(), Msg: fmt.Sprintf("rows [%d, %d) out of range", start, end)}
	}
	row := 1
	for _, d := range t.shape[1:] {
		row *= d
	}
	shape := slices.Clone(t.shape)
	shape[0] = end - start
	return &Tensor{shape: shape, data: t.data[start*row : end*row : end*row]}, nil
}

// RowLen returns the number of elements in one entry along the first
// dimension (the product of all dimensions but the first).
func (t *Tensor) RowLen() int {
	if t == nil {
		return 0
	}
	if len(t.shape) == 0 {
		return 1
	}
	n := 1
	for _, d := range t.shape[1:] {
		n *= d
	}
	return n
}

// offset converts an index to a flat offset, panicking with a *ShapeError
// when it is out of range (a programming error).
func (t *Tensor) offset(idx []int) int {
	if len(idx) != len(t.shape) {
		panic(&ShapeError{Op: "index", Got: t.Shape(), Msg: fmt.Sprintf("index %v has wrong rank", idx)})
	}
	off := 0
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(&ShapeError{Op: "index", Got: t.Shape(), Msg: fmt.Sprintf("index %v out of range", idx)})
		}
		off = off*t.shape[i] + v
	}
	return off
}

// At returns the element at idx.
func (t *Tensor) At(idx ...int) float32 { return t.data[t.offset(idx)] }

// Set stores v at idx.
func (t *Tensor) Set(v float32, idx ...int) { t.data[t.offset(idx)] = v }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	if t == nil {
		return
	}
	for i := range t.data {
		t.data[i] = v
	}
}

// CopyFrom copies u's elements into t; the shapes must be equal.
func (t *Tensor) CopyFrom(u *Tensor) error {
	if t == nil || u == nil {
		return &ShapeError{Op: "copy", Got: u.Shape(), Want: t.Shape(), Msg: "nil tensor"}
	}
	if !t.SameShape(u) {
		return &ShapeError{Op: "copy", Got: u.Shape(), Want: t.Shape()}
	}
	copy(t.data, u.data)
	return nil
}

// Concat joins tensors along the first dimension; all other dimensions must
// agree.
func Concat(ts ...*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, &ShapeError{Op: "concat", Msg: "no tensors"}
	}
	if slices.Contains(ts, nil) {
		return nil, &ShapeError{Op: "concat", Msg: fmt.Sprintf("tensor %d is nil", slices.Index(ts, nil))}
	}
	first := ts[0]
	if first.Dims() == 0 {
		return nil, &ShapeError{Op: "concat", Got: first.Shape(), Msg: "scalar has no first dimension"}
	}
	rows, n := 0, 0
	for _, u := range ts {
		if u.Dims() != first.Dims() || !slices.Equal(u.shape[1:], first.shape[1:]) {
			return nil, &ShapeError{Op: "concat", Got: u.Shape(), Want: first.Shape(), Msg: "trailing dimensions differ"}
		}
		rows += u.shape[0]
		n += len(u.data)
	}
	data := make([]float32, 0, n)
	for _, u := range ts {
		data = append(data, u.data...)
	}
	shape := slices.Clone(first.shape)
	shape[0] = rows
	return &Tensor{shape: shape, data: data}, nil
}

// String renders the shape and up to the first eight elements.
func (t *Tensor) String() string {
	if t == nil {
		return "Tensor(nil)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range t.data {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteByte(']')
	return b.String()
}
