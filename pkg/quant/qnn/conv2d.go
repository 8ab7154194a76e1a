package qnn

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Conv2D is the int8 twin of nn.Conv2D (NCHW, square stride and padding).
// Padding reads the input's zero point, which stands for real 0.
type Conv2D struct {
	InC, OutC, KH, KW, Stride, Pad int
	W                              Weights // [OutC, InC, KH, KW]
	InAct, OutAct                  Act
	ReLU                           bool
	rq                             Requantizer
	// wt is W transposed and packed once for the GEMM: the weights are the
	// constant operand of every call.
	wt *quant.PackedB
}

// NewConv2D builds the kernel from quantized weights, a float bias (or
// nil) and the input's and output's qparams.
func NewConv2D(w Weights, inC, outC, kh, kw, stride, pad int, bias []float32, inAct, outAct Act, relu bool) (*Conv2D, error) {
	return newConv2D(w, inC, outC, kh, kw, stride, pad, inAct, outAct, relu, func() (Requantizer, error) {
		return newRequantizer(inAct, w, outAct, bias, outC, relu)
	})
}

// NewConv2DInt32Bias is NewConv2D with the bias already quantized, as
// NewLinearInt32Bias is NewLinear's.
func NewConv2DInt32Bias(w Weights, inC, outC, kh, kw, stride, pad int, bias []int32, inAct, outAct Act, relu bool) (*Conv2D, error) {
	return newConv2D(w, inC, outC, kh, kw, stride, pad, inAct, outAct, relu, func() (Requantizer, error) {
		return int32BiasRequantizer(inAct, w, outAct, bias, outC, relu)
	})
}

// newConv2D checks the geometry and shapes, then builds the requantizer
// with rq.
func newConv2D(w Weights, inC, outC, kh, kw, stride, pad int, inAct, outAct Act, relu bool, rq func() (Requantizer, error)) (*Conv2D, error) {
	if err := checkGeometry("Conv2D", inC, outC, kh, kw, stride, pad); err != nil {
		return nil, err
	}
	if len(w.Data) != outC*inC*kh*kw {
		return nil, fmt.Errorf("qnn: Conv2D: %d weights for [%d %d %d %d]: %w", len(w.Data), outC, inC, kh, kw, quant.ErrShape)
	}
	if len(w.Scale) != 1 && len(w.Scale) != outC {
		return nil, fmt.Errorf("qnn: Conv2D: %d weight scales for %d output channels: %w", len(w.Scale), outC, quant.ErrShape)
	}
	r, err := rq()
	if err != nil {
		return nil, fmt.Errorf("qnn: Conv2D: %w", err)
	}
	return &Conv2D{InC: inC, OutC: outC, KH: kh, KW: kw, Stride: stride, Pad: pad, W: w, InAct: inAct, OutAct: outAct, ReLU: relu, rq: r,
		wt: quant.PackBT(outC, inC*kh*kw, w.Data, w.Zero)}, nil
}

// Int32Bias returns a copy of the kernel's bias in int32, or nil.
func (l *Conv2D) Int32Bias() []int32 { return slices.Clone(l.rq.Bias) }

// Forward convolves a batch [N, InC, H, W] into [N, OutC, OH, OW].
func (l *Conv2D) Forward(x *Tensor) (*Tensor, error) {
	if err := checkCodes("Conv2D", x); err != nil {
		return nil, err
	}
	oh, ow, err := l.geom().outSize("Conv2D", x.Shape)
	if err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	y := &Tensor{Shape: []int{n, l.OutC, oh, ow}, Data: make([]int8, n*l.OutC*oh*ow), Act: l.OutAct}
	outSize := l.OutC * oh * ow
	l.geom().accumulate(x.Data, n, h, w, oh, ow, l.InAct.Zero, l.wt, func(s int, acc []int32) {
		// acc is [pos, c]; the output planes are [c, pos].
		l.rq.requantize(acc, oh*ow, l.OutC, y.Data[s*outSize:(s+1)*outSize], 1, oh*ow)
	})
	return y, nil
}

// convGeom is the geometry of a convolution: channels, kernel, stride and
// padding.
type convGeom struct{ inC, outC, kh, kw, stride, pad int }

func (l *Conv2D) geom() convGeom { return convGeom{l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad} }

// outSize checks an input shape [N, inC, H, W] against the geometry and
// returns the output's height and width; op names the layer in errors.
// The geometry itself is checked first (checkGeometry: padding below the
// kernel), so the output is at most (H+KH)×(W+KW), and the output and the
// buffers of one sample are bounded by tensor.MaxElements (checkBuffers),
// before anything is allocated.
func (g convGeom) outSize(op string, shape []int) (oh, ow int, err error) {
	if err := checkGeometry(op, g.inC, g.outC, g.kh, g.kw, g.stride, g.pad); err != nil {
		return 0, 0, err
	}
	if len(shape) != 4 || shape[1] != g.inC || min(shape[0], shape[2], shape[3]) < 0 {
		return 0, 0, fmt.Errorf("qnn: %s: input shape %v does not fit weight [%d %d %d %d]: %w", op, shape, g.outC, g.inC, g.kh, g.kw, quant.ErrShape)
	}
	h, w := shape[2], shape[3]
	if h > tensor.MaxElements() || w > tensor.MaxElements() || h+2*g.pad < g.kh || w+2*g.pad < g.kw {
		return 0, 0, fmt.Errorf("qnn: %s: input %dx%d does not fit kernel %dx%d with padding %d: %w", op, h, w, g.kh, g.kw, g.pad, quant.ErrShape)
	}
	oh = (h+2*g.pad-g.kh)/g.stride + 1
	ow = (w+2*g.pad-g.kw)/g.stride + 1
	if err := g.checkBuffers(op, shape[0], h, w, oh, ow); err != nil {
		return 0, 0, err
	}
	return oh, ow, nil
}

