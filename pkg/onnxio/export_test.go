package onnxio

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// randomInput returns n samples of the given shape uniform in [0, 1).
func randomInput(seed uint64, n int, shape []int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0))
	x := tensor.New(append([]int{n}, shape...)...)
	for i := range x.Data() {
		x.Data()[i] = rng.Float32()
	}
	return x
}

// randomizeBN gives every BatchNorm2D non-trivial statistics, so a round
// trip that lost them would show.
func randomizeBN(g *nn.Graph, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, n := range g.Nodes() {
		if bn, ok := n.Layer.(*nn.BatchNorm2D); ok {
			for _, p := range []*nn.Param{bn.Gamma, bn.Beta, bn.RunningMean} {
				for i := range p.Value.Data() {
					p.Value.Data()[i] = rng.Float32()*2 - 1
				}
			}
			for i := range bn.RunningVar.Value.Data() {
				bn.RunningVar.Value.Data()[i] = 0.5 + rng.Float32()
			}
		}
	}
}

// TestExportRoundTrip exports nn graphs to ONNX and imports them again:
// the Eval-mode outputs must be bit-identical.
func TestExportRoundTrip(t *testing.T) {
	extra, err := nn.NewBuilder("x", 2, 8, 8).
		Add("pad", nn.NewZeroPad2D(0, 1, 2, 0)).
		Add("conv", nn.NewConv2D(2, 3, 3, 2, 1, rand.New(rand.NewPCG(5, 5)))).
		Add("relu", nn.NewReLU()).
		Add("avg", nn.NewAvgPool2D(2, 1)).
		Add("gap", nn.NewGlobalAvgPool()).
		Add("drop", nn.NewDropout(0.5, 1)).
		Add("id", nn.NewIdentity()).
		Add("sum", nn.NewAdd(), "gap", "id", "drop").
		Add("fc", nn.NewLinear(3, 4, rand.New(rand.NewPCG(6, 6)))).
		Add("lsm", nn.NewLogSoftmax()).
		Build()
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		build     func() (*nn.Graph, error)
		sameBytes bool // re-exporting the import writes the same file
	}{
		{"MLP", func() (*nn.Graph, error) { return models.MLP(1, 64) }, true},
		{"SmallCNN", func() (*nn.Graph, error) { return models.SmallCNN(2) }, true},
		{"ResidualCNN", func() (*nn.Graph, error) { return models.ResidualCNN(3, 1, 28, 28, 10) }, true},
		// Identity and Dropout import as aliases, so the nodes differ.
		{"zero padding, pools, global pool, 3-input add, log-softmax", func() (*nn.Graph, error) { return extra, nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.build()
			require.NoError(t, err)
			randomizeBN(g, 7)
			var buf bytes.Buffer
			require.NoError(t, Export(&buf, g))
			back, err := Import(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			x := randomInput(11, 5, g.InputShape())
			want, err := g.Forward(x, nn.Eval)
			require.NoError(t, err)
			got, err := back.Forward(x, nn.Eval)
			require.NoError(t, err)
			require.Equal(t, want.Shape(), got.Shape())
			for i, v := range want.Data() {
				require.Equal(t, v, got.Data()[i], "output element %d", i)
			}
			var again bytes.Buffer
			require.NoError(t, Export(&again, back))
			if tc.sameBytes {
				assert.Equal(t, buf.Bytes(), again.Bytes(), "re-export of the imported graph")
			}
		})
	}
}

// TestExportFiles writes FP32 and quantized exports to files and checks
// that a failed export leaves nothing behind.
func TestExportFiles(t *testing.T) {
	dir := t.TempDir()
	g, err := models.MLP(1, 16)
	require.NoError(t, err)
	path := filepath.Join(dir, "mlp.onnx")
	require.NoError(t, ExportFile(path, g))
	back, err := ImportFile(path)
	require.NoError(t, err)
	assert.Len(t, back.Nodes(), 4)

	m := staticModel(t, g, nil)
	qpath := filepath.Join(dir, "mlp.int8.onnx")
	require.NoError(t, ExportQuantizedFile(qpath, m, QOperator))
	st, err := os.Stat(qpath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	err = ExportQuantizedFile(filepath.Join(dir, "bad.onnx"), m, Format("nope"))
	assert.ErrorIs(t, err, ErrExport)
	assert.Regexp(t, `^onnxio: cannot export: format "nope"`, err.Error())
	err = ExportFile(filepath.Join(dir, "missing", "x.onnx"), g)
	assert.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"mlp.int8.onnx", "mlp.onnx"}, names, "no temporary or partial file left")
}
