package ortrun

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// sharedDir holds ONNX files written by PyTorch's exporter, with 8 MNIST test
// images and PyTorch's FP32 outputs for them.
const sharedDir = "../../../shared/onnx"

// runner returns the installed runner; a missing install fails the test (CI
// installs it with `make tools`), it is never skipped.
func runner(t *testing.T) *Runner {
	t.Helper()
	r, err := Default()
	require.NoError(t, err, "ONNX Runtime is the judge of these tests: run `make tools` first")
	return r
}

func fixture(t *testing.T, name string) (model string, x, want *tensor.Tensor) {
	t.Helper()
	model = filepath.Join(sharedDir, name+".onnx")
	x, err := npyfile.ReadTensor(filepath.Join(sharedDir, name+".input.npy"))
	require.NoError(t, err)
	want, err = npyfile.ReadTensor(filepath.Join(sharedDir, name+".output.npy"))
	require.NoError(t, err)
	return model, x, want
}

// maxRelErr is max|a-b| / max|b|.
func maxRelErr(a, b *tensor.Tensor) float64 {
	var diff, scale float64
	for i := range b.Data() {
		diff = math.Max(diff, math.Abs(float64(a.Data()[i])-float64(b.Data()[i])))
		scale = math.Max(scale, math.Abs(float64(b.Data()[i])))
	}
	return diff / scale
}

// ONNX Runtime reproduces PyTorch's stored outputs for the fixtures, which
// checks the runner's .npy exchange in both directions.
func TestRunFixtures(t *testing.T) {
	r := runner(t)
	cases := []struct {
		name  string
		batch int
		tol   float64 // relative to the largest output magnitude: float32 rounding of a different summation order
	}{
		{"mnist_mlp", 0, 1e-5},
		{"mnist_lenet_bn", 3, 1e-5},
		{"mnist_tiny_resnet", 8, 1e-5},
		{"unsupported_sigmoid", 5, 1e-5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model, x, want := fixture(t, c.name)
			outs, err := r.RunBatches(context.Background(), model, map[string]*tensor.Tensor{"input": x}, c.batch)
			require.NoError(t, err)
			require.Contains(t, outs, "logits")
			got := outs["logits"]
			require.Equal(t, want.Shape(), got.Shape())
			assert.LessOrEqual(t, maxRelErr(got, want), c.tol)
		})
	}
}

func TestRunSoleInputKeyedEmpty(t *testing.T) {
	model, x, want := fixture(t, "mnist_mlp")
	runner(t)
	outs, err := Run(context.Background(), model, map[string]*tensor.Tensor{"": x})
	require.NoError(t, err)
	assert.LessOrEqual(t, maxRelErr(outs["logits"], want), 1e-5)
}

func TestInfo(t *testing.T) {
	r := runner(t)
	info, err := r.Info(context.Background(), filepath.Join(sharedDir, "mnist_lenet_bn.onnx"))
	require.NoError(t, err)
	require.Len(t, info.Inputs, 1)
	assert.Equal(t, Port{Name: "input", Type: "float32", Shape: []int{-1, 1, 28, 28}, Symbols: []string{"batch", "", "", ""}}, info.Inputs[0])
	require.Len(t, info.Outputs, 1)
	assert.Equal(t, "logits", info.Outputs[0].Name)
}

func TestBench(t *testing.T) {
	r := runner(t)
	model, x, want := fixture(t, "mnist_mlp")
	labels := make([]int, want.Dim(0))
	for i := range labels { // PyTorch's top-1 answers: accuracy must be 1
		row := want.Data()[i*10 : i*10+10]
		for c := range row {
			if row[c] > row[labels[i]] {
				labels[i] = c
			}
		}
	}
	res, err := r.Bench(context.Background(), model, x, BenchOptions{Batch: 4, Threads: 1, Warmup: 3, Iterations: 20, Labels: labels})
	require.NoError(t, err)
	assert.Equal(t, 4, res.Batch)
	assert.Equal(t, 20, res.Iterations)
	assert.Equal(t, 8, res.Samples)
	assert.Greater(t, res.ImagesPerSecond, 0.0)
	assert.InEpsilon(t, float64(res.Iterations*res.Batch)/res.Seconds, res.ImagesPerSecond, 1e-9)
	assert.LessOrEqual(t, res.MsPerBatchMin, res.MsPerBatchMedian)
	assert.True(t, res.Labeled)
	assert.InDelta(t, 1.0, res.Accuracy, 0)

	res, err = r.Bench(context.Background(), model, x, BenchOptions{Batch: 8, Iterations: 2})
	require.NoError(t, err)
	assert.False(t, res.Labeled)
	assert.Equal(t, 1, res.Threads, "0 threads means 1")
}

