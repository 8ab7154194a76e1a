package ptq

import (
	"context"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Steady-state inference of the dynamically quantized models.MLP and
// models.SmallCNN (Linear and Conv2D layers, as `ptq bench` runs them)
// at batch 64, beside the FP32 graph on the same batch in the same run:
//
//	go test -run '^$' -bench 'DynamicForward' -benchmem -count 5 -cpu 1 ./pkg/ptq

// dynamicModel quantizes the named model dynamically, Conv2D layers too;
// it also returns the FP32 graph.
func dynamicModel(tb testing.TB, name string) (*Model, *nn.Graph) {
	tb.Helper()
	g, err := models.ByName(name, 1)
	if err != nil {
		tb.Fatal(err)
	}
	g = withBatchNormStats(g)
	m, _, err := QuantizeDynamic(context.Background(), g, &DynamicConfig{Conv2D: true})
	if err != nil {
		tb.Fatal(err)
	}
	return m, g
}

// benchDynamicForward times one Forward of a batch through the dynamic
// model (fp32 false) or the FP32 graph (fp32 true).
func benchDynamicForward(b *testing.B, name string, batch int, fp32 bool) {
	m, g := dynamicModel(b, name)
	x := datasets.Gaussian(batch, g.InputShape(), 0, 1, 2).X
	forward := func() (*tensor.Tensor, error) { return m.Forward(x) }
	if fp32 {
		forward = func() (*tensor.Tensor, error) { return g.Forward(x, nn.Eval) }
	}
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
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	benchSinkTensor = y
}

func BenchmarkDynamicForwardMLPBatch64(b *testing.B)     { benchDynamicForward(b, "mlp", 64, false) }
func BenchmarkDynamicForwardMLPFP32Batch64(b *testing.B) { benchDynamicForward(b, "mlp", 64, true) }
func BenchmarkDynamicForwardCNNBatch64(b *testing.B)     { benchDynamicForward(b, "cnn", 64, false) }
func BenchmarkDynamicForwardCNNFP32Batch64(b *testing.B) { benchDynamicForward(b, "cnn", 64, true) }
