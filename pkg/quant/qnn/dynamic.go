package qnn

import (
	"fmt"
	"math"
	"sync"

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
	// ws is each output channel's weight scale in float64, for the
	// dequantization.
	ws []float64
}

// dynamicScratch is the working memory of one dynamic Forward: the
// input's codes and the GEMM's accumulators, recycled between calls
// through dynamicScratches so that a steady stream of batches allocates
// only the layers' FP32 outputs.
type dynamicScratch struct {
	q     []int8
	acc   []int32
	zero  [1]int32
	scale []float64
	bias  []float32
}

// dynamicScratches recycles dynamicScratch values across calls and layers.
var dynamicScratches sync.Pool // of *dynamicScratch

func getDynamicScratch() *dynamicScratch {
	if sc, ok := dynamicScratches.Get().(*dynamicScratch); ok {
		return sc
	}
	return new(dynamicScratch)
}

// quantizeDynamic computes the per-call qparams of x (DynamicParams) and
// quantizes x with them into sc.q, through the vectorised kernels of the
// static path (quantizeCodes, which equals Act.Quantize code for code).
func (sc *dynamicScratch) quantizeDynamic(x []float32) (Act, []int8, error) {
	act, err := DynamicParams(x)
	if err != nil {
		return Act{}, nil, err
	}
	sc.q = grow(sc.q, len(x))
	quantizeCodes(sc.q, x, act.Scale, act.Zero, act.Min, act.Max)
	sc.zero[0] = act.Zero
	return act, sc.q, nil
}

// channelScales64 returns each of out channels' weight scale in float64.
func channelScales64(w Weights, out int) []float64 {
	ws := make([]float64, out)
	for c := range ws {
		ws[c] = float64(w.Scale[w.channel(c)])
	}
	return ws
}

// NewDynamicLinear checks the weight and bias shapes.
func NewDynamicLinear(w Weights, in, out int, bias []float32) (*DynamicLinear, error) {
	if len(w.Data) != in*out || (len(w.Scale) != 1 && len(w.Scale) != out) {
		return nil, fmt.Errorf("qnn: DynamicLinear: %d weights and %d scales for [%d %d]: %w", len(w.Data), len(w.Scale), out, in, quant.ErrShape)
	}
	if bias != nil && len(bias) != out {
		return nil, fmt.Errorf("qnn: DynamicLinear: %d biases for %d outputs: %w", len(bias), out, quant.ErrShape)
	}
	return &DynamicLinear{In: in, Out: out, W: w, Bias: bias, wt: quant.PackBT(out, in, w.Data, w.Zero), ws: channelScales64(w, out)}, nil
}

// DynamicParams returns the per-call input qparams DynamicQuantizeLinear
// picks for x, in int8 storage form (uint8 declared). An all-zero (or
// empty) input gets scale 1 and zero point 0, as ONNX Runtime does when
// max == min. NaN or ±Inf in x, or a range wider than float32 holds, is an
// error wrapping quant.ErrNonFinite: no finite scale exists.
func DynamicParams(x []float32) (Act, error) {
	lo, hi, finite := dynamicRange(x)
	if !finite {
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Act{}, fmt.Errorf("qnn: dynamic quantization: input element %d is %v: %w", i, v, quant.ErrNonFinite)
			}
		}
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
	n := x.Dim(0)
	y := tensor.New(n, l.Out)
	if err := l.ForwardInto(y.Data(), x.Data(), n); err != nil {
		return nil, err
	}
	return y, nil
}

// ForwardInto is Forward on n samples held flat in x (n·In values),
// writing the n·Out outputs into y, which must not overlap x. In steady
// state it allocates nothing.
func (l *DynamicLinear) ForwardInto(y, x []float32, n int) error {
	if len(x) != n*l.In || len(y) != n*l.Out {
		return fmt.Errorf("qnn: DynamicLinear: %d inputs and %d outputs for %d samples of [%d %d]: %w", len(x), len(y), n, l.Out, l.In, quant.ErrShape)
	}
	sc := getDynamicScratch()
	defer dynamicScratches.Put(sc)
	act, q, err := sc.quantizeDynamic(x)
	if err != nil {
		return err
	}
	sc.acc = grow(sc.acc, n*l.Out)
	acc := sc.acc
	quant.GemmIntPacked(n, q, sc.zero[:], l.wt, acc)
	dequantizeRows(y, acc, n, float64(act.Scale), l.ws, l.Bias)
	return nil
}

// dequantizeRows writes y[i, c] = float32(acc[i, c]·sIn·ws[c]) + bias[c]
// (the products in float64, left to right, the bias added in float32;
// no bias when bias is nil) for n rows of len(ws) channels.
func dequantizeRows(y []float32, acc []int32, n int, sIn float64, ws []float64, bias []float32) {
	out := len(ws)
	for i := range n {
		dequantRowInUse(y[i*out:(i+1)*out], acc[i*out:(i+1)*out], sIn, ws, bias)
	}
}

// Bytes is the storage of weights, scales and the float bias.
func (l *DynamicLinear) Bytes() int { return l.W.Bytes() + 4*len(l.Bias) }