// accumulate computes, for each of the n samples of x ([n, inC, h, w]
// int8 codes with zero point zIn, which the padding reads), the int32
// accumulators acc[pos, c] = Σ (rows[pos, :] - zIn)(W[c, :] - zW[c]) of
// its oh×ow output positions against the packed weights wt, and hands
// them to emit(s, acc). Samples are spread over GOMAXPROCS goroutines;
// emit runs on the goroutine of sample s, and acc is reused after it
// returns.
func (g convGeom) accumulate(x []int8, n, h, w, oh, ow int, zIn int32, wt *quant.PackedB, emit func(s int, acc []int32)) {
	inSize, k := g.inC*h*w, g.inC*g.kh*g.kw
	type scratch struct {
		rows, padded []int8
		acc          []int32
	}
	workers := workpool.Workers(n, 0)
	per := make([]scratch, workers) // allocated by each worker on its first sample
	zero := []int32{zIn}
	workpool.For(n, workers, func(wkr, s int) {
		sc := &per[wkr]
		if sc.acc == nil {
			sc.rows = make([]int8, oh*ow*k)
			if g.pad > 0 {
				sc.padded = make([]int8, g.inC*(h+2*g.pad)*(w+2*g.pad))
			}
			sc.acc = make([]int32, oh*ow*g.outC)
		}
		im2row(x[s*inSize:(s+1)*inSize], g.inC, h, w, g.kh, g.kw, g.stride, g.pad, oh, ow, int8(zIn), sc.rows, sc.padded)
		quant.GemmIntPacked(oh*ow, sc.rows, zero, wt, sc.acc)
		emit(s, sc.acc)
	})
}

// im2row lays one sample [C, H, W] out as a [OH*OW, C*KH*KW] matrix, one
// row per output position holding the window it reads; positions in the
// padding read padv (the input zero point). With padding, the sample is
// first copied into padded, [C, H+2·pad, W+2·pad], row by row with
// copy(), only the border filled with padv, so that every window lies
// inside it and is gathered without bounds tests: a window's row of KW
// codes is one run of the (padded) input row, whatever the stride.
func im2row(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, rows, padded []int8) {
	src, hp, wp := x[:c*h*w], h, w
	if pad > 0 {
		hp, wp = h+2*pad, w+2*pad
		src = padded[:c*hp*wp]
		padPlanes(src, x, c, h, w, pad, padv)
	}
	k := c * kh * kw
	rows = rows[:oh*ow*k]
	for oy := range oh {
		out := rows[oy*ow*k : (oy+1)*ow*k]
		for ch := range c {
			for ky := range kh {
				// The input row this (channel, kernel row) reads for output
				// row oy, and where its runs go in each output row.
				srow := src[(ch*hp+oy*stride+ky)*wp : (ch*hp+oy*stride+ky+1)*wp]
				gatherRuns(out[(ch*kh+ky)*kw:], srow, ow, k, kw, stride)
			}
		}
	}
}

// gatherRuns copies, for each of n output positions p, the run
// srow[p·stride : p·stride+kw] to dst[p·k : p·k+kw]. Runs of 1 and 3
// codes (1x1 and 3x3 kernels) are moved by assignment, longer ones with
// copy().
func gatherRuns(dst, srow []int8, n, k, kw, stride int) {
	switch kw {
	case 1:
		if stride == 1 {
			srow = srow[:n]
			for p, v := range srow {
				dst[p*k] = v
			}
			return
		}
		for p := range n {
			dst[p*k] = srow[p*stride]
		}
	case 3:
		for p := range n {
			s := srow[p*stride : p*stride+3]
			d := dst[p*k : p*k+3]
			d[0], d[1], d[2] = s[0], s[1], s[2]
		}
	default:
		for p := range n {
			copy(dst[p*k:p*k+kw], srow[p*stride:p*stride+kw])
		}
	}
}

// padPlanes copies c planes of h×w codes from x into dst as planes of
// (h+2·pad)×(w+2·pad) codes, each input row copied whole, and fills the
// border of pad codes around them with padv.
func padPlanes(dst, x []int8, c, h, w, pad int, padv int8) {
	hp, wp := h+2*pad, w+2*pad
	for ch := range c {
		plane := dst[ch*hp*wp : (ch+1)*hp*wp]
		fill(plane[:pad*wp], padv)
		for y := range h {
			row := plane[(y+pad)*wp : (y+pad+1)*wp]
			fill(row[:pad], padv)
			copy(row[pad:pad+w], x[(ch*h+y)*w:(ch*h+y+1)*w])
			fill(row[pad+w:], padv)
		}
		fill(plane[(h+pad)*wp:], padv)
	}
}

// fill sets every element of s to v.
func fill(s []int8, v int8) {
	for i := range s {
		s[i] = v
	}
}

// Bytes is the storage of weights, scales and bias.
func (l *Conv2D) Bytes() int { return l.W.Bytes() + 4*len(l.rq.Bias) }
