package testmodels

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// linearWeights returns the weights of a Linear node of g.
func linearWeights(t *testing.T, g *nn.Graph, name string) *nn.Linear {
	t.Helper()
	n, ok := g.Node(name)
	if !ok {
		t.Fatalf("no node %q", name)
	}
	l, ok := n.Layer.(*nn.Linear)
	if !ok {
		t.Fatalf("node %q is %s, want Linear", name, n.Layer.Kind())
	}
	return l
}

func TestFragileMLP(t *testing.T) {
	plain, err := FragileMLP(DefaultFragileConfig())
	if err != nil {
		t.Fatal(err)
	}
	acc, _, err := nn.Evaluate(plain.Model, plain.Eval.X, plain.Eval.Labels, 256)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.95 {
		t.Fatalf("held-out accuracy %.4f, want >= 0.95: the default task did not train", acc)
	}
	wantDead := map[string]int{"linear1": 8, "linear2": 31, "linear3": 31}
	if fmt.Sprint(plain.DeadInputs) != fmt.Sprint(wantDead) {
		t.Fatalf("DeadInputs = %v, want %v", plain.DeadInputs, wantDead)
	}
	ref, err := plain.Model.Forward(plain.Eval.X, nn.Eval)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		outliers []Outlier
		// minZeroFrac is the fraction of each fragile layer's other weights
		// that must fall below half an int8 step (and so quantize to 0).
		minZeroFrac float64
	}{
		{"none", nil, 0},
		{"linear1 1000", []Outlier{{"linear1", 1000}}, 0.95},
		{"linear2 1000", []Outlier{{"linear2", 1000}}, 0.95},
		{"linear3 -1000", []Outlier{{"linear3", -1000}}, 0.95},
		{"linear1 1000 and linear2 100", []Outlier{{"linear1", 1000}, {"linear2", 100}}, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultFragileConfig()
			cfg.Outliers = c.outliers
			task, err := FragileMLP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := task.Model.Forward(task.Eval.X, nn.Eval)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got.Data() {
				if math.Float32bits(v) != math.Float32bits(ref.Data()[i]) {
					t.Fatalf("output %d is %g with outliers, %g without: the FP32 function changed", i, v, ref.Data()[i])
				}
			}
			for _, o := range c.outliers {
				l := linearWeights(t, task.Model, o.Layer)
				in := task.DeadInputs[o.Layer]
				w := l.Weight.Value.Data()
				small, others := 0, 0
				for r := range l.Out {
					step := math.Abs(float64(o.Magnitude)) / 127
					for k := range l.In {
						v := float64(w[r*l.In+k])
						if k == in {
							if v != float64(o.Magnitude) {
								t.Fatalf("%s weight [%d, %d] = %g, want the outlier %g", o.Layer, r, k, v, o.Magnitude)
							}
							continue
						}
						others++
						if math.Abs(v) < step/2 {
							small++
						}
					}
				}
				if frac := float64(small) / float64(others); frac < c.minZeroFrac {
					t.Errorf("%s: %.3f of the other weights fall below half an int8 step, want >= %g", o.Layer, frac, c.minZeroFrac)
				}
			}
		})
	}
}

func TestFragileMLPIsSeeded(t *testing.T) {
	cases := []struct {
		name   string
		a, b   uint64
		wantEq bool
	}{
		{"same seed", 3, 3, true},
		{"other seed", 3, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultFragileConfig()
			cfg.Epochs, cfg.Outliers = 2, []Outlier{{"linear2", 50}}
			cfg.Seed = c.a
			x, err := FragileMLP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Seed = c.b
			y, err := FragileMLP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			eq := fmt.Sprint(paramBits(x.Model)) == fmt.Sprint(paramBits(y.Model)) &&
				fmt.Sprint(x.Train.X.Data()) == fmt.Sprint(y.Train.X.Data())
			if eq != c.wantEq {
				t.Fatalf("seeds %d and %d: identical models and data = %v, want %v", c.a, c.b, eq, c.wantEq)
			}
		})
	}
}

