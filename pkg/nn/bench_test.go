package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Benchmarks of Conv2D and Linear at MNIST-like shapes, each beside a
// naive nested-loop baseline computing the same thing, so one run gives the
// speed-up (benchstat, or divide the ns/op):
//
//	go test -run '^$' -bench 'Conv2D|Linear' -benchtime 20x ./pkg/nn

// benchSink keeps results alive so the compiler cannot drop the work.
var benchSink float32

// benchPass times one pass per iteration: the naive baseline if naive is
// set, else the layer pass run. Each gives its result, of which one element
// goes to benchSink.
func benchPass(b *testing.B, naive bool, baseline func() float32, run func() (*tensor.Tensor, error)) {
	for b.Loop() {
		if naive {
			benchSink += baseline()
			continue
		}
		y, err := run()
		if err != nil {
			b.Fatal(err)
		}
		benchSink += y.Data()[0]
	}
}

// evalForward returns a pass of x through l in Eval mode.
func evalForward(l Layer, x *tensor.Tensor) func() (*tensor.Tensor, error) {
	in := []*tensor.Tensor{x}
	return func() (*tensor.Tensor, error) { return l.Forward(in, Eval) }
}

// inputGrad returns a Backward of dy through l, giving the gradient of its
// first input.
func inputGrad(l Layer, dy *tensor.Tensor) func() (*tensor.Tensor, error) {
	return func() (*tensor.Tensor, error) {
		gs, err := l.Backward(dy)
		if err != nil {
			return nil, err
		}
		return gs[0], nil
	}
}

var (
	benchConv1 = convGeom{n: 64, inC: 1, outC: 16, h: 28, w: 28, k: 3, stride: 1, pad: 1}
	benchConv2 = convGeom{n: 64, inC: 16, outC: 32, h: 14, w: 14, k: 3, stride: 1, pad: 1}
)

func benchConvLayer(g convGeom) (*Conv2D, *tensor.Tensor, *tensor.Tensor) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := NewConv2D(g.inC, g.outC, g.k, g.stride, g.pad, rng)
	x := randTensorIn(rng, -1, 1, g.n, g.inC, g.h, g.w)
	oh, ow := g.outHW()
	dy := randTensorIn(rng, -1, 1, g.n, g.outC, oh, ow)
	return l, x, dy
}

func benchConvForward(b *testing.B, g convGeom, naive bool) {
	l, x, _ := benchConvLayer(g)
	oh, ow := g.outHW()
	y := make([]float32, g.n*g.outC*oh*ow)
	benchPass(b, naive, func() float32 {
		naiveConvForward(g, x.Data(), l.Weight.Value.Data(), l.Bias.Value.Data(), y)
		return y[0]
	}, evalForward(l, x))
}

func benchConvBackward(b *testing.B, g convGeom, naive bool) {
	l, x, dy := benchConvLayer(g)
	dx := make([]float32, x.Len())
	if _, err := l.Forward([]*tensor.Tensor{x}, Train); err != nil {
		b.Fatal(err)
	}
	benchPass(b, naive, func() float32 {
		naiveConvBackward(g, x.Data(), l.Weight.Value.Data(), dy.Data(), dx, l.Weight.Grad.Data(), l.Bias.Grad.Data())
		return dx[0]
	}, inputGrad(l, dy))
}

func BenchmarkConv2DForward1to16x28(b *testing.B)       { benchConvForward(b, benchConv1, false) }
func BenchmarkConv2DForward1to16x28Naive(b *testing.B)  { benchConvForward(b, benchConv1, true) }
func BenchmarkConv2DForward16to32x14(b *testing.B)      { benchConvForward(b, benchConv2, false) }
func BenchmarkConv2DForward16to32x14Naive(b *testing.B) { benchConvForward(b, benchConv2, true) }

func BenchmarkConv2DBackward1to16x28(b *testing.B)       { benchConvBackward(b, benchConv1, false) }
func BenchmarkConv2DBackward1to16x28Naive(b *testing.B)  { benchConvBackward(b, benchConv1, true) }
func BenchmarkConv2DBackward16to32x14(b *testing.B)      { benchConvBackward(b, benchConv2, false) }
func BenchmarkConv2DBackward16to32x14Naive(b *testing.B) { benchConvBackward(b, benchConv2, true) }

// naiveLinearForward is the textbook loop y[i,o] = b[o] + Σ_k x[i,k]·w[o,k].
func naiveLinearForward(n, in, out int, x, w, bias, y []float32) {
	for i := range n {
		xi := x[i*in : (i+1)*in]
		for o := range out {
			s := bias[o]
			for k, v := range w[o*in : (o+1)*in] {
				s += xi[k] * v
			}
			y[i*out+o] = s
		}
	}
}

// naiveLinearBackward sets dx = dy·W and adds dyᵀ·x into dw and the column
// sums of dy into db.
func naiveLinearBackward(n, in, out int, x, w, dy, dx, dw, db []float32) {
	clear(dx)
	for i := range n {
		xi, dxi := x[i*in:(i+1)*in], dx[i*in:(i+1)*in]
		for o := range out {
			d := dy[i*out+o]
			db[o] += d
			wo, dwo := w[o*in:(o+1)*in], dw[o*in:(o+1)*in]
			for k := range in {
				dxi[k] += d * wo[k]
				dwo[k] += d * xi[k]
			}
		}
	}
}

