package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The Eval-mode fast paths (vector epilogues, the branch-free ReLU, the
// 2×2 max pool kernel, and the fused Conv2D pipeline of Graph.runEval)
// must give the bits of the straightforward loops. These tests compare
// them on random data with special values mixed in; they run in both
// builds (go test and go test -tags noasm), so the assembly kernels and
// their Go twins are each checked against the same references.

// evalSpecials are values mixed into the random inputs.
var evalSpecials = []float32{
	0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), math.Float32frombits(1), math.Float32frombits(0x80000001),
}

// randSpecialTensor returns a tensor of normal random values with a share
// frac of evalSpecials.
func randSpecialTensor(rng *rand.Rand, frac float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	d := t.Data()
	for i := range d {
		if rng.Float64() < frac {
			d[i] = evalSpecials[rng.IntN(len(evalSpecials))]
			continue
		}
		d[i] = float32(rng.NormFloat64())
	}
	return t
}

// bitsEqual reports the first index where a and b differ in their bits
// (any NaN matches any NaN: arithmetic on two NaN operands may keep either
// payload), or -1.
func bitsEqual(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

// refReLU is ReLU's definition: x where x > 0 or x is NaN, else +0.
func refReLU(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.New(x.Shape()...)
	for i, v := range x.Data() {
		if v > 0 || v != v {
			y.Data()[i] = v
		}
	}
	return y
}

// refBatchNormEval is BatchNorm2D's Eval-mode definition, element by
// element.
func refBatchNormEval(l *BatchNorm2D, x *tensor.Tensor) *tensor.Tensor {
	s := x.Shape()
	y := tensor.New(s...)
	hw := s[2] * s[3]
	for i := range s[0] {
		for c := range s[1] {
			g, b := float64(l.Gamma.Value.Data()[c]), float64(l.Beta.Value.Data()[c])
			scale := g / math.Sqrt(float64(l.RunningVar.Value.Data()[c])+float64(l.Eps))
			p := float64(l.RunningMean.Value.Data()[c]) * scale
			shift := b - p
			off := (i*s[1] + c) * hw
			for j, v := range x.Data()[off : off+hw] {
				q := float64(v) * scale
				y.Data()[off+j] = float32(q + shift)
			}
		}
	}
	return y
}

// refConv2D is Conv2D's definition through Im2Col and one product per
// sample, then the bias added to each output, as the layer computed it
// before its fast paths.
func refConv2D(l *Conv2D, x *tensor.Tensor) *tensor.Tensor {
	s := x.Shape()
	oh, ow := ConvOutputSize(s[2], l.KH, l.Stride, l.Pad), ConvOutputSize(s[3], l.KW, l.Stride, l.Pad)
	k, ohw, chw := l.InC*l.KH*l.KW, oh*ow, l.InC*s[2]*s[3]
	y := tensor.New(s[0], l.OutC, oh, ow)
	col := make([]float32, k*ohw)
	for i := range s[0] {
		Im2Col(x.Data()[i*chw:(i+1)*chw], l.InC, s[2], s[3], l.KH, l.KW, l.Stride, l.Pad, col)
		yi := y.Data()[i*l.OutC*ohw : (i+1)*l.OutC*ohw]
		gemmSerial(false, false, l.OutC, ohw, k, l.Weight.Value.Data(), k, col, ohw, 0, yi, ohw)
		if l.Bias == nil && l.fusable() {
			// The stride-1 path has always added a zero bias (-0 + 0 = +0).
			for j := range yi {
				yi[j] += 0
			}
		}
		if l.Bias != nil {
			for o, b := range l.Bias.Value.Data() {
				for j := range yi[o*ohw : (o+1)*ohw] {
					yi[o*ohw+j] += b
				}
			}
		}
	}
	return y
}

// randBatchNorm returns a BatchNorm2D over c channels with random
// parameters and running statistics, some gammas negative.
func randBatchNorm(rng *rand.Rand, c int) *BatchNorm2D {
	l := NewBatchNorm2D(c)
	for i := range c {
		l.Gamma.Value.Data()[i] = float32(rng.NormFloat64())
		l.Beta.Value.Data()[i] = float32(rng.NormFloat64() * 0.5)
		l.RunningMean.Value.Data()[i] = float32(rng.NormFloat64() * 0.3)
		l.RunningVar.Value.Data()[i] = float32(0.1 + rng.Float64()*2)
	}
	return l
}

// posBatchNorm is randBatchNorm with every Gamma positive, so that every
// channel's scale is and a fused block pools before its epilogue.
func posBatchNorm(rng *rand.Rand, c int) *BatchNorm2D {
	l := randBatchNorm(rng, c)
	for i, g := range l.Gamma.Value.Data() {
		l.Gamma.Value.Data()[i] = float32(math.Abs(float64(g))) + 0.01
	}
	return l
}

func TestPoolCommutes(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name string
		e    f32gemm.Epilogue
		want bool
	}{
		{"bias, affine, ReLU", f32gemm.Epilogue{Bias: 0.5, AddBias: true, Scale: 2, Shift: -1, Affine: true, ReLU: true}, true},
		{"bias and ReLU", f32gemm.Epilogue{Bias: -3, AddBias: true, ReLU: true}, true},
		{"ReLU alone", f32gemm.Epilogue{ReLU: true}, true},
		{"no ReLU (-0 and +0 tie)", f32gemm.Epilogue{Bias: 1, AddBias: true}, false},
		{"negative scale reverses the order", f32gemm.Epilogue{AddBias: true, Scale: -1, Affine: true, ReLU: true}, false},
		{"zero scale makes Inf·0 a NaN", f32gemm.Epilogue{AddBias: true, Affine: true, ReLU: true}, false},
		{"infinite scale", f32gemm.Epilogue{AddBias: true, Scale: inf, Affine: true, ReLU: true}, false},
		{"NaN shift", f32gemm.Epilogue{AddBias: true, Scale: 1, Shift: math.NaN(), Affine: true, ReLU: true}, false},
		{"infinite shift", f32gemm.Epilogue{AddBias: true, Scale: 1, Shift: -inf, Affine: true, ReLU: true}, false},
		{"infinite bias", f32gemm.Epilogue{Bias: float32(-inf), AddBias: true, ReLU: true}, false},
		{"infinite bias not added", f32gemm.Epilogue{Bias: float32(-inf), ReLU: true}, true},
	}
	for _, c := range cases {
		if got := poolCommutes(c.e); got != c.want {
			t.Errorf("%s: poolCommutes = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestEvalLayersMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	noBias := NewConv2D(3, 5, 3, 1, 1, rng)
	noBias.Bias = nil
	noBiasLinear := NewLinear(300, 64, rng)
	noBiasLinear.Bias = nil
	cases := []struct {
		name  string
		layer Layer
		shape []int
		ref   func(l Layer, x *tensor.Tensor) *tensor.Tensor
	}{
		{"relu", NewReLU(), []int{3, 5, 17, 9}, func(_ Layer, x *tensor.Tensor) *tensor.Tensor { return refReLU(x) }},
		{"relu empty batch", NewReLU(), []int{0, 4}, func(_ Layer, x *tensor.Tensor) *tensor.Tensor { return refReLU(x) }},
		{"maxpool 2x2 s2", NewMaxPool2D(2, 2), []int{2, 3, 28, 28}, trainForward},
		{"maxpool 2x2 s2 odd", NewMaxPool2D(2, 2), []int{2, 3, 7, 9}, trainForward},
		{"maxpool 3x3 s2", NewMaxPool2D(3, 2), []int{2, 3, 11, 10}, trainForward},
		{"maxpool 2x2 s1", NewMaxPool2D(2, 1), []int{1, 2, 6, 5}, trainForward},
		{"avgpool 2x2 s2", NewAvgPool2D(2, 2), []int{2, 3, 9, 8}, refAvgPoolLayer},
		{"avgpool 3x3 s1", NewAvgPool2D(3, 1), []int{1, 2, 7, 6}, refAvgPoolLayer},
		{"batchnorm", randBatchNorm(rng, 6), []int{4, 6, 5, 7}, func(l Layer, x *tensor.Tensor) *tensor.Tensor {
			return refBatchNormEval(l.(*BatchNorm2D), x)
		}},
		{"conv 3x3 pad 1", NewConv2D(3, 5, 3, 1, 1, rng), []int{3, 3, 9, 8}, refConvLayer},
		{"conv 3x3 pad 1 no bias", noBias, []int{2, 3, 6, 6}, refConvLayer},
		{"conv 3x3 stride 2", NewConv2D(2, 4, 3, 2, 1, rng), []int{2, 2, 9, 9}, refConvLayer},
		{"conv 1x1", NewConv2D(4, 3, 1, 1, 0, rng), []int{2, 4, 5, 5}, refConvLayer},
		{"linear 784 to 256, batch 7 (transposed product)", NewLinear(784, 256, rng), []int{7, 784}, refLinearLayer},
		{"linear 300 to 64, batch 9, no bias", noBiasLinear, []int{9, 300}, refLinearLayer},
		{"linear 36 to 8, batch 100", NewLinear(36, 8, rng), []int{100, 36}, refLinearLayer},
	}
	for _, c := range cases {
		for _, procs := range []int{1, 2} {
			func() {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				x := randSpecialTensor(rng, 0.05, c.shape...)
				got, err := c.layer.Forward([]*tensor.Tensor{x}, Eval)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				want := c.ref(c.layer.Clone(), x)
				if !got.SameShape(want) {
					t.Fatalf("%s: shape %v, want %v", c.name, got.Shape(), want.Shape())
				}
				if i := bitsEqual(got.Data(), want.Data()); i >= 0 {
					t.Fatalf("%s, GOMAXPROCS %d: element %d = %v (%#x), want %v (%#x)", c.name, procs, i,
						got.Data()[i], math.Float32bits(got.Data()[i]), want.Data()[i], math.Float32bits(want.Data()[i]))
				}
			}()
		}
	}
}

// trainForward is the reference of a layer whose Train-mode pass (which
// records what Backward needs) computes its output the old way.
func trainForward(l Layer, x *tensor.Tensor) *tensor.Tensor {
	y, err := l.Forward([]*tensor.Tensor{x}, Train)
	if err != nil {
		panic(err)
	}
	return y
}

// refLinearLayer is Linear's definition: x·Wᵀ with the weight packed
// transposed, then the bias added row by row.
func refLinearLayer(ly Layer, x *tensor.Tensor) *tensor.Tensor {
	l := ly.(*Linear)
	n := x.Dim(0)
	y := tensor.New(n, l.Out)
	gemmSerial(false, true, n, l.Out, l.In, x.Data(), l.In, l.Weight.Value.Data(), l.In, 0, y.Data(), l.Out)
	if l.Bias != nil {
		for i := range n {
			for j, b := range l.Bias.Value.Data() {
				y.Data()[i*l.Out+j] += b
			}
		}
	}
	return y
}

// refAvgPoolLayer is AvgPool2D's definition: each window summed in
// row-major order in float32, then divided by K·K.
func refAvgPoolLayer(ly Layer, x *tensor.Tensor) *tensor.Tensor {
	l := ly.(*AvgPool2D)
	s := x.Shape()
	oh, ow := ConvOutputSize(s[2], l.K, l.Stride, 0), ConvOutputSize(s[3], l.K, l.Stride, 0)
	y := tensor.New(s[0], s[1], oh, ow)
	for p := range s[0] * s[1] {
		for oy := range oh {
			for ox := range ow {
				var sum float32
				for ky := range l.K {
					for kx := range l.K {
						sum += x.Data()[p*s[2]*s[3]+(oy*l.Stride+ky)*s[3]+ox*l.Stride+kx]
					}
				}
				y.Data()[(p*oh+oy)*ow+ox] = sum / float32(l.K*l.K)
			}
		}
	}
	return y
}

func refConvLayer(l Layer, x *tensor.Tensor) *tensor.Tensor { return refConv2D(l.(*Conv2D), x) }

// TestGraphEvalFusedMatchesLayerByLayer checks that Forward's fused
// Eval-mode pass (Conv2D with BatchNorm2D, ReLU and MaxPool2D in one
// per-sample pipeline; Flatten as a view) gives the bits of the
// layer-by-layer pass that Run takes when a hook watches every node, at
// GOMAXPROCS 1 and 2.
func TestGraphEvalFusedMatchesLayerByLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	noBias := NewConv2D(4, 6, 3, 1, 1, rng)
	noBias.Bias = nil
	build := map[string]func() (*Graph, error){
		"small cnn": func() (*Graph, error) {
			return Sequential([]int{1, 28, 28},
				NewConv2D(1, 16, 3, 1, 1, rng), randBatchNorm(rng, 16), NewReLU(), NewMaxPool2D(2, 2),
				NewConv2D(16, 32, 3, 1, 1, rng), randBatchNorm(rng, 32), NewReLU(), NewMaxPool2D(2, 2),
				NewFlatten(), NewLinear(32*7*7, 10, rng))
		},
		"small cnn, every BN scale positive (pooled before the epilogue)": func() (*Graph, error) {
			return Sequential([]int{1, 12, 12},
				NewConv2D(1, 8, 3, 1, 1, rng), posBatchNorm(rng, 8), NewReLU(), NewMaxPool2D(2, 2),
				NewConv2D(8, 16, 3, 1, 1, rng), posBatchNorm(rng, 16), NewReLU(), NewMaxPool2D(2, 2),
				NewFlatten(), NewLinear(16*3*3, 4, rng))
		},
		"conv relu pool, no BN (pooled before the bias)": func() (*Graph, error) {
			return Sequential([]int{3, 10, 10}, NewConv2D(3, 5, 3, 1, 1, rng), NewReLU(), NewMaxPool2D(2, 2), NewFlatten())
		},
		"conv relu pool, odd size, no bias": func() (*Graph, error) {
			return Sequential([]int{4, 9, 7}, noBias, NewReLU(), NewMaxPool2D(2, 2), NewFlatten(), NewLinear(6*4*3, 3, rng))
		},
		"conv bn at the output": func() (*Graph, error) {
			return Sequential([]int{2, 6, 6}, NewConv2D(2, 3, 3, 1, 1, rng), randBatchNorm(rng, 3))
		},
		"conv pool 3x3 not fused": func() (*Graph, error) {
			return Sequential([]int{2, 8, 8}, NewConv2D(2, 3, 3, 1, 0, rng), NewReLU(), NewMaxPool2D(3, 2), NewFlatten())
		},
		"residual: conv read twice": func() (*Graph, error) {
			return NewBuilder("in", 3, 8, 8).
				Add("c1", NewConv2D(3, 4, 3, 1, 1, rng)).
				Add("r1", NewReLU()).
				Add("c2", NewConv2D(4, 4, 3, 1, 1, rng)).
				Add("bn2", randBatchNorm(rng, 4)).
				Add("sum", NewAdd(), "bn2", "r1").
				Add("r2", NewReLU()).
				Add("pool", NewMaxPool2D(2, 2)).
				Add("flat", NewFlatten()).
				Add("fc", NewLinear(4*4*4, 5, rng)).
				Build()
		},
		"mlp": func() (*Graph, error) {
			return Sequential([]int{1, 6, 6}, NewFlatten(), NewLinear(36, 8, rng), NewReLU(), NewLinear(8, 3, rng))
		},
	}
	watch := func(*Node, *tensor.Tensor) error { return nil }
	for name, b := range build {
		g, err := b()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, frac := range []float64{0, 0.01} { // share of evalSpecials
			x := randSpecialTensor(rng, frac, append([]int{5}, g.InputShape()...)...)
			keep := x.Clone()
			want, err := g.Run(x, Eval, watch)
			if err != nil {
				t.Fatalf("%s: layer by layer: %v", name, err)
			}
			for _, procs := range []int{1, 2} {
				func() {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					got, err := g.Forward(x, Eval)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if i := bitsEqual(got.Data(), want.Data()); i >= 0 || !got.SameShape(want) {
						t.Fatalf("%s, GOMAXPROCS %d: fused output differs at %d (specials %v): %v, want %v", name, procs, i, frac, got.Data(), want.Data())
					}
					if &got.Data()[0] == &x.Data()[0] {
						t.Fatalf("%s: the output aliases the input", name)
					}
				}()
			}
			if bitsEqual(x.Data(), keep.Data()) >= 0 {
				t.Fatalf("%s: the pass modified its input", name)
			}
		}
	}
}

// TestGraphEvalKeepsResults checks that the storage Eval-mode passes
// recycle never reaches a caller: a result stays as it was while later
// passes run, sequentially and concurrently (run under -race), including
// when a fused Conv2D block is the graph's output.
func TestGraphEvalKeepsResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	cases := []struct {
		name  string
		build func() (*Graph, error)
	}{
		{"conv blocks then linear", func() (*Graph, error) {
			return Sequential([]int{1, 12, 12},
				NewConv2D(1, 4, 3, 1, 1, rng), randBatchNorm(rng, 4), NewReLU(), NewMaxPool2D(2, 2),
				NewConv2D(4, 6, 3, 1, 1, rng), NewReLU(), NewMaxPool2D(2, 2), NewFlatten(), NewLinear(6*3*3, 4, rng))
		}},
		{"mlp: linear and relu fused and recycled", func() (*Graph, error) {
			return Sequential([]int{30}, NewLinear(30, 40, rng), NewReLU(), NewLinear(40, 20, rng), NewReLU(), NewLinear(20, 5, rng), NewReLU())
		}},
		{"fused block at the output", func() (*Graph, error) {
			return Sequential([]int{2, 8, 8}, NewConv2D(2, 3, 3, 1, 1, rng), NewConv2D(3, 3, 3, 1, 1, rng), randBatchNorm(rng, 3), NewReLU())
		}},
	}
	for _, c := range cases {
		g, err := c.build()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		const passes = 6
		xs := make([]*tensor.Tensor, passes)
		want := make([]*tensor.Tensor, passes)
		for p := range passes {
			xs[p] = randSpecialTensor(rng, 0, append([]int{3}, g.InputShape()...)...)
			y, err := g.Forward(xs[p], Eval)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			want[p] = y
		}
		// Every earlier result must be as a fresh layer-by-layer pass gives it.
		for p := range passes {
			ref, err := g.Run(xs[p], Eval, func(*Node, *tensor.Tensor) error { return nil })
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if i := bitsEqual(want[p].Data(), ref.Data()); i >= 0 {
				t.Fatalf("%s: result %d changed at %d after later passes", c.name, p, i)
			}
		}
		got := make([]*tensor.Tensor, passes)
		errs := make([]error, passes)
		var wg sync.WaitGroup
		for p := range passes {
			wg.Go(func() { got[p], errs[p] = g.Forward(xs[p], Eval) })
		}
		wg.Wait()
		for p := range passes {
			if errs[p] != nil {
				t.Fatalf("%s: concurrent pass %d: %v", c.name, p, errs[p])
			}
			if i := bitsEqual(got[p].Data(), want[p].Data()); i >= 0 {
				t.Fatalf("%s: concurrent pass %d differs at %d", c.name, p, i)
			}
		}
	}
}
