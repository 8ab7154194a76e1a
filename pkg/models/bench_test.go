package models

import (
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Training throughput of each model, one batch of 64 per iteration, with an
// Eval-mode forward pass of the same batch beside it as the baseline. The
// images/s metric is what Fit reports per epoch.

var benchSink *tensor.Tensor

const benchBatch = 64

func benchModel(b *testing.B, name string, train bool) {
	g, err := ByName(name, 1)
	if err != nil {
		b.Fatal(err)
	}
	x, labels := quadrants(1, benchBatch, 1, 28, 28)
	opt := nn.NewAdam(1e-3)
	for b.Loop() {
		if !train {
			out, err := g.Forward(x, nn.Eval)
			if err != nil {
				b.Fatal(err)
			}
			benchSink = out
			continue
		}
		g.ZeroGrad()
		out, err := g.Forward(x, nn.Train)
		if err != nil {
			b.Fatal(err)
		}
		_, grad, err := nn.SoftmaxCrossEntropy(out, labels)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Backward(grad); err != nil {
			b.Fatal(err)
		}
		opt.Step(g.Params())
		benchSink = out
	}
	b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkTrainStepMLP(b *testing.B)        { benchModel(b, "mlp", true) }
func BenchmarkForwardEvalMLP(b *testing.B)      { benchModel(b, "mlp", false) }
func BenchmarkTrainStepCNN(b *testing.B)        { benchModel(b, "cnn", true) }
func BenchmarkForwardEvalCNN(b *testing.B)      { benchModel(b, "cnn", false) }
func BenchmarkTrainStepResidual(b *testing.B)   { benchModel(b, "residual", true) }
func BenchmarkForwardEvalResidual(b *testing.B) { benchModel(b, "residual", false) }
