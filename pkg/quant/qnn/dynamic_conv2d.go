package qnn

import (
	"fmt"
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// DynamicConv2D is a Conv2D (NCHW, square stride and padding) with int8
// weights whose FP32 input is quantized on every call, per tensor, with
// DynamicParams (uint8, as ONNX DynamicQuantizeLinear does), convolved with
// int32 accumulation by Conv2D's im2row and GEMM, and dequantized with the
// float bias added: y[c] = acc[c]·sIn·sW[c] + b[c]. Inputs and outputs stay
// FP32 and no activation qparams are stored. Padding reads the input's
// zero point, which stands for real 0, so padded positions contribute
// exactly nothing, as in ConvInteger with x_zero_point padding.
type DynamicConv2D struct {
	InC, OutC, KH, KW, Stride, Pad int
	W                              Weights // [OutC, InC, KH, KW]
	Bias                           []float32
	// wt is W packed once for the GEMM, as Conv2D does.
	wt *quant.PackedB
	// wtCL is W packed in channels-last window order (kernel row, kernel
	// column, channel), as PreparedConv2D does, or nil for one input
	// channel: Forward then gathers each window as KH runs of KW·InC
	// codes instead of InC·KH runs of KW. The integer sums are the same.
	wtCL *quant.PackedB
}

// convScratch is one worker's im2row rows, padded sample and
// accumulators, recycled between calls through convScratches.
type convScratch struct {
	rows, padded []int8
	acc          []int32
}

var convScratches sync.Pool // of *convScratch

// accumulate is convGeom.accumulate on the channels-last windows and
// weights where the layer has them: emit(s, acc) gets sample s's
// accumulators [OH·OW, OutC], on the worker that computed them.
func (l *DynamicConv2D) accumulate(x []int8, n, h, w, oh, ow int, zero []int32, emit func(s int, acc []int32)) {
	g := l.geom()
	if l.wtCL == nil {
		g.accumulate(x, n, h, w, oh, ow, zero[0], l.wt, emit)
		return
	}
	inSize, k := g.inC*h*w, g.inC*g.kh*g.kw
	workers := workpool.Workers(n, 0)
	per := make([]*convScratch, workers)
	workpool.For(n, workers, func(wkr, s int) {
		sc := per[wkr]
		if sc == nil {
			sc, _ = convScratches.Get().(*convScratch)
			if sc == nil {
				sc = new(convScratch)
			}
			sc.rows = grow(sc.rows, oh*ow*k)
			sc.padded = grow(sc.padded, g.inC*(h+2*g.pad)*(w+2*g.pad))
			sc.acc = grow(sc.acc, oh*ow*g.outC)
			per[wkr] = sc
		}
		im2rowChannelsLast(x[s*inSize:(s+1)*inSize], g.inC, h, w, g.kh, g.kw, g.stride, g.pad, oh, ow, int8(zero[0]), sc.rows, sc.padded)
		quant.GemmIntPacked(oh*ow, sc.rows, zero, l.wtCL, sc.acc)
		emit(s, sc.acc)
	})
	for _, sc := range per {
		if sc != nil {
			convScratches.Put(sc)
		}
	}
}

// channelsLastWeights returns w [outC, inC, kh, kw] packed in (kernel
// row, kernel column, channel) order, or nil for one input channel.
func channelsLastWeights(w Weights, inC, outC, kh, kw int) *quant.PackedB {
	if inC == 1 {
		return nil
	}
	k := inC * kh * kw
	perm := make([]int8, len(w.Data))
	for o := range outC {
		for ch := range inC {
			for ky := range kh {
				for kx := range kw {
					perm[o*k+(ky*kw+kx)*inC+ch] = w.Data[o*k+(ch*kh+ky)*kw+kx]
				}
			}
		}
	}
	return quant.PackBT(outC, k, perm, w.Zero)
}

// NewDynamicConv2D checks the geometry and the weight and bias shapes.
func NewDynamicConv2D(w Weights, inC, outC, kh, kw, stride, pad int, bias []float32) (*DynamicConv2D, error) {
	if err := checkGeometry("DynamicConv2D", inC, outC, kh, kw, stride, pad); err != nil {
		return nil, err
	}
	if len(w.Data) != outC*inC*kh*kw || (len(w.Scale) != 1 && len(w.Scale) != outC) || len(w.Zero) != len(w.Scale) {
		return nil, fmt.Errorf("qnn: DynamicConv2D: %d weights and %d scales for [%d %d %d %d]: %w", len(w.Data), len(w.Scale), outC, inC, kh, kw, quant.ErrShape)
	}
	if bias != nil && len(bias) != outC {
		return nil, fmt.Errorf("qnn: DynamicConv2D: %d biases for %d output channels: %w", len(bias), outC, quant.ErrShape)
	}
	return &DynamicConv2D{InC: inC, OutC: outC, KH: kh, KW: kw, Stride: stride, Pad: pad, W: w, Bias: bias,
		wt: quant.PackBT(outC, inC*kh*kw, w.Data, w.Zero), wtCL: channelsLastWeights(w, inC, outC, kh, kw)}, nil
}

func (l *DynamicConv2D) geom() convGeom {
	return convGeom{l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad}
}

// Forward convolves a batch [N, InC, H, W] into [N, OutC, OH, OW] in FP32
// through int8 arithmetic. The input qparams are those of the whole batch
// (DynamicParams); a NaN or ±Inf input is an error wrapping
// quant.ErrNonFinite.
func (l *DynamicConv2D) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape := x.Shape()
	oh, ow, err := l.geom().outSize("DynamicConv2D", shape)
	if err != nil {
		return nil, err
	}
	y := tensor.New(shape[0], l.OutC, oh, ow)
	if err := l.ForwardInto(y.Data(), x.Data(), shape); err != nil {
		return nil, err
	}
	return y, nil
}

