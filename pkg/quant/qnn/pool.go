package qnn

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

func poolShape(op string, x *Tensor, k, stride int) (n, c, h, w, oh, ow int, err error) {
	if len(x.Shape) != 4 || k < 1 || stride < 1 {
		return 0, 0, 0, 0, 0, 0, fmt.Errorf("qnn: %s: input shape %v with window %d stride %d: %w", op, x.Shape, k, stride, quant.ErrShape)
	}
	n, c, h, w = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow = (h-k)/stride+1, (w-k)/stride+1
	if h < k || w < k {
		return 0, 0, 0, 0, 0, 0, fmt.Errorf("qnn: %s: input %dx%d is smaller than window %d: %w", op, h, w, k, quant.ErrShape)
	}
	return n, c, h, w, oh, ow, nil
}

// MaxPool2D takes the largest code of every k×k window; quantization is
// monotone, so this equals quantizing the float max.
func MaxPool2D(x *Tensor, k, stride int) (*Tensor, error) {
	y := new(Tensor)
	if err := MaxPool2DInto(y, x, k, stride); err != nil {
		return nil, err
	}
	return y, nil
}

// AvgPool2D averages the codes of every k×k window with the input's
// qparams, rounding half to even.
func AvgPool2D(x *Tensor, k, stride int) (*Tensor, error) {
	y := new(Tensor)
	if err := AvgPool2DInto(y, x, k, stride); err != nil {
		return nil, err
	}
	return y, nil
}

func mean(win []int8) int8 {
	var s int32
	for _, v := range win {
		s += int32(v)
	}
	return int8(math.RoundToEven(float64(s) / float64(len(win))))
}

// maxPoolPlanes writes the k×k, stride max pooling of planes planes of
// h×w codes (src) to dst, planes of oh×ow codes. The common 2×2 window
// of stride 2 reads its two input rows once per output row; other
// windows take the maximum row by row.
func maxPoolPlanes(dst, src []int8, planes, h, w, oh, ow, k, stride int) {
	for p := range planes {
		plane := src[p*h*w : (p+1)*h*w]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for oy := range oh {
			o := out[oy*ow : (oy+1)*ow]
			if k == 2 && stride == 2 {
				r0 := plane[2*oy*w : 2*oy*w+2*ow]
				r1 := plane[(2*oy+1)*w : (2*oy+1)*w+2*ow]
				for ox := range o {
					o[ox] = max(r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1])
				}
				continue
			}
			for ox := range o {
				m := plane[oy*stride*w+ox*stride]
				for ky := range k {
					row := plane[(oy*stride+ky)*w+ox*stride:]
					for _, v := range row[:k] {
						m = max(m, v)
					}
				}
				o[ox] = m
			}
		}
	}
}

// avgPoolPlanes is maxPoolPlanes for the rounded mean of every window.
func avgPoolPlanes(dst, src []int8, planes, h, w, oh, ow, k, stride int) {
	div := float64(k * k)
	for p := range planes {
		plane := src[p*h*w : (p+1)*h*w]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for oy := range oh {
			for ox := range ow {
				var s int32
				for ky := range k {
					for _, v := range plane[(oy*stride+ky)*w+ox*stride:][:k] {
						s += int32(v)
					}
				}
				out[oy*ow+ox] = int8(math.RoundToEven(float64(s) / div))
			}
		}
	}
}

// GlobalAvgPool averages every channel plane: [N, C, H, W] -> [N, C].
func GlobalAvgPool(x *Tensor) (*Tensor, error) {
	y := new(Tensor)
	if err := GlobalAvgPoolInto(y, x); err != nil {
		return nil, err
	}
	return y, nil
}
