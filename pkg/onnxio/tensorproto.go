package onnxio

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// constant is a tensor known at import time: an initializer, a Constant
// node's value, or the result of shape arithmetic folded at import time.
// Exactly one of f and i is used, as isInt says. sym marks the elements
// of an integer constant that stand for the (symbolic) batch size; it is
// nil when none does.
type constant struct {
	dims  []int
	isInt bool
	f     []float32
	i     []int64
	sym   []bool
}

// numel is the element count of c.
func (c *constant) numel() int {
	if c.isInt {
		return len(c.i)
	}
	return len(c.f)
}

// hasSym reports whether any element of c is the symbolic batch size.
func (c *constant) hasSym() bool { return slices.Contains(c.sym, true) }

// checkedProduct multiplies dims with tensor's overflow-checked
// arithmetic, refusing negative dimensions, overflows and products above
// limit.
func checkedProduct(dims []int64, limit int) (int, bool) {
	ds := make([]int, len(dims))
	for k, d := range dims {
		if d < 0 || uint64(d) > math.MaxInt {
			return 0, false
		}
		ds[k] = int(d)
	}
	n, err := tensor.MulDims("onnxio", ds...)
	if err != nil || n > limit {
		return 0, false
	}
	return n, true
}

// decodeTensor decodes a TensorProto of type FLOAT, DOUBLE, INT64 or INT32
// (others are unsupported), from raw_data or the typed field. It checks
// the declared dimensions against the bytes present before it allocates
// anything; limit bounds the element count.
func decodeTensor(t *onnxpb.TensorProto, name string, limit int) (*constant, error) {
	unsupported := func(what string) error { return &UnsupportedError{Node: name, What: what} }
	if t == nil {
		return nil, invalidf(ErrInvalidGraph, "tensor %q has no value", name)
	}
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, unsupported("tensor with external data (data_location EXTERNAL)")
	}
	if t.GetSegment() != nil {
		return nil, unsupported("segmented tensor")
	}
	n, ok := checkedProduct(t.GetDims(), math.MaxInt)
	if !ok {
		return nil, invalidf(ErrTensorData, "tensor %q declares dimensions %v: negative, or a product that overflows", name, t.GetDims())
	}
	if n > limit {
		return nil, invalidf(ErrTooLarge, "tensor %q declares dimensions %v: %d elements, limit %d", name, t.GetDims(), n, limit)
	}
	dims := make([]int, len(t.GetDims()))
	for k, d := range t.GetDims() {
		dims[k] = int(d)
	}
	raw := t.GetRawData()
	size := func(elem int, typed int) error {
		have := typed
		if t.RawData != nil {
			if len(raw)%elem != 0 {
				return invalidf(ErrTensorData, "tensor %q: raw_data holds %d bytes, not a multiple of %d", name, len(raw), elem)
			}
			have = len(raw) / elem
		}
		if have != n {
			return invalidf(ErrTensorData, "tensor %q declares dimensions %v (%d elements) but holds %d", name, t.GetDims(), n, have)
		}
		return nil
	}
	c := &constant{dims: dims}
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		if err := size(4, len(t.GetFloatData())); err != nil {
			return nil, err
		}
		c.f = make([]float32, n)
		if t.RawData != nil {
			for k := range c.f {
				c.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		} else {
			copy(c.f, t.GetFloatData())
		}
	case onnxpb.TensorProto_DOUBLE:
		if err := size(8, len(t.GetDoubleData())); err != nil {
			return nil, err
		}
		c.f = make([]float32, n)
		for k := range c.f {
			if t.RawData != nil {
				c.f[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:])))
			} else {
				c.f[k] = float32(t.GetDoubleData()[k])
			}
		}
	case onnxpb.TensorProto_INT64:
		if err := size(8, len(t.GetInt64Data())); err != nil {
			return nil, err
		}
		c.isInt = true
		c.i = make([]int64, n)
		if t.RawData != nil {
			for k := range c.i {
				c.i[k] = int64(binary.LittleEndian.Uint64(raw[8*k:]))
			}
		} else {
			copy(c.i, t.GetInt64Data())
		}
	case onnxpb.TensorProto_INT32:
		if err := size(4, len(t.GetInt32Data())); err != nil {
			return nil, err
		}
		c.isInt = true
		c.i = make([]int64, n)
		for k := range c.i {
			if t.RawData != nil {
				c.i[k] = int64(int32(binary.LittleEndian.Uint32(raw[4*k:])))
			} else {
				c.i[k] = int64(t.GetInt32Data()[k])
			}
		}
	default:
		return nil, unsupported("tensor of data type " + onnxpb.TensorProto_DataType(t.GetDataType()).String())
	}
	return c, nil
}
