package qnn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestConvGeometryBounds checks the geometry limits of the int8
// convolutions: padding below the kernel (as PyTorch and nn.Conv2D
// require), positive sizes, and an output and per-sample buffers bounded
// by tensor.MaxElements, all refused with a typed error before anything
// is allocated.
func TestConvGeometryBounds(t *testing.T) {
	act := Act{Scale: 1, Min: -128, Max: 127}
	w := func(n int) Weights { return Weights{Data: make([]int8, n), Scale: []float32{1}, Zero: []int32{0}} }
	build := []struct {
		name                        string
		inC, outC, kh, kw, str, pad int
		want                        error
	}{
		{"pad equal to the kernel", 1, 1, 3, 3, 1, 3, quant.ErrShape},
		{"pad 16384 on a 1x1 kernel", 1, 1, 1, 1, 1, 16384, quant.ErrShape},
		{"pad 2^30", 1, 1, 1, 1, 1, 1 << 30, quant.ErrShape},
		{"pad below one side only", 1, 1, 5, 2, 1, 2, quant.ErrShape},
		{"no input channels", 0, 1, 3, 3, 1, 1, quant.ErrShape},
		{"no output channels", 1, 0, 3, 3, 1, 1, quant.ErrShape},
		{"stride 0", 1, 1, 3, 3, 0, 1, quant.ErrShape},
		{"negative pad", 1, 1, 3, 3, 1, -1, quant.ErrShape},
		{"stride beyond MaxElements", 1, 1, 1, 1, 1 << 40, 0, tensor.ErrTooLarge},
	}
	for _, c := range build {
		t.Run("build/"+c.name, func(t *testing.T) {
			n := max(c.inC*c.outC*c.kh*c.kw, 0)
			_, err := NewConv2D(w(n), c.inC, c.outC, c.kh, c.kw, c.str, c.pad, nil, act, act, false)
			assert.ErrorIs(t, err, c.want, "Conv2D")
			_, err = NewDynamicConv2D(w(n), c.inC, c.outC, c.kh, c.kw, c.str, c.pad, nil)
			assert.ErrorIs(t, err, c.want, "DynamicConv2D")
		})
	}

	conv, err := NewConv2D(w(9), 1, 1, 3, 3, 1, 1, nil, act, act, false)
	require.NoError(t, err)
	in := func(shape ...int) *Tensor {
		n, err := tensor.Numel(shape)
		require.NoError(t, err)
		return &Tensor{Shape: shape, Data: make([]int8, n), Act: act}
	}
	forward := []struct {
		name   string
		layer  func() *Conv2D
		x      *Tensor
		want   error
		detail string
	}{
		{"pad raised after construction", func() *Conv2D { c := *conv; c.Pad = 1 << 16; return &c }, in(1, 1, 2, 2), quant.ErrShape, "padding must be smaller than the kernel"},
		{"kernel widened after construction", func() *Conv2D { c := *conv; c.KW = 1 << 40; return &c }, in(1, 1, 2, 2), tensor.ErrTooLarge, "exceeds MaxElements"},
		{"input smaller than the kernel", func() *Conv2D { return conv }, in(1, 1, 0, 3), quant.ErrShape, "does not fit kernel 3x3"},
		{"data shorter than the shape", func() *Conv2D { return conv }, &Tensor{Shape: []int{1, 1, 4, 4}, Data: make([]int8, 15), Act: act}, quant.ErrShape, "holds 16 codes, Data has 15"},
		{"shape beyond MaxElements", func() *Conv2D { return conv }, &Tensor{Shape: []int{1 << 20, 1, 1 << 20, 1 << 20}, Act: act}, tensor.ErrTooLarge, "input"},
		{"negative dimension", func() *Conv2D { return conv }, &Tensor{Shape: []int{1, 1, -4, 4}, Act: act}, tensor.ErrShape, "negative"},
	}
	for _, c := range forward {
		t.Run("forward/"+c.name, func(t *testing.T) {
			_, err := c.layer().Forward(c.x)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.detail)
		})
	}
}

// TestConvOutputBoundedByMaxElements lowers tensor.MaxElements and checks
// that an output or im2row matrix above it is refused, naming the buffer,
// and that one within it runs.
func TestConvOutputBoundedByMaxElements(t *testing.T) {
	act := Act{Scale: 1, Min: -128, Max: 127}
	conv, err := NewConv2D(Weights{Data: make([]int8, 4*9), Scale: []float32{1}, Zero: []int32{0}}, 1, 4, 3, 3, 1, 1, nil, act, act, false)
	require.NoError(t, err)
	x := &Tensor{Shape: []int{2, 1, 16, 16}, Data: make([]int8, 512), Act: act}
	old := tensor.SetMaxElements(2000) // output 2·4·16·16 = 2048, im2row 16·16·9 = 2304
	t.Cleanup(func() { tensor.SetMaxElements(old) })
	_, err = conv.Forward(x)
	require.ErrorIs(t, err, tensor.ErrTooLarge)
	assert.Contains(t, err.Error(), "qnn: Conv2D: output [2 4 16 16]")

	tensor.SetMaxElements(2100)
	_, err = conv.Forward(x)
	require.ErrorIs(t, err, tensor.ErrTooLarge)
	assert.Contains(t, err.Error(), "im2row matrix of one sample [16 16 1 3 3]")

	tensor.SetMaxElements(2304)
	y, err := conv.Forward(x)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 4, 16, 16}, y.Shape)
}