func benchLinearLayer(n, in, out int) (*Linear, *tensor.Tensor, *tensor.Tensor) {
	rng := rand.New(rand.NewPCG(3, 4))
	return NewLinear(in, out, rng), randTensorIn(rng, -1, 1, n, in), randTensorIn(rng, -1, 1, n, out)
}

func benchLinearForward(b *testing.B, n, in, out int, naive bool) {
	l, x, _ := benchLinearLayer(n, in, out)
	y := make([]float32, n*out)
	benchPass(b, naive, func() float32 {
		naiveLinearForward(n, in, out, x.Data(), l.Weight.Value.Data(), l.Bias.Value.Data(), y)
		return y[0]
	}, evalForward(l, x))
}

func benchLinearBackward(b *testing.B, n, in, out int, naive bool) {
	l, x, dy := benchLinearLayer(n, in, out)
	dx := make([]float32, n*in)
	if _, err := l.Forward([]*tensor.Tensor{x}, Train); err != nil {
		b.Fatal(err)
	}
	benchPass(b, naive, func() float32 {
		naiveLinearBackward(n, in, out, x.Data(), l.Weight.Value.Data(), dy.Data(), dx, l.Weight.Grad.Data(), l.Bias.Grad.Data())
		return dx[0]
	}, inputGrad(l, dy))
}

func BenchmarkLinearForward784to256(b *testing.B)      { benchLinearForward(b, 64, 784, 256, false) }
func BenchmarkLinearForward784to256Naive(b *testing.B) { benchLinearForward(b, 64, 784, 256, true) }
func BenchmarkLinearForward256to10(b *testing.B)       { benchLinearForward(b, 64, 256, 10, false) }
func BenchmarkLinearForward256to10Naive(b *testing.B)  { benchLinearForward(b, 64, 256, 10, true) }

func BenchmarkLinearBackward784to256(b *testing.B)      { benchLinearBackward(b, 64, 784, 256, false) }
func BenchmarkLinearBackward784to256Naive(b *testing.B) { benchLinearBackward(b, 64, 784, 256, true) }
func BenchmarkLinearBackward256to10(b *testing.B)       { benchLinearBackward(b, 64, 256, 10, false) }
func BenchmarkLinearBackward256to10Naive(b *testing.B)  { benchLinearBackward(b, 64, 256, 10, true) }

// Eval-mode passes of a SmallCNN-shaped graph (two blocks of Conv2D,
// BatchNorm2D, ReLU and MaxPool2D, then Flatten and Linear) and of the
// MNIST MLP at batch 64: Forward, which fuses each block into one
// per-sample pipeline, beside the layer-by-layer pass that Run takes when
// a hook watches every node (the baseline, same bits):
//
//	go test -run '^$' -bench 'GraphEval' ./pkg/nn

// benchSmallCNN is SmallCNN with random weights; its normalizations have
// positive scales, as a trained one's do (Gamma starts at 1), so the fused
// blocks pool before their epilogues.
func benchSmallCNN() (*Graph, *tensor.Tensor) {
	rng := rand.New(rand.NewPCG(5, 6))
	g, err := Sequential([]int{1, 28, 28},
		NewConv2D(1, 16, 3, 1, 1, rng), posBatchNorm(rng, 16), NewReLU(), NewMaxPool2D(2, 2),
		NewConv2D(16, 32, 3, 1, 1, rng), posBatchNorm(rng, 32), NewReLU(), NewMaxPool2D(2, 2),
		NewFlatten(), NewLinear(32*7*7, 10, rng))
	if err != nil {
		panic(err)
	}
	return g, randTensorIn(rng, 0, 1, 64, 1, 28, 28)
}

func benchMLP() (*Graph, *tensor.Tensor) {
	rng := rand.New(rand.NewPCG(7, 8))
	g, err := Sequential([]int{1, 28, 28}, NewFlatten(), NewLinear(784, 256, rng), NewReLU(), NewLinear(256, 10, rng))
	if err != nil {
		panic(err)
	}
	return g, randTensorIn(rng, 0, 1, 64, 1, 28, 28)
}

// benchGraphEval times one Eval-mode pass of the graph per iteration,
// fused (Forward) or layer by layer (Run with a no-op hook).
func benchGraphEval(b *testing.B, build func() (*Graph, *tensor.Tensor), fused bool) {
	g, x := build()
	var hook func(*Node, *tensor.Tensor) error
	if !fused {
		hook = func(*Node, *tensor.Tensor) error { return nil }
	}
	for b.Loop() {
		y, err := g.Run(x, Eval, hook)
		if err != nil {
			b.Fatal(err)
		}
		benchSink += y.Data()[0]
	}
	b.ReportMetric(float64(x.Dim(0)*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkGraphEvalSmallCNN(b *testing.B)             { benchGraphEval(b, benchSmallCNN, true) }
func BenchmarkGraphEvalSmallCNNLayerByLayer(b *testing.B) { benchGraphEval(b, benchSmallCNN, false) }
func BenchmarkGraphEvalMLP(b *testing.B)                  { benchGraphEval(b, benchMLP, true) }
func BenchmarkGraphEvalMLPLayerByLayer(b *testing.B)      { benchGraphEval(b, benchMLP, false) }
