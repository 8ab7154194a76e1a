package ptq

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Steady-state inference of the static int8 models.SmallCNN and
// models.MLP (784-256-10) at batch 64 and batch 1, beside the FP32 model
// on the same batch and beside the int8 model run step by step (the path
// before compiled programs). Weights are random (speed does not depend on them);
// the int8 model is calibrated on 128 Gaussian images. Thread counts come
// from -cpu:
//
//	go test -run '^$' -bench 'Forward(CNN|MLP)' -benchmem -count 5 -cpu 1,2 ./pkg/ptq

// staticInt8Model quantizes the named model ("cnn", "mlp" or "residual")
// statically with the default configuration, calibrated on calib Gaussian
// images; it also returns the FP32 graph.
func staticInt8Model(tb testing.TB, name string, calib int) (*Model, *nn.Graph) {
	tb.Helper()
	g, err := models.ByName(name, 1)
	if err != nil {
		tb.Fatal(err)
	}
	g = withBatchNormStats(g)
	batches := BatchesOf(datasets.Gaussian(calib, g.InputShape(), 0, 1, 3).X, 32)
	m, _, err := Quantize(context.Background(), g, batches, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m, g
}

// benchForward times one Forward of a batch through the static int8
// model (engine "int8"), the same model run step by step as before the
// compiled programs ("steps", the baseline), or the FP32 graph ("fp32").
func benchForward(b *testing.B, name string, batch int, engine string) {
	m, g := staticInt8Model(b, name, 128)
	x := datasets.Gaussian(batch, g.InputShape(), 0, 1, 2).X
	forward := map[string]func() (*tensor.Tensor, error){
		"int8":  func() (*tensor.Tensor, error) { return m.Forward(x) },
		"steps": func() (*tensor.Tensor, error) { return m.forwardSteps(x) },
		"fp32":  func() (*tensor.Tensor, error) { return g.Forward(x, nn.Eval) },
	}[engine]
	var y *tensor.Tensor
	var err error
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if y, err = forward(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	// CPU time summed over threads: on a shared machine it moves less
	// than wall time, and on one thread it reads as a per-core rate.
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	benchSinkTensor = y
}

func BenchmarkForwardCNNInt8Batch64(b *testing.B)      { benchForward(b, "cnn", 64, "int8") }
func BenchmarkForwardCNNInt8StepsBatch64(b *testing.B) { benchForward(b, "cnn", 64, "steps") }
func BenchmarkForwardCNNFP32Batch64(b *testing.B)      { benchForward(b, "cnn", 64, "fp32") }
func BenchmarkForwardCNNInt8Batch1(b *testing.B)       { benchForward(b, "cnn", 1, "int8") }
func BenchmarkForwardCNNInt8StepsBatch1(b *testing.B)  { benchForward(b, "cnn", 1, "steps") }
func BenchmarkForwardCNNFP32Batch1(b *testing.B)       { benchForward(b, "cnn", 1, "fp32") }
func BenchmarkForwardMLPInt8Batch64(b *testing.B)      { benchForward(b, "mlp", 64, "int8") }
func BenchmarkForwardMLPInt8StepsBatch64(b *testing.B) { benchForward(b, "mlp", 64, "steps") }
func BenchmarkForwardMLPFP32Batch64(b *testing.B)      { benchForward(b, "mlp", 64, "fp32") }
func BenchmarkForwardMLPInt8Batch1(b *testing.B)       { benchForward(b, "mlp", 1, "int8") }
func BenchmarkForwardMLPInt8StepsBatch1(b *testing.B)  { benchForward(b, "mlp", 1, "steps") }
func BenchmarkForwardMLPFP32Batch1(b *testing.B)       { benchForward(b, "mlp", 1, "fp32") }

// processCPU returns the user+system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