func TestFragileMLPRefuses(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*FragileConfig)
		want    string
		wantErr error
	}{
		{"one feature", func(c *FragileConfig) { c.Features = 1 }, "Features = 1", nil},
		{"one class", func(c *FragileConfig) { c.Classes = 1 }, "Classes = 1", nil},
		{"no training samples", func(c *FragileConfig) { c.Samples, c.Eval = 10, 10 }, "Samples, Eval = 10, 10", nil},
		{"negative spread", func(c *FragileConfig) { c.Spread = -1 }, "Spread = -1", nil},
		{"narrow hidden layer", func(c *FragileConfig) { c.Hidden = []int{32, 1} }, "Hidden[1] = 1", nil},
		{"negative epochs", func(c *FragileConfig) { c.Epochs = -1 }, "Epochs = -1", nil},
		{"outlier on a missing layer", func(c *FragileConfig) { c.Outliers = []Outlier{{"linear4", 10}} }, `"linear4"`, ErrNotFragile},
		{"outlier on a ReLU", func(c *FragileConfig) { c.Outliers = []Outlier{{"relu1", 10}} }, `"relu1"`, ErrNotFragile},
		{"zero outlier", func(c *FragileConfig) { c.Outliers = []Outlier{{"linear1", 0}} }, "magnitude 0", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultFragileConfig()
			cfg.Epochs = 1
			c.mutate(&cfg)
			_, err := FragileMLP(cfg)
			if err == nil {
				t.Fatal("FragileMLP succeeded, want an error")
			}
			if !strings.Contains(err.Error(), c.want) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("error %q, want it to name %q (and wrap %v)", err, c.want, c.wantErr)
			}
		})
	}
}

func TestAddWeightOutliersRefuses(t *testing.T) {
	g, err := models.MLP(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	cases := []struct {
		name      string
		g         *nn.Graph
		layer     string
		input     int
		magnitude float32
		want      string
		fragile   bool
	}{
		{"nil model", nil, "linear1", 0, 10, "nil model", true},
		{"missing node", g, "fc", 0, 10, `no node "fc"`, true},
		{"not Linear", g, "flatten1", 0, 10, "a Flatten node", true},
		{"input too large", g, "linear2", 16, 10, "input 16 out of range [0, 16)", true},
		{"negative input", g, "linear1", -1, 10, "input -1", true},
		{"NaN", g, "linear1", 0, nan, "magnitude NaN", false},
		{"infinite", g, "linear1", 0, float32(math.Inf(1)), "magnitude +Inf", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := AddWeightOutliers(c.g, c.layer, c.input, c.magnitude)
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrNotFragile) != c.fragile {
				t.Fatalf("error %v, want one naming %q (ErrNotFragile: %v)", err, c.want, c.fragile)
			}
		})
	}
}

func ExampleFragileMLP() {
	cfg := DefaultFragileConfig()
	cfg.Outliers = []Outlier{{Layer: "linear1", Magnitude: 1000}}
	task, err := FragileMLP(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, _, err := nn.Evaluate(task.Model, task.Eval.X, task.Eval.Labels, 256)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d training and %d held-out samples, FP32 accuracy %.0f%%\n", task.Train.Len(), task.Eval.Len(), 100*acc)
	fmt.Println("always-zero inputs:", task.DeadInputs)
	// Output:
	// 800 training and 400 held-out samples, FP32 accuracy 100%
	// always-zero inputs: map[linear1:8 linear2:31 linear3:31]
}

// paramBits returns the bits of every parameter of g, in order.
func paramBits(g *nn.Graph) []uint32 {
	var bits []uint32
	for _, p := range g.Params() {
		for _, v := range p.Value.Data() {
			bits = append(bits, math.Float32bits(v))
		}
	}
	return bits
}
