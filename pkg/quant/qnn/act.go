package qnn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Act are the per-tensor qparams of an int8-stored activation: real =
// (q - Zero) * Scale with q saturated to [Min, Max], all in the int8 storage
// domain (see the package documentation).
type Act struct {
	Scale    float32
	Zero     int32
	Min, Max int32
	Declared quant.QParams // the parameters as calibrated, int8 or uint8
}

// storageShift is the shift from a declared dtype's codes to int8 storage.
func storageShift(d quant.DType) int32 {
	if d == quant.UInt8 {
		return -128
	}
	return 0
}

// NewAct converts per-tensor int8 or uint8 qparams into int8 storage form.
func NewAct(p quant.QParams) (Act, error) {
	if err := p.Validate(); err != nil {
		return Act{}, err
	}
	if !p.PerTensor() {
		return Act{}, fmt.Errorf("qnn: activation qparams must be per-tensor, got %d channels on axis %d: %w", p.Channels(), p.Axis, quant.ErrInvalidParams)
	}
	sh := storageShift(p.DType)
	lo, hi := p.Bounds()
	return Act{Scale: p.Scale[0], Zero: p.ZeroPoint[0] + sh, Min: lo + sh, Max: hi + sh, Declared: p.Clone()}, nil
}

// Quantize maps FP32 values to int8 codes with ONNX QuantizeLinear's
// rounding and saturation.
func (a Act) Quantize(dst []int8, src []float32) {
	for i, v := range src {
		dst[i] = int8(quant.QuantizeValue(v, a.Scale, a.Zero, a.Min, a.Max))
	}
}

// Dequantize maps int8 codes back to FP32.
func (a Act) Dequantize(dst []float32, src []int8) {
	for i, q := range src {
		dst[i] = float32(int32(q)-a.Zero) * a.Scale
	}
}

// Tensor is an int8-stored activation: codes, shape (batch first) and
// qparams.
type Tensor struct {
	Shape []int
	Data  []int8
	Act   Act
}

// QuantizeTensor quantizes a float tensor with the given qparams.
func QuantizeTensor(t *tensor.Tensor, a Act) *Tensor {
	q := &Tensor{Shape: t.Shape(), Data: make([]int8, t.Len()), Act: a}
	a.Quantize(q.Data, t.Data())
	return q
}

// Dequantize returns the float tensor the codes stand for.
func (t *Tensor) Dequantize() *tensor.Tensor {
	out := tensor.New(t.Shape...)
	t.Act.Dequantize(out.Data(), t.Data)
	return out
}

// Weights are int8-stored weights with one (scale, zero point) per output
// channel or one for the whole tensor; uint8 weights are shifted to int8.
type Weights struct {
	Data     []int8
	Scale    []float32
	Zero     []int32
	Declared quant.QParams
}

// NewWeights takes a quantized weight tensor whose first dimension is the
// output channel; its qparams are per-tensor or per-channel on axis 0.
func NewWeights(q *quant.QTensor) (Weights, error) {
	p := q.Params()
	if !p.PerTensor() && p.Axis != 0 {
		return Weights{}, fmt.Errorf("qnn: weights must be per-tensor or per-channel on axis 0 (output channels), got axis %d: %w", p.Axis, quant.ErrInvalidParams)
	}
	sh := storageShift(p.DType)
	w := Weights{Data: make([]int8, q.Len()), Scale: p.Scale, Zero: make([]int32, len(p.ZeroPoint)), Declared: p}
	for i := range w.Data {
		w.Data[i] = int8(q.At(i) + sh)
	}
	for i, z := range p.ZeroPoint {
		w.Zero[i] = z + sh
	}
	return w, nil
}

// channel returns the index of channel c's parameters.
func (w Weights) channel(c int) int {
	if len(w.Scale) == 1 {
		return 0
	}
	return c
}

// Bytes is the storage of the weights: one byte per code plus 8 bytes per
// (scale, zero point) pair.
func (w Weights) Bytes() int { return len(w.Data) + 8*len(w.Scale) }
