package qnn

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Conv2D is the int8 twin of nn.Conv2D (NCHW, square stride and padding).
// Padding reads the input's zero point, which stands for real 0.
type Conv2D struct {
	InC, OutC, KH, KW, Stride, Pad int
	W                              Weights // [OutC, InC, KH, KW]
	InAct, OutAct                  Act
	ReLU                           bool
	rq                             Requantizer
}

// NewConv2D builds the kernel from quantized weights, a float bias (or
// nil) and the input's and output's qparams.
func NewConv2D(w Weights, inC, outC, kh, kw, stride, pad int, bias []float32, inAct, outAct Act, relu bool) (*Conv2D, error) {
	if stride < 1 || pad < 0 || kh < 1 || kw < 1 {
		return nil, fmt.Errorf("qnn: Conv2D: kernel %dx%d stride %d pad %d: %w", kh, kw, stride, pad, quant.ErrShape)
	}
	if len(w.Data) != outC*inC*kh*kw {
		return nil, fmt.Errorf("qnn: Conv2D: %d weights for [%d %d %d %d]: %w", len(w.Data), outC, inC, kh, kw, quant.ErrShape)
	}
	if len(w.Scale) != 1 && len(w.Scale) != outC {
		return nil, fmt.Errorf("qnn: Conv2D: %d weight scales for %d output channels: %w", len(w.Scale), outC, quant.ErrShape)
	}
	rq, err := newRequantizer(inAct, w, outAct, bias, outC, relu)
	if err != nil {
		return nil, fmt.Errorf("qnn: Conv2D: %w", err)
	}
	return &Conv2D{InC: inC, OutC: outC, KH: kh, KW: kw, Stride: stride, Pad: pad, W: w, InAct: inAct, OutAct: outAct, ReLU: relu, rq: rq}, nil
}

// Forward convolves a batch [N, InC, H, W] into [N, OutC, OH, OW].
func (l *Conv2D) Forward(x *Tensor) (*Tensor, error) {
	if len(x.Shape) != 4 || x.Shape[1] != l.InC {
		return nil, fmt.Errorf("qnn: Conv2D: input shape %v does not fit weight [%d %d %d %d]: %w", x.Shape, l.OutC, l.InC, l.KH, l.KW, quant.ErrShape)
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	oh := (h+2*l.Pad-l.KH)/l.Stride + 1
	ow := (w+2*l.Pad-l.KW)/l.Stride + 1
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("qnn: Conv2D: input %dx%d is smaller than kernel %dx%d with padding %d: %w", h, w, l.KH, l.KW, l.Pad, quant.ErrShape)
	}
	y := &Tensor{Shape: []int{n, l.OutC, oh, ow}, Data: make([]int8, n*l.OutC*oh*ow), Act: l.OutAct}
	inSize, outSize := l.InC*h*w, l.OutC*oh*ow
	k := l.InC * l.KH * l.KW
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for wkr := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cols := make([]int8, k*oh*ow)
			acc := make([]int32, outSize)
			for s := wkr; s < n; s += workers {
				im2col(x.Data[s*inSize:(s+1)*inSize], l.InC, h, w, l.KH, l.KW, l.Stride, l.Pad, oh, ow, int8(l.InAct.Zero), cols)
				quant.GemmInt(l.OutC, oh*ow, k, l.W.Data, l.W.Zero, cols, []int32{l.InAct.Zero}, acc)
				out := y.Data[s*outSize : (s+1)*outSize]
				for c := range l.OutC {
					row := acc[c*oh*ow : (c+1)*oh*ow]
					dst := out[c*oh*ow : (c+1)*oh*ow]
					for i, a := range row {
						dst[i] = l.rq.apply(a, c)
					}
				}
			}
		}()
	}
	wg.Wait()
	return y, nil
}

// im2col lays one sample out as a [C*KH*KW, OH*OW] matrix; positions in the
// padding read pad (the input zero point).
func im2col(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, cols []int8) {
	row := 0
	for ch := range c {
		plane := x[ch*h*w : (ch+1)*h*w]
		for ky := range kh {
			for kx := range kw {
				dst := cols[row*oh*ow : (row+1)*oh*ow]
				i := 0
				for oy := range oh {
					iy := oy*stride + ky - pad
					if iy < 0 || iy >= h {
						for ox := 0; ox < ow; ox++ {
							dst[i] = padv
							i++
						}
						continue
					}
					src := plane[iy*w : (iy+1)*w]
					for ox := range ow {
						ix := ox*stride + kx - pad
						if ix < 0 || ix >= w {
							dst[i] = padv
						} else {
							dst[i] = src[ix]
						}
						i++
					}
				}
				row++
			}
		}
	}
}

// Bytes is the storage of weights, scales and bias.
func (l *Conv2D) Bytes() int { return l.W.Bytes() + 4*len(l.rq.Bias) }
