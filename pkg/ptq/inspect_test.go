package ptq_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// uniform returns n samples of shape in [0, 1).
func uniform(seed uint64, n int, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0))
	x := tensor.New(append([]int{n}, shape...)...)
	for i := range x.Data() {
		x.Data()[i] = rng.Float32()
	}
	return x
}

// TestInspect checks the view of a static SmallCNN and a dynamic MLP: ops
// per node, weights equal to Model.Weights, qparams carried through fused
// and pass-through nodes, conv geometry.
func TestInspect(t *testing.T) {
	g, err := models.SmallCNN(1)
	require.NoError(t, err)
	pr, err := ptq.Prepare(g, nil)
	require.NoError(t, err)
	require.NoError(t, pr.Observe(uniform(2, 16, 1, 28, 28)))
	m, err := pr.Convert()
	require.NoError(t, err)
	views, err := m.Inspect()
	require.NoError(t, err)
	wantOps := map[string]ptq.NodeOp{
		"conv2d1": ptq.OpInt8Conv2D, "batchnorm2d1": ptq.OpFused, "relu1": ptq.OpFused, "maxpool2d1": ptq.OpInt8PassThrough,
		"conv2d2": ptq.OpInt8Conv2D, "flatten1": ptq.OpInt8PassThrough, "linear1": ptq.OpInt8Linear,
	}
	byName := map[string]ptq.NodeView{}
	for _, v := range views {
		byName[v.Name] = v
		if op, ok := wantOps[v.Name]; ok {
			assert.Equal(t, op, v.Op, "node %s", v.Name)
		}
	}
	require.Len(t, views, len(g.Nodes()))
	assert.Equal(t, g.InputName(), m.Input())
	assert.Equal(t, g.Output(), m.Output())
	c1 := byName["conv2d1"]
	require.NotNil(t, c1.Conv)
	assert.Equal(t, ptq.ConvGeometry{InC: 1, OutC: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}, *c1.Conv)
	assert.True(t, c1.ReLU, "relu1 fused into conv2d1")
	assert.Equal(t, "conv2d1", byName["batchnorm2d1"].FusedInto)
	w, ok := m.Weights("conv2d1")
	require.True(t, ok)
	assert.Equal(t, w.Shape(), c1.Weights.Shape())
	for i := range w.Len() {
		require.Equal(t, w.At(i), c1.Weights.At(i), "weight %d", i)
	}
	assert.Len(t, c1.Bias32, 16)
	require.Len(t, c1.In, 1)
	require.NotNil(t, c1.Out)
	assert.Equal(t, *c1.Out, *byName["relu1"].Out, "fused ReLU keeps the group's qparams")
	assert.Equal(t, *c1.Out, *byName["maxpool2d1"].Out, "pass-through keeps its input's qparams")
	assert.NotNil(t, byName["maxpool2d1"].Layer)

	dyn, _, err := ptq.QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	dv, err := dyn.Inspect()
	require.NoError(t, err)
	for _, v := range dv {
		switch v.Name {
		case "linear1":
			assert.Equal(t, ptq.OpDynamicLinear, v.Op)
			assert.Len(t, v.BiasFloat, 10)
			assert.Nil(t, v.Out)
			assert.Equal(t, []int{10, 32 * 7 * 7}, v.Weights.Shape())
		default:
			assert.Equal(t, ptq.OpFP32, v.Op, "node %s", v.Name)
			assert.NotNil(t, v.Layer)
		}
	}
	var nilModel *ptq.Model
	_, err = nilModel.Inspect()
	assert.ErrorIs(t, err, ptq.ErrNilModel)
}
