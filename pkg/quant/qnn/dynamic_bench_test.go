package qnn

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Dynamic int8 Linear (input quantized per call, int32 GEMM, FP32 output)
// beside the FP32 nn.Linear it replaces, at the MNIST MLP's shapes with a
// batch of 64: 784->256 and 256->10. Ratio = dynamic time / FP32 time,
// read from one run. Besides wall time each benchmark reports CPU time
// per operation (cpu-ns/op, summed over threads), which other jobs on a
// shared machine disturb less:
//
//	go test -run '^$' -bench 'Linear' -count 5 ./pkg/quant/qnn

var sinkTensor *tensor.Tensor

// cpuTime returns the user+system CPU time of the process so far, or 0
// where getrusage fails.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLoop runs op under b.Loop, keeps its last result and reports CPU
// time per operation.
func benchLoop(b *testing.B, op func() (*tensor.Tensor, error)) {
	start := cpuTime()
	n := 0
	var y *tensor.Tensor
	var err error
	for b.Loop() {
		if y, err = op(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
	sinkTensor = y
}

// benchLinears returns an FP32 layer, its dynamic int8 twin and an input.
func benchLinears(b *testing.B, n, in, out int) (*nn.Linear, *DynamicLinear, *tensor.Tensor) {
	r := rand.New(rand.NewPCG(42, 42))
	fl := nn.NewLinear(in, out, r)
	obs, err := quant.NewObserver(quant.MethodMinMax, quant.WeightDefault)
	if err != nil {
		b.Fatal(err)
	}
	if err := obs.Observe(fl.Weight.Value); err != nil {
		b.Fatal(err)
	}
	qp, err := obs.QParams()
	if err != nil {
		b.Fatal(err)
	}
	qw, err := quant.Quantize(fl.Weight.Value, qp)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewWeights(qw)
	if err != nil {
		b.Fatal(err)
	}
	dl, err := NewDynamicLinear(w, in, out, fl.Bias.Value.Data())
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.New(n, in)
	for i := range x.Data() {
		x.Data()[i] = float32(r.NormFloat64())
	}
	return fl, dl, x
}

func benchDynamicLinear(b *testing.B, n, in, out int) {
	_, dl, x := benchLinears(b, n, in, out)
	b.SetBytes(int64(in * out))
	benchLoop(b, func() (*tensor.Tensor, error) { return dl.Forward(x) })
}

func benchFP32Linear(b *testing.B, n, in, out int) {
	fl, _, x := benchLinears(b, n, in, out)
	b.SetBytes(int64(4 * in * out))
	xs := []*tensor.Tensor{x}
	benchLoop(b, func() (*tensor.Tensor, error) { return fl.Forward(xs, nn.Eval) })
}

func BenchmarkDynamicLinearMNISTFC1(b *testing.B) { benchDynamicLinear(b, 64, 784, 256) }
func BenchmarkFP32LinearMNISTFC1(b *testing.B)    { benchFP32Linear(b, 64, 784, 256) }
func BenchmarkDynamicLinearMNISTFC2(b *testing.B) { benchDynamicLinear(b, 64, 256, 10) }
func BenchmarkFP32LinearMNISTFC2(b *testing.B)    { benchFP32Linear(b, 64, 256, 10) }