func TestErrors(t *testing.T) {
	r := runner(t)
	model, x, _ := fixture(t, "mnist_mlp")
	ctx := context.Background()
	notONNX := filepath.Join(t.TempDir(), "junk.onnx")
	require.NoError(t, os.WriteFile(notONNX, []byte("this is not a protobuf"), 0o644))
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	cases := []struct {
		name   string
		call   func() error
		is     error
		stderr string // in the message, from the runner's standard error or our own check
	}{
		{"missing model", func() error {
			_, err := r.Run(ctx, filepath.Join(t.TempDir(), "none.onnx"), map[string]*tensor.Tensor{"input": x})
			return err
		}, ErrRunner, "cannot load model"},
		{"not an ONNX file", func() error {
			_, err := r.Run(ctx, notONNX, map[string]*tensor.Tensor{"input": x})
			return err
		}, ErrRunner, "cannot load model"},
		{"unknown input name", func() error {
			_, err := r.Run(ctx, model, map[string]*tensor.Tensor{"pixels": x})
			return err
		}, ErrRunner, `has no input "pixels"`},
		{"wrong input shape", func() error {
			_, err := r.Run(ctx, model, map[string]*tensor.Tensor{"input": tensor.New(2, 3, 28, 28)})
			return err
		}, ErrRunner, "samples 0..2"},
		{"no inputs", func() error {
			_, err := r.Run(ctx, model, nil)
			return err
		}, ErrRunner, "no inputs"},
		{"bench batch larger than the data", func() error {
			_, err := r.Bench(ctx, model, x, BenchOptions{Batch: 9, Iterations: 1})
			return err
		}, ErrRunner, "batch 9 is larger than the 8 samples"},
		{"bench labels of the wrong length", func() error {
			_, err := r.Bench(ctx, model, x, BenchOptions{Batch: 2, Iterations: 1, Labels: []int{1, 2}})
			return err
		}, ErrRunner, "2 labels for 8 samples"},
		{"canceled context", func() error {
			_, err := r.Run(canceled, model, map[string]*tensor.Tensor{"input": x})
			return err
		}, context.Canceled, "context canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), c.stderr)
			var re *RunError
			assert.ErrorAs(t, err, &re)
		})
	}
}

func TestDeadlineKillsRunner(t *testing.T) {
	r := runner(t)
	model, x, _ := fixture(t, "mnist_mlp")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Bench(ctx, model, x, BenchOptions{Batch: 1, Iterations: 100000000})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 10*time.Second, "the runner is killed, not waited for")
}

func TestLocateErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		msg  string
	}{
		{"no node", map[string]string{"PTQSPEC_NODE": "", "PATH": t.TempDir()}, "no node"},
		{"empty runner folder", map[string]string{"PTQSPEC_ORT_DIR": t.TempDir()}, "no runner script run.mjs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := Locate()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrNotInstalled)
			assert.Contains(t, err.Error(), c.msg)
			assert.Contains(t, err.Error(), "make tools")
		})
	}
	t.Run("runner without onnxruntime-node", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run.mjs"), nil, 0o644))
		t.Setenv("PTQSPEC_ORT_DIR", dir)
		_, err := Locate()
		assert.ErrorIs(t, err, ErrNotInstalled)
		assert.Contains(t, err.Error(), "onnxruntime-node is not installed")
	})
}

// A model path relative to the caller's working directory reaches the
// runner, which works in its own folder.
func TestRelativeModelPath(t *testing.T) {
	r := runner(t)
	_, x, want := fixture(t, "mnist_mlp")
	data, err := os.ReadFile(filepath.Join(sharedDir, "mnist_mlp.onnx"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.onnx"), data, 0o644))
	t.Chdir(dir)
	outs, err := r.Run(context.Background(), "m.onnx", map[string]*tensor.Tensor{"input": x})
	require.NoError(t, err)
	assert.LessOrEqual(t, maxRelErr(outs["logits"], want), 1e-5)
}
