package ptq

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// chainModels returns the dynamic models the chain path must agree on:
// the MNIST MLP, SmallCNN with its Conv2D layers quantized too, and a
// chain that starts with ReLU (so that it copies the
// input before rewriting it) and passes through Dropout and Identity.
func chainModels(t *testing.T) map[string]*Model {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 21))
	mlp, err := models.ByName("mlp", 1)
	require.NoError(t, err)
	odd, err := nn.Sequential([]int{2, 3, 5}, nn.NewReLU(), nn.NewFlatten(), nn.NewLinear(30, 17, r), nn.NewDropout(0.5, 3),
		nn.NewReLU(), nn.NewIdentity(), nn.NewLinear(17, 9, r))
	require.NoError(t, err)
	out := map[string]*Model{}
	for name, g := range map[string]*nn.Graph{"mlp": mlp, "relu first, dropout, identity": odd} {
		m, _, err := QuantizeDynamic(context.Background(), g, nil)
		require.NoError(t, err)
		require.True(t, m.dynamicChain(), name)
		out[name] = m
	}
	cnn, _ := dynamicModel(t, "cnn")
	require.True(t, cnn.dynamicChain())
	out["cnn, Conv2D too"] = cnn
	return out
}

// TestDynamicChainMatchesSteps checks that Forward on the chain path
// gives Model.run's output bit for bit (tolerance zero) at batch 1, 7 and
// 64 on 1 and 2 threads, and leaves its input unchanged.
func TestDynamicChainMatchesSteps(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name, m := range chainModels(t) {
		for _, procs := range []int{1, 2} {
			for _, batch := range []int{1, 7, 64} {
				runtime.GOMAXPROCS(procs)
				x := datasets.Gaussian(batch, m.InputShape(), 0.3, 1, uint64(batch)).X
				before := x.Clone()
				want, err := m.forwardSteps(x)
				require.NoError(t, err)
				got, err := m.Forward(x)
				require.NoError(t, err, name)
				require.Equal(t, want.Shape(), got.Shape(), name)
				for i, v := range want.Data() {
					require.Equal(t, math.Float32bits(v), math.Float32bits(got.Data()[i]), "%s, %d threads, batch %d, element %d", name, procs, batch, i)
				}
				require.Equal(t, before.Data(), x.Data(), "the input is not modified")
			}
		}
	}
}

// TestDynamicChainErrors checks that a non-finite input gives the same
// error on the chain path as on Model.run, that a batch of the wrong
// shape falls back to it, and that a residual model (an Add of two
// inputs) is not a chain.
func TestDynamicChainErrors(t *testing.T) {
	m := chainModels(t)["mlp"]
	x := datasets.Gaussian(3, m.InputShape(), 0, 1, 1).X
	x.Data()[900] = float32(math.Inf(1))
	_, want := m.forwardSteps(x)
	_, got := m.Forward(x)
	require.Error(t, got)
	require.ErrorIs(t, got, ErrNonFinite)
	require.Equal(t, want.Error(), got.Error())

	bad := tensor.New(2, 5)
	_, want = m.forwardSteps(bad)
	_, got = m.Forward(bad)
	require.Error(t, got)
	require.Equal(t, want.Error(), got.Error())

	res, _ := dynamicModel(t, "residual")
	require.False(t, res.dynamicChain())
}

// TestReLUInPlace checks reluInPlace against nn.ReLU on the values where
// the rule matters: ±0, NaN, ±Inf, the smallest subnormals, ±1.
func TestReLUInPlace(t *testing.T) {
	v := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1, -1}
	x := tensor.MustFromData(slices.Clone(v), 1, len(v))
	want, err := nn.NewReLU().Forward([]*tensor.Tensor{x}, nn.Eval)
	require.NoError(t, err)
	reluInPlace(v)
	for i, w := range want.Data() {
		require.Equal(t, math.Float32bits(w), math.Float32bits(v[i]), "element %d", i)
	}
}
