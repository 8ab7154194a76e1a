package qnn

import (
	"fmt"

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
		wt: quant.PackBT(outC, inC*kh*kw, w.Data, w.Zero)}, nil
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
	sc := getDynamicScratch()
	defer dynamicScratches.Put(sc)
	act, q, err := sc.quantizeDynamic(x.Data())
	if err != nil {
		return nil, fmt.Errorf("qnn: DynamicConv2D: %w", err)
	}
	n, h, w := shape[0], shape[2], shape[3]
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
	y := tensor.New(n, l.OutC, oh, ow)
	yd := y.Data()
	pos := oh * ow
	l.geom().accumulate(q, n, h, w, oh, ow, act.Zero, l.wt, func(s int, acc []int32) {
		// acc is [pos, c]; the output planes are [c, pos].
		dequantPlanesInUse(yd[s*l.OutC*pos:(s+1)*l.OutC*pos], acc, l.OutC, pos, scale, b)
	})
	return y, nil
}

// Bytes is the storage of weights, scales and the float bias.
func (l *DynamicConv2D) Bytes() int { return l.W.Bytes() + 4*len(l.Bias) }
