package nn

import (
	"encoding/json"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("AvgPool2D", func(raw json.RawMessage, _ int) (Layer, error) {
		var a PoolAttrs
		if err := decodeAttrs("AvgPool2D", raw, &a); err != nil {
			return nil, err
		}
		l := &AvgPool2D{K: a.K, Stride: a.Stride}
		if err := checkPool(l.Kind(), l.K, l.Stride); err != nil {
			return nil, err
		}
		return l, nil
	})
	Register("GlobalAvgPool", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("GlobalAvgPool", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewGlobalAvgPool(), nil
	})
}

// AvgPool2D averages every K×K window of each channel of an input
// [N, C, H, W], moving the window by Stride without padding, as
// torch.nn.AvgPool2d: the output is [N, C, OH, OW] with
// OH = (H - K)/Stride + 1 rounded down, OW likewise.
type AvgPool2D struct {
	// K is the window size and Stride its step.
	K, Stride int

	shape []int // input shape of the last Train-mode Forward; nil before
}

// NewAvgPool2D returns an AvgPool2D with a k×k window and the given stride.
// It panics if k or stride is not positive.
func NewAvgPool2D(k, stride int) *AvgPool2D {
	if err := checkPool("AvgPool2D", k, stride); err != nil {
		panic(err.Error())
	}
	return &AvgPool2D{K: k, Stride: stride}
}

// Kind returns "AvgPool2D".
func (l *AvgPool2D) Kind() string { return "AvgPool2D" }

// OutputShape returns [C, OH, OW] for an input shape [C, H, W].
func (l *AvgPool2D) OutputShape(inputs [][]int) ([]int, error) {
	return poolOutputShape(l.Kind(), l.K, l.Stride, inputs)
}

// Forward average-pools a batch [N, C, H, W]. Each window is summed in
// row-major order, then divided by K·K.
func (l *AvgPool2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, g, err := poolInput(l.Kind(), l.K, l.Stride, inputs)
	if err != nil {
		return nil, err
	}
	y := tensor.New(g.n, g.c, g.oh, g.ow)
	xd, yd := x.Data(), y.Data()
	area := float32(g.k * g.k)
	plane, planeOut := g.h*g.w, g.oh*g.ow
	workpool.For(g.n*g.c, workpool.Workers(g.n, 0), func(_, p int) {
		xp, yp := xd[p*plane:(p+1)*plane], yd[p*planeOut:(p+1)*planeOut]
		for oy := range g.oh {
			for ox := range g.ow {
				at := oy*g.stride*g.w + ox*g.stride
				var s float32
				for ky := range g.k {
					for _, v := range xp[at+ky*g.w : at+ky*g.w+g.k] {
						s += v
					}
				}
				yp[oy*g.ow+ox] = s / area
			}
		}
	})
	if mode == Train {
		l.shape = x.Shape()
	}
	return y, nil
}

// Backward spreads each output gradient, divided by K·K, over its window.
func (l *AvgPool2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	g := poolGeomOf(l.shape, l.K, l.Stride)
	if err := checkGradOut(l.Kind(), gradOut, []int{g.n, g.c, g.oh, g.ow}); err != nil {
		return nil, err
	}
	dx := tensor.New(l.shape...)
	gd, d := gradOut.Data(), dx.Data()
	area := float32(g.k * g.k)
	plane, planeOut := g.h*g.w, g.oh*g.ow
	for p := range g.n * g.c {
		dp, gp := d[p*plane:(p+1)*plane], gd[p*planeOut:(p+1)*planeOut]
		g.windows(func(o, at int) {
			v := gp[o] / area
			for ky := range g.k {
				row := at + ky*g.w
				for kx := range g.k {
					dp[row+kx] += v
				}
			}
		})
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: AvgPool2D has no parameters.
func (l *AvgPool2D) Params() []*Param { return nil }

// Clone returns a new AvgPool2D with the same window.
func (l *AvgPool2D) Clone() Layer { return &AvgPool2D{K: l.K, Stride: l.Stride} }

// Attrs returns the window as PoolAttrs.
func (l *AvgPool2D) Attrs() any { return PoolAttrs{K: l.K, Stride: l.Stride} }

// GlobalAvgPool averages each channel of an input [N, C, H, W] over H and W,
// giving [N, C], as torch.nn.AdaptiveAvgPool2d(1) followed by a flatten.
// Sums are accumulated in float64.
type GlobalAvgPool struct {
	shape []int // input shape of the last Train-mode Forward; nil before
}

// NewGlobalAvgPool returns a GlobalAvgPool layer.
func NewGlobalAvgPool() *GlobalAvgPool { return &GlobalAvgPool{} }

// Kind returns "GlobalAvgPool".
func (l *GlobalAvgPool) Kind() string { return "GlobalAvgPool" }

// OutputShape returns [C] for an input shape [C, H, W].
func (l *GlobalAvgPool) OutputShape(inputs [][]int) ([]int, error) {
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if len(s) != 3 || s[1] == 0 || s[2] == 0 {
		return nil, shapeErrorf(l.Kind(), "input shape %s does not fit [N C H W] with H, W > 0", batchShape(s))
	}
	return []int{s[0]}, nil
}

// Forward averages a batch [N, C, H, W] into [N, C].
func (l *GlobalAvgPool) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if len(shape) != 4 || shape[2] == 0 || shape[3] == 0 {
		return nil, shapeErrorf(l.Kind(), "input shape %v does not fit [N C H W] with H, W > 0", shape)
	}
	n, c, hw := shape[0], shape[1], shape[2]*shape[3]
	y := tensor.New(n, c)
	xd, yd := x.Data(), y.Data()
	for p := range n * c {
		var s float64
		for _, v := range xd[p*hw : (p+1)*hw] {
			s += float64(v)
		}
		yd[p] = float32(s / float64(hw))
	}
	if mode == Train {
		l.shape = shape
	}
	return y, nil
}

// Backward spreads each output gradient, divided by H·W, over its channel.
func (l *GlobalAvgPool) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	n, c, hw := l.shape[0], l.shape[1], l.shape[2]*l.shape[3]
	if err := checkGradOut(l.Kind(), gradOut, []int{n, c}); err != nil {
		return nil, err
	}
	dx := tensor.New(l.shape...)
	g, d := gradOut.Data(), dx.Data()
	for p := range n * c {
		v := g[p] / float32(hw)
		for j := range d[p*hw : (p+1)*hw] {
			d[p*hw+j] = v
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: GlobalAvgPool has no parameters.
func (l *GlobalAvgPool) Params() []*Param { return nil }

// Clone returns a new GlobalAvgPool.
func (l *GlobalAvgPool) Clone() Layer { return NewGlobalAvgPool() }

// Attrs returns an empty attribute set.
func (l *GlobalAvgPool) Attrs() any { return noAttrs{} }
