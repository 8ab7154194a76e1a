package nn

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("ZeroPad2D", func(raw json.RawMessage, _ int) (Layer, error) {
		var a ZeroPad2DAttrs
		if err := decodeAttrs("ZeroPad2D", raw, &a); err != nil {
			return nil, err
		}
		l := &ZeroPad2D{Top: a.Top, Left: a.Left, Bottom: a.Bottom, Right: a.Right}
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// ZeroPad2D pads the last two dimensions of an input [N, C, H, W] with
// zeros, Top rows above, Bottom below, Left columns before and Right after,
// as torch.nn.ZeroPad2d and ONNX Pad in constant mode: the output is
// [N, C, H+Top+Bottom, W+Left+Right]. It is what an imported Pad becomes
// when no Conv2D can absorb it: padding that is not the same on every
// side, or before a pool.
type ZeroPad2D struct {
	// Top, Left, Bottom and Right are the zero rows and columns added.
	Top, Left, Bottom, Right int

	shape []int // input shape of the last Train-mode Forward; nil before
}

// ZeroPad2DAttrs are the hyperparameters ZeroPad2D saves.
type ZeroPad2DAttrs struct {
	Top    int `json:"top"`    // ZeroPad2D.Top
	Left   int `json:"left"`   // ZeroPad2D.Left
	Bottom int `json:"bottom"` // ZeroPad2D.Bottom
	Right  int `json:"right"`  // ZeroPad2D.Right
}

// NewZeroPad2D returns a ZeroPad2D. It panics on a negative padding.
func NewZeroPad2D(top, left, bottom, right int) *ZeroPad2D {
	l := &ZeroPad2D{Top: top, Left: left, Bottom: bottom, Right: right}
	if err := l.check(); err != nil {
		panic(err.Error())
	}
	return l
}

// Kind returns "ZeroPad2D".
func (l *ZeroPad2D) Kind() string { return "ZeroPad2D" }

func (l *ZeroPad2D) check() error {
	if l.Top < 0 || l.Left < 0 || l.Bottom < 0 || l.Right < 0 {
		return configErrorf(l.Kind(), "padding (top %d, left %d, bottom %d, right %d) must not be negative", l.Top, l.Left, l.Bottom, l.Right)
	}
	return nil
}

// OutputShape returns [C, H+Top+Bottom, W+Left+Right] for an input shape
// [C, H, W]; an output above tensor.MaxElements is refused.
func (l *ZeroPad2D) OutputShape(inputs [][]int) ([]int, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if len(s) != 3 {
		return nil, shapeErrorf(l.Kind(), "input shape %s is not [N C H W]", batchShape(s))
	}
	for _, d := range []int{s[1], s[2], l.Top, l.Left, l.Bottom, l.Right} {
		if d > math.MaxInt32 {
			return nil, shapeErrorf(l.Kind(), "input shape %s with padding (%d, %d, %d, %d): a size above 2^31",
				batchShape(s), l.Top, l.Left, l.Bottom, l.Right)
		}
	}
	out := []int{s[0], s[1] + l.Top + l.Bottom, s[2] + l.Left + l.Right}
	if _, err := tensor.Numel(out); err != nil {
		return nil, fmt.Errorf("nn: %s: input shape %s: output %v: %w", l.Kind(), batchShape(s), out, err)
	}
	return out, nil
}

// Forward pads a batch [N, C, H, W].
func (l *ZeroPad2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if x.Dims() != 4 {
		return nil, shapeErrorf(l.Kind(), "input shape %v is not [N C H W]", x.Shape())
	}
	out, err := l.OutputShape([][]int{x.Shape()[1:]})
	if err != nil {
		return nil, err
	}
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	oh, ow := out[1], out[2]
	y := tensor.New(n, c, oh, ow)
	xd, yd := x.Data(), y.Data()
	for p := range n * c {
		src, dst := xd[p*h*w:(p+1)*h*w], yd[p*oh*ow:(p+1)*oh*ow]
		for r := range h {
			copy(dst[(r+l.Top)*ow+l.Left:], src[r*w:(r+1)*w])
		}
	}
	if mode == Train {
		l.shape = x.Shape()
	}
	return y, nil
}

// Backward returns the output gradient without its padded border.
func (l *ZeroPad2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	n, c, h, w := l.shape[0], l.shape[1], l.shape[2], l.shape[3]
	oh, ow := h+l.Top+l.Bottom, w+l.Left+l.Right
	if err := checkGradOut(l.Kind(), gradOut, []int{n, c, oh, ow}); err != nil {
		return nil, err
	}
	dx := tensor.New(l.shape...)
	gd, dd := gradOut.Data(), dx.Data()
	for p := range n * c {
		src, dst := gd[p*oh*ow:(p+1)*oh*ow], dd[p*h*w:(p+1)*h*w]
		for r := range h {
			copy(dst[r*w:(r+1)*w], src[(r+l.Top)*ow+l.Left:])
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: ZeroPad2D has no parameters.
func (l *ZeroPad2D) Params() []*Param { return nil }

// Clone returns a new ZeroPad2D with the same padding.
func (l *ZeroPad2D) Clone() Layer {
	return &ZeroPad2D{Top: l.Top, Left: l.Left, Bottom: l.Bottom, Right: l.Right}
}

// Attrs returns the padding as ZeroPad2DAttrs.
func (l *ZeroPad2D) Attrs() any {
	return ZeroPad2DAttrs{Top: l.Top, Left: l.Left, Bottom: l.Bottom, Right: l.Right}
}
