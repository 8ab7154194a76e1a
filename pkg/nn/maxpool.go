package nn

import (
	"encoding/json"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("MaxPool2D", func(raw json.RawMessage) (Layer, error) {
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

// PoolAttrs are the hyperparameters MaxPool2D and AvgPool2D save.
type PoolAttrs struct {
	K      int `json:"kernel"` // window size
	Stride int `json:"stride"` // window step
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

func checkPool(kind string, k, stride int) error {
	if k <= 0 || stride <= 0 {
		return configErrorf(kind, "kernel %d and stride %d must be positive", k, stride)
	}
	return nil
}

// poolOut returns the output spatial size of a K×K pooling over [C, H, W],
// or an error naming the shape (show is how to print it).
func poolOut(kind string, k, stride int, s []int, show string) (int, int, error) {
	if len(s) != 3 {
		return 0, 0, shapeErrorf(kind, "input shape %s does not fit [N C H W]", show)
	}
	oh, ow := ConvOutputSize(s[1], k, stride, 0), ConvOutputSize(s[2], k, stride, 0)
	if oh <= 0 || ow <= 0 {
		return 0, 0, shapeErrorf(kind, "input shape %s is smaller than the %dx%d window", show, k, k)
	}
	return oh, ow, nil
}

// Kind returns "MaxPool2D".
func (l *MaxPool2D) Kind() string { return "MaxPool2D" }

// OutputShape returns [C, OH, OW] for an input shape [C, H, W].
func (l *MaxPool2D) OutputShape(inputs [][]int) ([]int, error) {
	if err := checkPool(l.Kind(), l.K, l.Stride); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	oh, ow, err := poolOut(l.Kind(), l.K, l.Stride, s, batchShape(s))
	if err != nil {
		return nil, err
	}
	return []int{s[0], oh, ow}, nil
}

// Forward max-pools a batch [N, C, H, W].
func (l *MaxPool2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if err := checkPool(l.Kind(), l.K, l.Stride); err != nil {
		return nil, err
	}
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	oh, ow, err := poolOut(l.Kind(), l.K, l.Stride, shape[1:], fmt.Sprint(shape))
	if err != nil {
		return nil, err
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	y := tensor.New(n, c, oh, ow)
	var argmax []int32
	if mode == Train {
		argmax = make([]int32, y.Len())
	}
	xd, yd := x.Data(), y.Data()
	parallelFor(n*c, workers(n), func(_, p int) {
		xp := xd[p*h*w : (p+1)*h*w]
		for oy := range oh {
			for ox := range ow {
				o := p*oh*ow + oy*ow + ox
				best := oy*l.Stride*w + ox*l.Stride
				for ky := range l.K {
					row := (oy*l.Stride+ky)*w + ox*l.Stride
					for kx := range l.K {
						if v := xp[row+kx]; v > xp[best] || (v != v && xp[best] == xp[best]) {
							best = row + kx
						}
					}
				}
				yd[o] = xp[best]
				if argmax != nil {
					argmax[o] = int32(best)
				}
			}
		}
	})
	if mode == Train {
		l.shape, l.argmax = shape, argmax
	}
	return y, nil
}

// Backward routes each output gradient to the first maximum of its window.
func (l *MaxPool2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	n, c, h, w := l.shape[0], l.shape[1], l.shape[2], l.shape[3]
	planeOut := len(l.argmax) / max(1, n*c)
	if err := checkGradOut(l.Kind(), gradOut, []int{n, c, ConvOutputSize(h, l.K, l.Stride, 0), ConvOutputSize(w, l.K, l.Stride, 0)}); err != nil {
		return nil, err
	}
	dx := tensor.New(l.shape...)
	g, d := gradOut.Data(), dx.Data()
	for p := range n * c {
		dp := d[p*h*w : (p+1)*h*w]
		for j, v := range g[p*planeOut : (p+1)*planeOut] {
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
