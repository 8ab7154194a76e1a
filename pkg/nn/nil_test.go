package nn_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestNilMisuseReturnsErrors calls the exported entry points of nn, tensor,
// the model files and the IDX reader with nil receivers and arguments:
// each returns an error (matching is, when set), and none panics.
func TestNilMisuseReturnsErrors(t *testing.T) {
	var g *nn.Graph
	var b *nn.Builder
	var x *tensor.Tensor
	path := filepath.Join(t.TempDir(), "m.model")
	cases := []struct {
		name string
		call func() error
		is   error
	}{
		{"nn.Save nil graph", func() error { return nn.Save(&bytes.Buffer{}, nil) }, nn.ErrNilModel},
		{"nn.SaveFile nil graph", func() error { return nn.SaveFile(path, nil) }, nn.ErrNilModel},
		{"nn.Save zero graph", func() error { return nn.Save(&bytes.Buffer{}, &nn.Graph{}) }, nn.ErrNilModel},
		{"nn.Load nil reader", func() error { _, err := nn.Load(nil); return err }, nil},
		{"nn.LoadFile empty path", func() error { _, err := nn.LoadFile(""); return err }, nil},
		{"Graph.Forward nil graph", func() error { _, err := g.Forward(tensor.New(1, 2), nn.Eval); return err }, nn.ErrNilModel},
		{"Graph.Forward zero graph", func() error { _, err := (&nn.Graph{}).Forward(tensor.New(1, 2), nn.Eval); return err }, nn.ErrNilModel},
		{"Graph.Run nil graph", func() error { _, err := g.Run(nil, nn.Eval, nil); return err }, nn.ErrNilModel},
		{"Graph.Backward nil graph", func() error { return g.Backward(nil) }, nn.ErrNilModel},
		{"Graph.Forward nil input", func() error { _, err := linearGraph(t).Forward(nil, nn.Eval); return err }, nil},
		{"Fit nil graph", func() error {
			_, err := nn.Fit(nil, tensor.New(1, 2), []int{0}, nn.TrainConfig{Epochs: 1, BatchSize: 1, Optimizer: nn.NewSGD(0.1, 0)})
			return err
		}, nn.ErrNilModel},
		{"Fit nil data", func() error {
			_, err := nn.Fit(linearGraph(t), nil, nil, nn.TrainConfig{Epochs: 1, BatchSize: 1, Optimizer: nn.NewSGD(0.1, 0)})
			return err
		}, nil},
		{"Evaluate nil graph", func() error { _, _, err := nn.Evaluate(nil, tensor.New(1, 2), []int{0}, 1); return err }, nn.ErrNilModel},
		{"Predict nil graph", func() error { _, err := nn.Predict(nil, tensor.New(1, 2), 1); return err }, nn.ErrNilModel},
		{"SoftmaxCrossEntropy nil logits", func() error { _, _, err := nn.SoftmaxCrossEntropy(nil, nil); return err }, nil},
		{"Builder nil", func() error { _, err := b.Add("fc", nn.NewReLU()).Build(); return err }, nil},
		{"Sequential nil layer", func() error { _, err := nn.Sequential([]int{2}, nil); return err }, nil},
		{"Builder nil layer", func() error { _, err := nn.NewBuilder("x", 2).Add("r", nil).Build(); return err }, nil},
		{"Tensor.Reshape nil", func() error { _, err := x.Reshape(1); return err }, tensor.ErrShape},
		{"Tensor.Slice nil", func() error { _, err := x.Slice(0, 1); return err }, tensor.ErrShape},
		{"Tensor.CopyFrom nil source", func() error { return tensor.New(2).CopyFrom(nil) }, tensor.ErrShape},
		{"Tensor.CopyFrom nil target", func() error { return x.CopyFrom(tensor.New(2)) }, tensor.ErrShape},
		{"tensor.Concat nil element", func() error { _, err := tensor.Concat(tensor.New(1, 2), nil); return err }, tensor.ErrShape},
		{"tensor.FromData nil data", func() error { _, err := tensor.FromData(nil, 2); return err }, tensor.ErrShape},
		{"datasets.ReadIDX nil reader", func() error { _, err := datasets.ReadIDX(nil, "x.idx"); return err }, datasets.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = c.call() })
			require.Error(t, err)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			}
		})
	}
}

// TestNilAccessorsGiveZeroValues checks that the accessors without an
// error result treat a nil graph or tensor as empty.
func TestNilAccessorsGiveZeroValues(t *testing.T) {
	var g *nn.Graph
	var x *tensor.Tensor
	var idx *datasets.IDX
	assert.NotPanics(t, func() {
		assert.Empty(t, g.InputName())
		assert.Nil(t, g.InputShape())
		assert.Empty(t, g.Output())
		assert.Nil(t, g.OutputShape())
		assert.Nil(t, g.Nodes())
		assert.Nil(t, g.Params())
		assert.Nil(t, g.Buffers())
		assert.Nil(t, g.Clone())
		assert.Zero(t, g.NumParams())
		g.ZeroGrad()
		_, ok := g.Node("fc")
		assert.False(t, ok)
		assert.Nil(t, g.Consumers("fc"))
		assert.NotEmpty(t, g.Summary())
		assert.Nil(t, x.Shape())
		assert.Zero(t, x.Len())
		assert.Zero(t, x.Dims())
		assert.Zero(t, x.RowLen())
		assert.Nil(t, x.Data())
		assert.Nil(t, x.Clone())
		assert.True(t, x.SameShape(nil))
		assert.False(t, x.SameShape(tensor.New(1)))
		x.Fill(1)
		assert.Equal(t, "Tensor(nil)", x.String())
		assert.Zero(t, idx.Len())
		assert.Nil(t, idx.Float32s())
	})
}

func linearGraph(t *testing.T) *nn.Graph {
	t.Helper()
	g, err := nn.Sequential([]int{2}, nn.NewLinear(2, 2, nil))
	require.NoError(t, err)
	return g
}
