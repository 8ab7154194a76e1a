package nn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// This file holds what MaxPool2D and AvgPool2D share: their saved
// attributes, the checks of their window and input, and the walk over the
// windows of a channel plane.

// PoolAttrs are the hyperparameters MaxPool2D and AvgPool2D save.
type PoolAttrs struct {
	K      int `json:"kernel"` // window size
	Stride int `json:"stride"` // window step
}

// checkPool refuses a window size or stride that is not positive.
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

// poolOutputShape is the OutputShape of a K×K pooling layer: [C, OH, OW]
// for an input shape [C, H, W].
func poolOutputShape(kind string, k, stride int, inputs [][]int) ([]int, error) {
	if err := checkPool(kind, k, stride); err != nil {
		return nil, err
	}
	s, err := oneShape(kind, inputs)
	if err != nil {
		return nil, err
	}
	oh, ow, err := poolOut(kind, k, stride, s, batchShape(s))
	if err != nil {
		return nil, err
	}
	return []int{s[0], oh, ow}, nil
}

// poolGeom is the geometry of a K×K pooling with step stride and no
// padding of a batch [n, c, h, w] into [n, c, oh, ow]. Each of the n·c
// channel planes is pooled on its own.
type poolGeom struct {
	n, c, h, w int
	oh, ow     int
	k, stride  int
}

// poolInput checks a pooling layer's window and its single input, which
// must be a batch [N, C, H, W] with H and W at least K, and returns the
// input with the geometry of its pooling.
func poolInput(kind string, k, stride int, inputs []*tensor.Tensor) (*tensor.Tensor, poolGeom, error) {
	if err := checkPool(kind, k, stride); err != nil {
		return nil, poolGeom{}, err
	}
	x, err := oneInput(kind, inputs)
	if err != nil {
		return nil, poolGeom{}, err
	}
	shape := x.Shape()
	oh, ow, err := poolOut(kind, k, stride, shape[1:], fmt.Sprint(shape))
	if err != nil {
		return nil, poolGeom{}, err
	}
	return x, poolGeom{n: shape[0], c: shape[1], h: shape[2], w: shape[3], oh: oh, ow: ow, k: k, stride: stride}, nil
}

// poolGeomOf returns the geometry of a K×K pooling of a batch of the given
// shape [N, C, H, W], already checked by poolInput.
func poolGeomOf(shape []int, k, stride int) poolGeom {
	return poolGeom{n: shape[0], c: shape[1], h: shape[2], w: shape[3],
		oh: ConvOutputSize(shape[2], k, stride, 0), ow: ConvOutputSize(shape[3], k, stride, 0), k: k, stride: stride}
}

// windows calls fn(o, at) for each output element o of one channel plane
// in row-major order, where at is the index, in the input plane, of the
// top-left element of o's window; row ky of the window starts at at + ky·w.
func (g poolGeom) windows(fn func(o, at int)) {
	for oy := range g.oh {
		for ox := range g.ow {
			fn(oy*g.ow+ox, oy*g.stride*g.w+ox*g.stride)
		}
	}
}
