package qnn

import (
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The int8 Conv2D kernel beside the FP32 nn.Conv2D it replaces, at the
// shapes of models.SmallCNN's two convolutions on a batch of 64 MNIST
// images (3x3, stride 1, padding 1): 1->16 channels on 28x28 and 16->32
// on 14x14. Ratio = int8 time / FP32 time, read from one run (cpuTime is
// in dynamic_bench_test.go):
//
//	go test -run '^$' -bench 'Conv2D' -count 5 ./pkg/quant/qnn

var (
	benchSinkQ *Tensor
	benchSinkF *tensor.Tensor
)

// benchConvLayers returns an FP32 convolution, its int8 twin (per-channel
// symmetric weights, activations calibrated on the input and output
// ranges) and an input batch in both forms.
func benchConvLayers(b *testing.B, n, inC, outC, hw int) (*nn.Conv2D, *Conv2D, *tensor.Tensor, *Tensor) {
	r := rand.New(rand.NewPCG(42, 7))
	fc := nn.NewConv2D(inC, outC, 3, 1, 1, r)
	x := tensor.New(n, inC, hw, hw)
	for i := range x.Data() {
		x.Data()[i] = float32(r.NormFloat64())
	}
	y, err := fc.Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		b.Fatal(err)
	}
	act := func(t *tensor.Tensor) Act {
		obs, err := quant.NewObserver(quant.MethodMinMax, quant.ActivationDefault)
		if err != nil {
			b.Fatal(err)
		}
		if err := obs.Observe(t); err != nil {
			b.Fatal(err)
		}
		qp, err := obs.QParams()
		if err != nil {
			b.Fatal(err)
		}
		a, err := NewAct(qp)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	in, out := act(x), act(y)
	obs, err := quant.NewObserver(quant.MethodMinMax, quant.WeightDefault)
	if err != nil {
		b.Fatal(err)
	}
	if err := obs.Observe(fc.Weight.Value); err != nil {
		b.Fatal(err)
	}
	qp, err := obs.QParams()
	if err != nil {
		b.Fatal(err)
	}
	qw, err := quant.Quantize(fc.Weight.Value, qp)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWeights(qw)
	if err != nil {
		b.Fatal(err)
	}
	qc, err := NewConv2D(w, inC, outC, 3, 3, 1, 1, fc.Bias.Value.Data(), in, out, false)
	if err != nil {
		b.Fatal(err)
	}
	return fc, qc, x, QuantizeTensor(x, in)
}

// benchConv times the int8 kernel or its FP32 baseline and reports, beside
// wall time, CPU time per operation (cpu-ns/op), which other jobs on a
// shared machine disturb less.
func benchConv(b *testing.B, int8 bool, n, inC, outC, hw int) {
	fc, qc, x, qx := benchConvLayers(b, n, inC, outC, hw)
	xs := []*tensor.Tensor{x}
	var err error
	start, ops := cpuTime(), 0
	for b.Loop() {
		if int8 {
			benchSinkQ, err = qc.Forward(qx)
		} else {
			benchSinkF, err = fc.Forward(xs, nn.Eval)
		}
		if err != nil {
			b.Fatal(err)
		}
		ops++
	}
	if ops > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(ops), "cpu-ns/op")
	}
}

func BenchmarkConv2DInt8SmallCNNConv1(b *testing.B) { benchConv(b, true, 64, 1, 16, 28) }
func BenchmarkConv2DFP32SmallCNNConv1(b *testing.B) { benchConv(b, false, 64, 1, 16, 28) }
func BenchmarkConv2DInt8SmallCNNConv2(b *testing.B) { benchConv(b, true, 64, 16, 32, 14) }
func BenchmarkConv2DFP32SmallCNNConv2(b *testing.B) { benchConv(b, false, 64, 16, 32, 14) }
