package nn

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestSaveRefusesNonFinite: a NaN or ±Inf anywhere in a parameter or
// buffer is refused before a byte is written, naming the node and tensor.
func TestSaveRefusesNonFinite(t *testing.T) {
	cases := []struct {
		name string
		v    float32
		at   func(g *Graph) []float32
		i    int
		want string
	}{
		{"NaN weight", float32(math.NaN()), func(g *Graph) []float32 { return g.nodes[0].Layer.Params()[0].Value.Data() },
			3, `nn: save: node "fc1" (TDense): non-finite value: "fc1.weight" holds NaN at index 3`},
		{"+Inf bias", float32(math.Inf(1)), func(g *Graph) []float32 { return g.nodes[3].Layer.Params()[1].Value.Data() },
			3, `nn: save: node "fc2b" (TDense): non-finite value: "fc2b.bias" holds +Inf at index 3`},
		{"-Inf buffer", float32(math.Inf(-1)), func(g *Graph) []float32 { return g.Buffers()[0].Value.Data() },
			0, `"counter.seen" holds -Inf at index 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := trainedDiamond(t)
			d := c.at(g)
			require.Greater(t, len(d), c.i)
			d[c.i] = c.v
			var b bytes.Buffer
			err := Save(&b, g)
			assert.ErrorIs(t, err, ErrNonFinite)
			assert.ErrorContains(t, err, c.want)
			assert.Zero(t, b.Len())
		})
	}
}

// TestLoadedLayersHaveNoGradients: a loaded graph holds its values only;
// its first Backward allocates the gradients, and training then works.
func TestLoadedLayersHaveNoGradients(t *testing.T) {
	g, err := Sequential([]int{1, 4, 4}, NewConv2D(1, 2, 3, 1, 1, testRNG(5)), NewBatchNorm2D(2), NewReLU(), NewFlatten(), NewLinear(32, 3, testRNG(6)))
	require.NoError(t, err)
	loaded, err := Load(bytes.NewReader(saved(t, g)))
	require.NoError(t, err)
	for _, p := range loaded.Params() {
		assert.Nil(t, p.Grad, "%s has a gradient after Load", p.Name)
	}
	x := randTensor(testRNG(7), 2, 1, 4, 4)
	_, err = Fit(loaded, x, []int{0, 2}, TrainConfig{Epochs: 1, BatchSize: 2, Optimizer: NewSGD(0.1, 0)})
	require.NoError(t, err)
	for _, p := range loaded.Params() {
		require.NotNil(t, p.Grad, "%s has no gradient after training", p.Name)
		assert.Equal(t, p.Value.Shape(), p.Grad.Shape())
	}
}

// TestBuildRefusesOversizedGeometry: per-sample outputs and im2col buffers
// above tensor.MaxElements, and padding not below the kernel, are refused
// when the graph is built, naming the node and the size.
func TestBuildRefusesOversizedGeometry(t *testing.T) {
	old := tensor.SetMaxElements(1 << 12)
	t.Cleanup(func() { tensor.SetMaxElements(old) })
	cases := []struct {
		name  string
		input []int
		layer Layer
		is    error
		want  string
	}{
		{"input above the bound", []int{1 << 13}, NewReLU(), tensor.ErrTooLarge, `nn: graph input "x": tensor: numel: shape [8192]: 8192 elements exceed MaxElements (4096)`},
		{"conv output above the bound", []int{1, 32, 32}, NewConv2D(1, 8, 3, 1, 1, nil), tensor.ErrTooLarge, `node "n" (Conv2D): input shapes [[1 32 32]]: Conv2D: output of shape [8 32 32] per sample`},
		{"im2col above the bound", []int{8, 16, 16}, NewConv2D(8, 1, 3, 1, 1, nil), tensor.ErrTooLarge, `Conv2D: im2col buffer of shape [8 3 3 16 16] per sample`},
		{"pad equal to the kernel", []int{1, 4, 4}, &Conv2D{InC: 1, OutC: 1, KH: 2, KW: 2, Stride: 1, Pad: 2, Weight: newParam("weight", 1, 1, 2, 2)}, ErrLayerConfig,
			"pad 2 with a 2x2 kernel: padding must be smaller than the kernel"},
		{"Flatten of an overflowing shape", []int{1 << 40, 1 << 40}, NewFlatten(), tensor.ErrTooLarge, `graph input "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewBuilder("x", c.input...).Add("n", c.layer).Build()
			assert.ErrorIs(t, err, c.is)
			assert.ErrorContains(t, err, c.want)
		})
	}
}