// ForwardInto is Forward on a batch x of the given shape [N, InC, H, W],
// held flat, writing the N·OutC·OH·OW outputs into y, which must not
// overlap x.
func (l *DynamicConv2D) ForwardInto(y, x []float32, shape []int) error {
	oh, ow, err := l.geom().outSize("DynamicConv2D", shape)
	if err != nil {
		return err
	}
	n, h, w := shape[0], shape[2], shape[3]
	if len(x) != n*l.InC*h*w || len(y) != n*l.OutC*oh*ow {
		return fmt.Errorf("qnn: DynamicConv2D: %d inputs and %d outputs for input shape %v: %w", len(x), len(y), shape, quant.ErrShape)
	}
	sc := getDynamicScratch()
	defer dynamicScratches.Put(sc)
	act, q, err := sc.quantizeDynamic(x)
	if err != nil {
		return fmt.Errorf("qnn: DynamicConv2D: %w", err)
	}
	// scale[c] = sIn·sW[c], in float64 as DynamicLinear computes it.
	sc.scale = grow(sc.scale, l.OutC)
	scale := sc.scale
	for c := range scale {
		scale[c] = float64(act.Scale) * float64(l.W.Scale[l.W.channel(c)])
	}
	// b[c] is the bias, 0 without one (added all the same, as before).
	sc.bias = grow(sc.bias, l.OutC)
	b := sc.bias
	clear(b)
	copy(b, l.Bias)
	pos := oh * ow
	l.accumulate(q, n, h, w, oh, ow, sc.zero[:], func(s int, acc []int32) {
		// acc is [pos, c]; the output planes are [c, pos].
		dequantPlanesInUse(y[s*l.OutC*pos:(s+1)*l.OutC*pos], acc, l.OutC, pos, scale, b)
	})
	return nil
}

// Bytes is the storage of weights, scales and the float bias.
func (l *DynamicConv2D) Bytes() int { return l.W.Bytes() + 4*len(l.Bias) }
