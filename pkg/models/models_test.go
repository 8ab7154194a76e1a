package models

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func nodeNames(g *nn.Graph) []string {
	var names []string
	for _, n := range g.Nodes() {
		names = append(names, n.Name)
	}
	return names
}

func TestModelStructure(t *testing.T) {
	cases := []struct {
		name      string
		build     func() (*nn.Graph, error)
		input     []int
		nodes     []string
		output    []int
		numParams int
	}{
		{"mlp 256", func() (*nn.Graph, error) { return MLP(1, 256) }, []int{1, 28, 28},
			[]string{"flatten1", "linear1", "relu1", "linear2"}, []int{10}, 784*256 + 256 + 256*10 + 10},
		{"mlp two hidden", func() (*nn.Graph, error) { return MLP(1, 64, 32) }, []int{1, 28, 28},
			[]string{"flatten1", "linear1", "relu1", "linear2", "relu2", "linear3"}, []int{10}, 784*64 + 64 + 64*32 + 32 + 32*10 + 10},
		{"mlp no hidden", func() (*nn.Graph, error) { return MLP(1) }, []int{1, 28, 28},
			[]string{"flatten1", "linear1"}, []int{10}, 784*10 + 10},
		{"small cnn", func() (*nn.Graph, error) { return SmallCNN(1) }, []int{1, 28, 28},
			[]string{"conv2d1", "batchnorm2d1", "relu1", "maxpool2d1", "conv2d2", "batchnorm2d2", "relu2", "maxpool2d2", "flatten1", "linear1"},
			[]int{10}, (16*9 + 16) + 2*16 + (32*16*9 + 32) + 2*32 + (32*7*7*10 + 10)},
		{"residual mnist", func() (*nn.Graph, error) { return ResidualCNN(1, 1, 28, 28, 10) }, []int{1, 28, 28},
			[]string{"stem_conv", "stem_bn", "stem_relu", "block_conv1", "block_bn1", "block_relu1", "block_conv2", "block_bn2",
				"block_add", "block_relu2", "pool", "flatten", "fc"},
			[]int{10}, (8*9 + 8) + 3*(2*8) + 2*(8*8*9+8) + (8*14*14*10 + 10)},
		{"residual odd rgb", func() (*nn.Graph, error) { return ResidualCNN(2, 3, 9, 7, 4) }, []int{3, 9, 7},
			nil, []int{4}, (8*3*9 + 8) + 3*(2*8) + 2*(8*8*9+8) + (8*4*3*4 + 4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g.InputShape(), c.input) {
				t.Errorf("input shape %v, want %v", g.InputShape(), c.input)
			}
			if c.nodes != nil && !slices.Equal(nodeNames(g), c.nodes) {
				t.Errorf("nodes %v, want %v", nodeNames(g), c.nodes)
			}
			if !slices.Equal(g.OutputShape(), c.output) {
				t.Errorf("output shape %v, want %v", g.OutputShape(), c.output)
			}
			if g.NumParams() != c.numParams {
				t.Errorf("NumParams %d, want %d", g.NumParams(), c.numParams)
			}
		})
	}
}

