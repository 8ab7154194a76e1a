package qnn

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// DynamicLinear is a Linear with int8 weights whose FP32 input is quantized
// on every call, per tensor, to uint8 affine as ONNX DynamicQuantizeLinear
// does (range widened to include 0, scale = (max-min)/255, zero point
// round(-min/scale)), multiplied with int32 accumulation, and dequantized
// with the float bias added: inputs and outputs stay FP32 and no activation
// qparams are stored.
type DynamicLinear struct {
	In, Out int
	W       Weights
	Bias    []float32
	// wt is W packed once for the GEMM, as Linear does.
	wt *quant.PackedB
}

// NewDynamicLinear checks the weight and bias shapes.
func NewDynamicLinear(w Weights, in, out int, bias []float32) (*DynamicLinear, error) {
	if len(w.Data) != in*out || (len(w.Scale) != 1 && len(w.Scale) != out) {
		return nil, fmt.Errorf("qnn: DynamicLinear: %d weights and %d scales for [%d %d]: %w", len(w.Data), len(w.Scale), out, in, quant.ErrShape)
	}
	if bias != nil && len(bias) != out {
		return nil, fmt.Errorf("qnn: DynamicLinear: %d biases for %d outputs: %w", len(bias), out, quant.ErrShape)
	}
	return &DynamicLinear{In: in, Out: out, W: w, Bias: bias, wt: quant.PackBT(out, in, w.Data, w.Zero)}, nil
}

// DynamicParams returns the per-call input qparams DynamicQuantizeLinear
// picks for x, in int8 storage form (uint8 declared). An all-zero (or
// empty) input gets scale 1 and zero point 0, as ONNX Runtime does when
// max == min. NaN or ±Inf in x, or a range wider than float32 holds, is an
// error wrapping quant.ErrNonFinite: no finite scale exists.
func DynamicParams(x []float32) (Act, error) {
	lo, hi := float32(0), float32(0)
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Act{}, fmt.Errorf("qnn: dynamic quantization: input element %d is %v: %w", i, v, quant.ErrNonFinite)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.IsInf(float64(hi-lo), 0) {
		return Act{}, fmt.Errorf("qnn: dynamic quantization: input range [%g, %g] is wider than float32 holds: %w", lo, hi, quant.ErrNonFinite)
	}
	scale := (hi - lo) / 255
	if scale == 0 {
		return NewAct(quant.PerTensorParams(quant.UInt8, 1, 0))
	}
	zp := quant.Saturate(int32(quant.RoundHalfEven(-lo/scale)), 0, 255)
	return NewAct(quant.PerTensorParams(quant.UInt8, scale, zp))
}

// Forward computes [n, In] -> [n, Out] in FP32 through int8 arithmetic.
func (l *DynamicLinear) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if x.Dims() != 2 || x.Dim(1) != l.In {
		return nil, fmt.Errorf("qnn: DynamicLinear: input shape %v does not fit weight [%d %d]: %w", x.Shape(), l.Out, l.In, quant.ErrShape)
	}
	act, err := DynamicParams(x.Data())
	if err != nil {
		return nil, err
	}
	n := x.Dim(0)
	q := make([]int8, x.Len())
	act.Quantize(q, x.Data())
	acc := make([]int32, n*l.Out)
	quant.GemmIntPacked(n, q, []int32{act.Zero}, l.wt, acc)
	y := tensor.New(n, l.Out)
	yd := y.Data()
	for i := range n {
		for c := range l.Out {
			v := float32(float64(acc[i*l.Out+c]) * float64(act.Scale) * float64(l.W.Scale[l.W.channel(c)]))
			if l.Bias != nil {
				v += l.Bias[c]
			}
			yd[i*l.Out+c] = v
		}
	}
	return y, nil
}

// Bytes is the storage of weights, scales and the float bias.
func (l *DynamicLinear) Bytes() int { return l.W.Bytes() + 4*len(l.Bias) }
