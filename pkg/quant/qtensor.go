package quant

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// QTensor is a quantized tensor: a shape, one byte per element and the
// parameters that map the bytes back to real values. Its fields are
// private so that it always satisfies its invariants: exactly one of the
// int8 and uint8 slices is used (the one matching Params().DType), it has
// product(shape) elements, and its parameters are valid for its shape.
type QTensor struct {
	shape  []int
	params QParams
	i8     []int8
	u8     []uint8
}

// layout splits a shape around the channel axis of p: outer × channels ×
// inner elements. Per-tensor parameters give (1, 1, numel). It checks that
// the parameters fit the shape.
func layout(op string, shape []int, p QParams) (outer, channels, inner int, err error) {
	if err := p.Validate(); err != nil {
		return 0, 0, 0, fmt.Errorf("quant: %s: %w", op, err)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if p.PerTensor() {
		return 1, 1, n, nil
	}
	if p.Axis >= len(shape) {
		return 0, 0, 0, fmt.Errorf("quant: %s: axis %d out of range for shape %v: %w", op, p.Axis, shape, ErrShape)
	}
	if c := shape[p.Axis]; c != len(p.Scale) {
		return 0, 0, 0, fmt.Errorf("quant: %s: %d scales for axis %d of shape %v, want %d: %w",
			op, len(p.Scale), p.Axis, shape, c, ErrShape)
	}
	outer, inner = 1, 1
	for _, d := range shape[:p.Axis] {
		outer *= d
	}
	for _, d := range shape[p.Axis+1:] {
		inner *= d
	}
	return outer, shape[p.Axis], inner, nil
}

// Quantize maps each element x of t to saturate(round_half_even(x/scale) +
// zeroPoint) with the scale and zero point of its channel, as ONNX
// QuantizeLinear does. NaN maps to the zero point. It returns an error if
// p is invalid or does not fit t's shape (the number of scales must equal
// the size of dimension p.Axis).
func Quantize(t *tensor.Tensor, p QParams) (*QTensor, error) {
	shape := t.Shape()
	outer, channels, inner, err := layout("quantize", shape, p)
	if err != nil {
		return nil, err
	}
	q := &QTensor{shape: shape, params: p.Clone()}
	data := t.Data()
	switch p.DType {
	case Int8:
		q.i8 = make([]int8, len(data))
		quantizeInto(q.i8, data, p, outer, channels, inner)
	case UInt8:
		q.u8 = make([]uint8, len(data))
		quantizeInto(q.u8, data, p, outer, channels, inner)
	}
	return q, nil
}

func quantizeInto[T int8 | uint8](dst []T, src []float32, p QParams, outer, channels, inner int) {
	qmin, qmax := p.Bounds()
	i := 0
	for range outer {
		for c := range channels {
			s, z := p.Scale[c], p.ZeroPoint[c]
			for _, x := range src[i : i+inner] {
				dst[i] = T(QuantizeValue(x, s, z, qmin, qmax))
				i++
			}
		}
	}
}

// FakeQuantize returns dequantize(quantize(t, p)) without keeping the
// integers: each element snapped to the nearest point of its channel's
// grid, saturated to the grid's ends. Errors are those of Quantize.
func FakeQuantize(t *tensor.Tensor, p QParams) (*tensor.Tensor, error) {
	shape := t.Shape()
	outer, channels, inner, err := layout("fake quantize", shape, p)
	if err != nil {
		return nil, err
	}
	qmin, qmax := p.Bounds()
	src := t.Data()
	out := tensor.New(shape...)
	dst := out.Data()
	i := 0
	for range outer {
		for c := range channels {
			s, z := p.Scale[c], p.ZeroPoint[c]
			for _, x := range src[i : i+inner] {
				dst[i] = DequantizeValue(QuantizeValue(x, s, z, qmin, qmax), s, z)
				i++
			}
		}
	}
	return out, nil
}

// NewQTensor wraps already-quantized data (without copying) as a QTensor.
// T must match p.DType, len(data) must equal the shape's size, every value
// must lie in p's bounds, and p must fit the shape.
func NewQTensor[T int8 | uint8](data []T, p QParams, shape ...int) (*QTensor, error) {
	shape = slices.Clone(shape)
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("quant: new qtensor: negative dimension in shape %v: %w", shape, ErrShape)
		}
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("quant: new qtensor: shape %v needs %d elements, data has %d: %w", shape, n, len(data), ErrShape)
	}
	if _, _, _, err := layout("new qtensor", shape, p); err != nil {
		return nil, err
	}
	q := &QTensor{shape: shape, params: p.Clone()}
	switch d := any(data).(type) {
	case []int8:
		if p.DType != Int8 {
			return nil, fmt.Errorf("quant: new qtensor: int8 data with %v params: %w", p.DType, ErrInvalidParams)
		}
		q.i8 = d
	case []uint8:
		if p.DType != UInt8 {
			return nil, fmt.Errorf("quant: new qtensor: uint8 data with %v params: %w", p.DType, ErrInvalidParams)
		}
		q.u8 = d
	}
	qmin, qmax := p.Bounds()
	for i := range q.Len() {
		if v := q.At(i); v < qmin || v > qmax {
			return nil, fmt.Errorf("quant: new qtensor: element %d = %d outside [%d, %d]: %w", i, v, qmin, qmax, ErrInvalidParams)
		}
	}
	return q, nil
}

