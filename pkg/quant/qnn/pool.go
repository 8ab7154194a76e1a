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
	return pool("MaxPool2D", x, k, stride, func(win []int8) int8 { return maxOf(win) })
}

// AvgPool2D averages the codes of every k×k window with the input's
// qparams, rounding half to even.
func AvgPool2D(x *Tensor, k, stride int) (*Tensor, error) {
	return pool("AvgPool2D", x, k, stride, func(win []int8) int8 { return mean(win) })
}

func maxOf(win []int8) int8 {
	m := win[0]
	for _, v := range win[1:] {
		m = max(m, v)
	}
	return m
}

func mean(win []int8) int8 {
	var s int32
	for _, v := range win {
		s += int32(v)
	}
	return int8(math.RoundToEven(float64(s) / float64(len(win))))
}

func pool(op string, x *Tensor, k, stride int, f func([]int8) int8) (*Tensor, error) {
	n, c, h, w, oh, ow, err := poolShape(op, x, k, stride)
	if err != nil {
		return nil, err
	}
	y := &Tensor{Shape: []int{n, c, oh, ow}, Data: make([]int8, n*c*oh*ow), Act: x.Act}
	win := make([]int8, k*k)
	o := 0
	for p := range n * c {
		plane := x.Data[p*h*w : (p+1)*h*w]
		for oy := range oh {
			for ox := range ow {
				i := 0
				for ky := range k {
					row := plane[(oy*stride+ky)*w:]
					for kx := range k {
						win[i] = row[ox*stride+kx]
						i++
					}
				}
				y.Data[o] = f(win)
				o++
			}
		}
	}
	return y, nil
}

// GlobalAvgPool averages every channel plane: [N, C, H, W] -> [N, C].
func GlobalAvgPool(x *Tensor) (*Tensor, error) {
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("qnn: GlobalAvgPool: input shape %v is not [N C H W]: %w", x.Shape, quant.ErrShape)
	}
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	y := &Tensor{Shape: []int{n, c}, Data: make([]int8, n*c), Act: x.Act}
	for p := range n * c {
		y.Data[p] = mean(x.Data[p*hw : (p+1)*hw])
	}
	return y, nil
}