func TestResidualSkipConnection(t *testing.T) {
	g, err := ResidualCNN(1, 1, 8, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	add, ok := g.Node("block_add")
	if !ok || add.Layer.Kind() != "Add" || !slices.Equal(add.Inputs, []string{"block_bn2", "stem_relu"}) {
		t.Errorf("block_add = %+v, want Add of block_bn2 and stem_relu", add)
	}
	if got := g.Consumers("stem_relu"); !slices.Equal(got, []string{"block_conv1", "block_add"}) {
		t.Errorf("stem_relu feeds %v, want [block_conv1 block_add]", got)
	}
}

func paramBits(g *nn.Graph) []uint32 {
	var bits []uint32
	for _, p := range g.Params() {
		for _, v := range p.Value.Data() {
			bits = append(bits, math.Float32bits(v))
		}
	}
	return bits
}

func TestBuildersAreSeeded(t *testing.T) {
	builders := map[string]func(seed uint64) (*nn.Graph, error){
		"residual small": func(seed uint64) (*nn.Graph, error) { return ResidualCNN(seed, 2, 6, 6, 5) },
	}
	for _, name := range Names() {
		builders[name] = func(seed uint64) (*nn.Graph, error) { return ByName(name, seed) }
	}
	for name, build := range builders {
		t.Run(name, func(t *testing.T) {
			a, errA := build(7)
			b, errB := build(7)
			c, errC := build(8)
			if err := errors.Join(errA, errB, errC); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(paramBits(a), paramBits(b)) {
				t.Error("seed 7 twice gave different weights")
			}
			if slices.Equal(paramBits(a), paramBits(c)) {
				t.Error("seeds 7 and 8 gave identical weights")
			}
		})
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func() (*nn.Graph, error)
		is    error
		want  string
	}{
		{"mlp zero hidden", func() (*nn.Graph, error) { return MLP(1, 0) }, nil, "models: MLP: hidden layer 1 has size 0, want > 0"},
		{"mlp negative second hidden", func() (*nn.Graph, error) { return MLP(1, 8, -3) }, nil, "hidden layer 2 has size -3"},
		{"residual too small", func() (*nn.Graph, error) { return ResidualCNN(1, 1, 1, 8, 10) }, nil,
			"models: ResidualCNN: input [1 1 8] with 10 classes"},
		{"residual no classes", func() (*nn.Graph, error) { return ResidualCNN(1, 1, 8, 8, 0) }, nil, "with 0 classes"},
		{"residual no channels", func() (*nn.Graph, error) { return ResidualCNN(1, 0, 8, 8, 2) }, nil, "want channels > 0"},
		{"unknown name", func() (*nn.Graph, error) { return ByName("resnet50", 1) }, ErrUnknownModel,
			`models: unknown model "resnet50" (known: cnn, mlp, residual)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.build()
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestDefaultTrainConfig(t *testing.T) {
	for _, name := range append(Names(), "unknown") {
		t.Run(name, func(t *testing.T) {
			a, b := DefaultTrainConfig(name), DefaultTrainConfig(name)
			if a.Epochs != 3 || a.BatchSize <= 0 || a.Optimizer == nil {
				t.Errorf("config %+v, want 3 epochs, a batch size and an optimizer", a)
			}
			if a.Optimizer == b.Optimizer {
				t.Error("two calls share one optimizer (and its state)")
			}
		})
	}
}

// quadrants returns n images [c, h, w] in 4 classes: class k has a bright
// block in quadrant k (clockwise from the top left) over Gaussian noise.
func quadrants(seed uint64, n, c, h, w int) (*tensor.Tensor, []int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	x := tensor.New(n, c, h, w)
	labels := make([]int, n)
	d := x.Data()
	for i := range n {
		k := rng.IntN(4)
		labels[i] = k
		r0 := []int{0, 0, 1, 1}[k] * (h / 2)
		c0 := []int{0, 1, 1, 0}[k] * (w / 2)
		for ch := range c {
			for y := range h {
				for xx := range w {
					v := 0.3 * float32(rng.NormFloat64())
					if y >= r0 && y < r0+h/2 && xx >= c0 && xx < c0+w/2 {
						v++
					}
					d[((i*c+ch)*h+y)*w+xx] = v
				}
			}
		}
	}
	return x, labels
}

// TestModelsLearnSyntheticTask trains each architecture briefly on a
// separable synthetic task and checks held-out accuracy.
func TestModelsLearnSyntheticTask(t *testing.T) {
	const maxUntrained, minAccuracy = 0.5, 0.9 // 4 classes: chance is 0.25
	cases := []struct {
		name    string
		build   func() (*nn.Graph, error)
		c, h, w int
		samples int // training samples; as many again are held out
		epochs  int
	}{
		{"mlp", func() (*nn.Graph, error) { return MLP(1, 32) }, 1, 28, 28, 256, 3},
		{"small cnn", func() (*nn.Graph, error) { return SmallCNN(1) }, 1, 28, 28, 64, 2},
		{"residual", func() (*nn.Graph, error) { return ResidualCNN(1, 2, 8, 8, 4) }, 2, 8, 8, 128, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			x, labels := quadrants(10, c.samples, c.c, c.h, c.w)
			testX, testLabels := quadrants(11, c.samples, c.c, c.h, c.w)
			before, _, err := nn.Evaluate(g, testX, testLabels, 50)
			if err != nil {
				t.Fatal(err)
			}
			cfg := nn.TrainConfig{Epochs: c.epochs, BatchSize: 16, Seed: 1, Optimizer: nn.NewAdam(3e-3)}
			if _, err := nn.Fit(g, x, labels, cfg); err != nil {
				t.Fatal(err)
			}
			acc, _, err := nn.Evaluate(g, testX, testLabels, 50)
			if err != nil {
				t.Fatal(err)
			}
			if before > maxUntrained || acc < minAccuracy {
				t.Errorf("held-out accuracy %.3f before training, %.3f after; want <= %g and >= %g", before, acc, maxUntrained, minAccuracy)
			}
		})
	}
}

// TestResidualGradients checks the gradients of a residual model (real
// layers, a node feeding two consumers) against central differences of the
// Train-mode loss.
func TestResidualGradients(t *testing.T) {
	const eps = 1e-3
	const absTol, relTol = 1e-3, 0.02
	g, err := ResidualCNN(3, 1, 4, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := quadrants(12, 6, 1, 4, 4)
	labels := []int{0, 1, 2, 0, 1, 2}
	loss := func() float64 {
		out, err := g.Forward(x, nn.Train)
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := nn.SoftmaxCrossEntropy(out, labels)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	g.ZeroGrad()
	out, err := g.Forward(x, nn.Train)
	if err != nil {
		t.Fatal(err)
	}
	_, grad, err := nn.SoftmaxCrossEntropy(out, labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(grad); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Params() {
		t.Run(p.Name, func(t *testing.T) {
			analytic := slices.Clone(p.Grad.Data())
			w := p.Value.Data()
			for i := 0; i < len(w); i += max(1, len(w)/20) {
				orig := w[i]
				mid := loss()
				w[i] = orig + eps
				up := loss()
				w[i] = orig - eps
				down := loss()
				w[i] = orig
				central := (up - down) / (2 * eps)
				// Where a ReLU or max-pool kink lies within eps, the analytic
				// gradient is one of the one-sided slopes instead.
				left, right := (mid-down)/eps, (up-mid)/eps
				a := float64(analytic[i])
				tol := absTol + relTol*math.Abs(central)
				if math.Abs(a-central) > tol && (a < min(left, right)-tol || a > max(left, right)+tol) {
					t.Errorf("grad[%d] = %.5f, central difference %.5f, one-sided %.5f and %.5f", i, a, central, left, right)
				}
			}
		})
	}
}

func TestModelsSaveLoad(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			g, err := ByName(name, 5)
			if err != nil {
				t.Fatal(err)
			}
			x, labels := quadrants(13, 8, 1, 28, 28)
			// One step, so BatchNorm running statistics are not the defaults.
			if _, err := nn.Fit(g, x, labels, nn.TrainConfig{Epochs: 1, BatchSize: 8, Optimizer: nn.NewSGD(0.01, 0)}); err != nil {
				t.Fatal(err)
			}
			var file bytes.Buffer
			if err := nn.Save(&file, g); err != nil {
				t.Fatal(err)
			}
			loaded, err := nn.Load(&file)
			if err != nil {
				t.Fatal(err)
			}
			a, err := g.Forward(x, nn.Eval)
			if err != nil {
				t.Fatal(err)
			}
			b, err := loaded.Forward(x, nn.Eval)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Data(), b.Data()) || loaded.Summary() != g.Summary() {
				t.Error("the loaded model differs from the saved one")
			}
		})
	}
}
