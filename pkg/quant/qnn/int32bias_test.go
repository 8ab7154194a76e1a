package qnn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// kernel is what the test needs of Linear and Conv2D.
type kernel interface {
	Forward(x *Tensor) (*Tensor, error)
	Int32Bias() []int32
	Bytes() int
}

// TestInt32BiasRebuildsTheKernel rebuilds Linear and Conv2D kernels from
// another kernel's weights, qparams and Int32Bias, as a saved model is
// loaded, and expects the same codes (tolerance 0).
func TestInt32BiasRebuildsTheKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 8))
	in := testAct(t, quant.UInt8, -1, 2)
	out := testAct(t, quant.Int8, -3, 3)
	linear := func(n, inF, outF int, relu bool) func([]float32) (kernel, func([]int32) (kernel, error), *Tensor, error) {
		return func(b []float32) (kernel, func([]int32) (kernel, error), *Tensor, error) {
			w := testWeights(t, randTensor(r, -0.5, 0.5, outF, inF), quant.WeightDefault)
			k, err := NewLinear(w, inF, outF, b, in, out, relu)
			rebuild := func(b32 []int32) (kernel, error) { return NewLinearInt32Bias(w, inF, outF, b32, in, out, relu) }
			return k, rebuild, QuantizeTensor(randTensor(r, -1, 2, n, inF), in), err
		}
	}
	conv := func(b []float32) (kernel, func([]int32) (kernel, error), *Tensor, error) {
		w := testWeights(t, randTensor(r, -0.5, 0.5, 4, 2, 3, 3), quant.WeightDefault)
		k, err := NewConv2D(w, 2, 4, 3, 3, 2, 1, b, in, out, false)
		rebuild := func(b32 []int32) (kernel, error) { return NewConv2DInt32Bias(w, 2, 4, 3, 3, 2, 1, b32, in, out, false) }
		return k, rebuild, QuantizeTensor(randTensor(r, -1, 2, 2, 2, 7, 5), in), err
	}
	cases := []struct {
		name     string
		channels int
		bias     bool
		build    func(bias []float32) (kernel, func(bias []int32) (kernel, error), *Tensor, error)
	}{
		{"Linear with bias and ReLU", 5, true, linear(3, 7, 5, true)},
		{"Linear without bias", 4, false, linear(2, 6, 4, false)},
		{"Conv2D 3x3 stride 2 pad 1 with bias", 4, true, conv},
		{"Conv2D without bias", 4, false, conv},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var bias []float32
			if c.bias {
				bias = randBias(r, c.channels)
			}
			k, rebuild, x, err := c.build(bias)
			require.NoError(t, err)
			b32 := k.Int32Bias()
			require.Equal(t, c.bias, b32 != nil, "Int32Bias = %v for float bias %v", b32, bias)
			k2, err := rebuild(b32)
			require.NoError(t, err)
			want, err := k.Forward(x)
			require.NoError(t, err)
			got, err := k2.Forward(x)
			require.NoError(t, err)
			assert.Equal(t, want.Shape, got.Shape, "rebuilt kernel's shape")
			assert.Equal(t, want.Data, got.Data, "rebuilt kernel's codes")
			assert.Equal(t, k.Bytes(), k2.Bytes(), "rebuilt kernel's bytes")
			_, err = rebuild(make([]int32, c.channels-1))
			assert.ErrorIs(t, err, quant.ErrShape, "a bias one short")
		})
	}
}
