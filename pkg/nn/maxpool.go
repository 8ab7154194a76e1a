package nn

import (
	"encoding/json"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("MaxPool2D", func(raw json.RawMessage, _ int) (Layer, error) {
		var a PoolAttrs
		if err := decodeAttrs("MaxPool2D", raw, &a); err != nil {
			return nil, err
		}
		l := &MaxPool2D{K: a.K, Stride: a.Stride}
		if err := checkPool(l.Kind(), l.K, l.Stride); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// MaxPool2D takes the maximum of every K×K window of each channel of an
// input [N, C, H, W], moving the window by Stride without padding, as
// torch.nn.MaxPool2d: the output is [N, C, OH, OW] with
// OH = (H - K)/Stride + 1 rounded down, OW likewise. A NaN in a window
// gives NaN; the gradient goes to the first maximum of each window.
type MaxPool2D struct {
	// K is the window size and Stride its step.
	K, Stride int

	shape  []int   // input shape of the last Train-mode Forward; nil before
	argmax []int32 // per output element, the index of its maximum in its input plane
}

// NewMaxPool2D returns a MaxPool2D with a k×k window and the given stride.
// It panics if k or stride is not positive.
func NewMaxPool2D(k, stride int) *MaxPool2D {
	if err := checkPool("MaxPool2D", k, stride); err != nil {
		panic(err.Error())
	}
	return &MaxPool2D{K: k, Stride: stride}
}

// Kind returns "MaxPool2D".
func (l *MaxPool2D) Kind() string { return "MaxPool2D" }

// OutputShape returns [C, OH, OW] for an input shape [C, H, W].
func (l *MaxPool2D) OutputShape(inputs [][]int) ([]int, error) {
	return poolOutputShape(l.Kind(), l.K, l.Stride, inputs)
}

// Forward max-pools a batch [N, C, H, W].
func (l *MaxPool2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, g, err := poolInput(l.Kind(), l.K, l.Stride, inputs)
	if err != nil {
		return nil, err
	}
	y := tensor.New(g.n, g.c, g.oh, g.ow)
	if mode == Eval {
		maxPoolEval(x.Data(), y.Data(), g)
		return y, nil
	}
	argmax := make([]int32, y.Len())
	xd, yd := x.Data(), y.Data()
	plane, planeOut := g.h*g.w, g.oh*g.ow
	workpool.For(g.n*g.c, workpool.Workers(g.n, 0), func(_, p int) {
		xp := xd[p*plane : (p+1)*plane]
		g.windows(func(o, at int) {
			best := at
			for ky := range g.k {
				row := at + ky*g.w
				for kx := range g.k {
					if v := xp[row+kx]; v > xp[best] || (v != v && xp[best] == xp[best]) {
						best = row + kx
					}
				}
			}
			yd[p*planeOut+o] = xp[best]
			argmax[p*planeOut+o] = int32(best)
		})
	})
	l.shape, l.argmax = x.Shape(), argmax
	return y, nil
}

// maxPoolEval is the Eval-mode max pool of xd into yd, with no record for
// Backward: the vector kernel f32gemm.MaxPool2x2 for the common 2×2
// window with stride 2, and a loop without per-window calls otherwise.
// Either takes the first NaN of a window, else its first maximum, as the
// Train-mode loop does.
func maxPoolEval(xd, yd []float32, g poolGeom) {
	plane, planeOut := g.h*g.w, g.oh*g.ow
	if g.k == 2 && g.stride == 2 && g.h%2 == 0 {
		// No window straddles two planes: each sample's C·H rows pool as
		// one plane.
		workpool.For(g.n, workpool.Workers(g.n, 0), func(_, i int) {
			f32gemm.MaxPool2x2(yd[i*g.c*planeOut:(i+1)*g.c*planeOut], xd[i*g.c*plane:(i+1)*g.c*plane], g.c*g.h, g.w, g.w)
		})
		return
	}
	workpool.For(g.n*g.c, workpool.Workers(g.n, 0), func(_, p int) {
		xp, yp := xd[p*plane:(p+1)*plane], yd[p*planeOut:(p+1)*planeOut]
		if g.k == 2 && g.stride == 2 {
			f32gemm.MaxPool2x2(yp, xp, g.h, g.w, g.w)
			return
		}
		for oy := range g.oh {
			for ox := range g.ow {
				at := oy*g.stride*g.w + ox*g.stride
				best := xp[at]
				for ky := range g.k {
					for _, v := range xp[at+ky*g.w : at+ky*g.w+g.k] {
						if v > best || (v != v && best == best) {
							best = v
						}
					}
				}
				yp[oy*g.ow+ox] = best
			}
		}
	})
}

// Backward routes each output gradient to the first maximum of its window.
func (l *MaxPool2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	g := poolGeomOf(l.shape, l.K, l.Stride)
	if err := checkGradOut(l.Kind(), gradOut, []int{g.n, g.c, g.oh, g.ow}); err != nil {
		return nil, err
	}
	dx := tensor.New(l.shape...)
	gd, d := gradOut.Data(), dx.Data()
	plane, planeOut := g.h*g.w, g.oh*g.ow
	for p := range g.n * g.c {
		dp := d[p*plane : (p+1)*plane]
		for j, v := range gd[p*planeOut : (p+1)*planeOut] {
			dp[l.argmax[p*planeOut+j]] += v
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: MaxPool2D has no parameters.
func (l *MaxPool2D) Params() []*Param { return nil }

// Clone returns a new MaxPool2D with the same window.
func (l *MaxPool2D) Clone() Layer { return &MaxPool2D{K: l.K, Stride: l.Stride} }

// Attrs returns the window as PoolAttrs.
func (l *MaxPool2D) Attrs() any { return PoolAttrs{K: l.K, Stride: l.Stride} }
