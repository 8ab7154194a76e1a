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
	// wt is W transposed and packed once for the GEMM: the weights are the
	// constant operand of every call.
	wt *quant.PackedB
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
	return &Conv2D{InC: inC, OutC: outC, KH: kh, KW: kw, Stride: stride, Pad: pad, W: w, InAct: inAct, OutAct: outAct, ReLU: relu, rq: rq,
		wt: quant.PackBT(outC, inC*kh*kw, w.Data, w.Zero)}, nil
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
			rows := make([]int8, oh*ow*k)
			acc := make([]int32, outSize)
			zero := []int32{l.InAct.Zero}
			for s := wkr; s < n; s += workers {
				im2row(x.Data[s*inSize:(s+1)*inSize], l.InC, h, w, l.KH, l.KW, l.Stride, l.Pad, oh, ow, int8(l.InAct.Zero), rows)
				// acc[pos, c] = Σ (rows[pos, :] - zIn)(W[c, :] - zW[c])
				quant.GemmIntPacked(oh*ow, rows, zero, l.wt, acc)
				// acc is [pos, c]; the output planes are [c, pos].
				l.rq.requantize(acc, oh*ow, l.OutC, y.Data[s*outSize:(s+1)*outSize], 1, oh*ow)
			}
		}()
	}
	wg.Wait()
	return y, nil
}

// im2row lays one sample out as a [OH*OW, C*KH*KW] matrix, one row per
// output position holding the window it reads; positions in the padding
// read pad (the input zero point).
func im2row(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, rows []int8) {
	k := c * kh * kw
	for oy := range oh {
		for ox := range ow {
			dst := rows[(oy*ow+ox)*k : (oy*ow+ox+1)*k]
			i := 0
			for ch := range c {
				plane := x[ch*h*w : (ch+1)*h*w]
				for ky := range kh {
					iy := oy*stride + ky - pad
					for kx := range kw {
						ix := ox*stride + kx - pad
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							dst[i] = padv
						} else {
							dst[i] = plane[iy*w+ix]
						}
						i++
					}
				}
			}
		}
	}
}

// Bytes is the storage of weights, scales and bias.
func (l *Conv2D) Bytes() int { return l.W.Bytes() + 4*len(l.rq.Bias) }
