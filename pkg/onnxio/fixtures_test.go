package onnxio

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"codeberg.org/sbinet/npyio"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// fixtureDir returns the folder of the PyTorch-written ONNX fixtures:
// $PTQSPEC_ONNX_FIXTURES, or shared/onnx in the first folder above the
// module root (walking up) that holds one.
func fixtureDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PTQSPEC_ONNX_FIXTURES"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok, "locating the test's source file")
	dir := filepath.Dir(file)
	for {
		cand := filepath.Join(dir, "shared", "onnx")
		if st, err := os.Stat(filepath.Join(cand, "fixtures.json")); err == nil && !st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no shared/onnx/fixtures.json above %s; set PTQSPEC_ONNX_FIXTURES", filepath.Dir(file))
		}
		dir = parent
	}
}

// readNpy reads a float32 .npy file into a tensor.
func readNpy(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := npyio.NewReader(f)
	require.NoError(t, err)
	shape := r.Header.Descr.Shape
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	require.NoError(t, r.Read(&data), "reading %s", path)
	x, err := tensor.FromData(data, shape...)
	require.NoError(t, err)
	return x
}

// relErr returns the largest |a-b| over the largest |b|.
func relErr(a, b []float32) float64 {
	var diff, big float64
	for i := range b {
		diff = max(diff, abs(float64(a[i])-float64(b[i])))
		big = max(big, abs(float64(b[i])))
	}
	return diff / big
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestImportFixtures imports each PyTorch-written fixture and compares the
// FP32 output of the imported graph with PyTorch's stored output.
func TestImportFixtures(t *testing.T) {
	dir := fixtureDir(t)
	const tol = 1e-4 // relative to the largest output magnitude
	for _, tc := range []struct {
		name  string
		nodes int // nn nodes the import must give
	}{
		{"mnist_mlp", 4},
		{"mnist_lenet_bn", 10},
		{"mnist_tiny_resnet", 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ImportFile(filepath.Join(dir, tc.name+".onnx"))
			require.NoError(t, err)
			x := readNpy(t, filepath.Join(dir, tc.name+".input.npy"))
			want := readNpy(t, filepath.Join(dir, tc.name+".output.npy"))
			got, err := g.Forward(x, 0)
			require.NoError(t, err)
			require.Equal(t, want.Shape(), got.Shape())
			e := relErr(got.Data(), want.Data())
			t.Logf("%s: %d nodes, largest error %.3g of the largest output", tc.name, len(g.Nodes()), e)
			require.LessOrEqual(t, e, tol)
			require.Len(t, g.Nodes(), tc.nodes, "%s", g.Summary())
		})
	}
}

// TestImportSigmoidRefused checks the unsupported fixture names its node.
func TestImportSigmoidRefused(t *testing.T) {
	_, err := ImportFile(filepath.Join(fixtureDir(t), "unsupported_sigmoid.onnx"))
	require.ErrorIs(t, err, ErrUnsupported)
	var ue *UnsupportedError
	require.True(t, errors.As(err, &ue))
	require.Equal(t, "/Sigmoid", ue.Node)
	require.Equal(t, "Sigmoid", ue.OpType)
	require.Equal(t, "ai.onnx", ue.Domain)
	require.EqualValues(t, 13, ue.Opset)
	require.Contains(t, err.Error(), `node "/Sigmoid" (Sigmoid, domain ai.onnx, opset 13)`)
}