// Shape returns a copy of the shape.
func (q *QTensor) Shape() []int { return slices.Clone(q.shape) }

// Params returns a copy of the quantization parameters.
func (q *QTensor) Params() QParams { return q.params.Clone() }

// DType returns the element type, Int8 or UInt8.
func (q *QTensor) DType() DType { return q.params.DType }

// Len returns the number of elements.
func (q *QTensor) Len() int { return max(len(q.i8), len(q.u8)) }

// Bytes returns the memory the elements take: one byte each. The
// parameters add 8 bytes per channel (ParamBytes).
func (q *QTensor) Bytes() int { return q.Len() }

// ParamBytes returns the memory of the parameters: a float32 scale and an
// int32 zero point per channel.
func (q *QTensor) ParamBytes() int { return 8 * len(q.params.Scale) }

// Int8s returns the elements, shared not copied, when DType is Int8, and
// nil otherwise.
func (q *QTensor) Int8s() []int8 { return q.i8 }

// Uint8s returns the elements, shared not copied, when DType is UInt8, and
// nil otherwise.
func (q *QTensor) Uint8s() []uint8 { return q.u8 }

// At returns the integer code of the element at flat (row-major) index i.
func (q *QTensor) At(i int) int32 {
	if q.i8 != nil {
		return int32(q.i8[i])
	}
	return int32(q.u8[i])
}

// Dequantize returns the real tensor (q - zeroPoint) * scale, element by
// element with its channel's parameters, as ONNX DequantizeLinear does.
func (q *QTensor) Dequantize() *tensor.Tensor {
	out := tensor.New(q.shape...)
	outer, channels, inner, err := layout("dequantize", q.shape, q.params)
	if err != nil {
		panic(err) // unreachable: constructors validated the parameters
	}
	if q.i8 != nil {
		dequantizeInto(out.Data(), q.i8, q.params, outer, channels, inner)
	} else {
		dequantizeInto(out.Data(), q.u8, q.params, outer, channels, inner)
	}
	return out
}

func dequantizeInto[T int8 | uint8](dst []float32, src []T, p QParams, outer, channels, inner int) {
	i := 0
	for range outer {
		for c := range channels {
			s, z := p.Scale[c], p.ZeroPoint[c]
			for _, v := range src[i : i+inner] {
				dst[i] = DequantizeValue(int32(v), s, z)
				i++
			}
		}
	}
}

// String renders the shape, parameters and up to eight codes.
func (q *QTensor) String() string {
	n := min(q.Len(), 8)
	codes := make([]int32, n)
	for i := range codes {
		codes[i] = q.At(i)
	}
	more := ""
	if q.Len() > n {
		more = " ..."
	}
	return fmt.Sprintf("QTensor%v(%v)%v%s", q.shape, q.params, codes, more)
}
