package testmodels

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
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
	wantDead := map[string]int{"linear1": 8, "linear2": 8, "linear3": 8}
	if fmt.Sprint(plain.DeadInputs) != fmt.Sprint(wantDead) {
		t.Fatalf("DeadInputs = %v, want %v", plain.DeadInputs, wantDead)
	}
	if plain.Margin != 1 || len(plain.WeakClasses) != 2 {
		t.Fatalf("margin %g and weak classes %v, want 1 and two classes", plain.Margin, plain.WeakClasses)
	}
	// Every sample is classified with at least the stated margin.
	for _, set := range []*datasets.Dataset{plain.Train, plain.Select, plain.Test} {
		if lead := leastLead(t, plain.Model, set); lead < plain.Margin-1e-5 {
			t.Errorf("%s: the own logit leads by %g at least, want >= the margin %g", set.Name, lead, plain.Margin)
		}
	}
	ref, err := plain.Model.Forward(plain.Test.X, nn.Eval)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		outliers []Outlier
		// zeroRows are, per fragile layer, the rows whose other weights all
		// fall below half an int8 step (and so round to 0); every other
		// row keeps its weights at one step or more.
		zeroRows map[string][]int
	}{
		{"none", nil, nil},
		{"linear1 1000", []Outlier{{"linear1", 1000}}, map[string][]int{"linear1": seq(9)}},
		{"linear2 1000", []Outlier{{"linear2", 1000}}, map[string][]int{"linear2": seq(9)}},
		{"linear3 -1000", []Outlier{{"linear3", -1000}}, map[string][]int{"linear3": seq(8)}},
		{"linear1 1000 and linear2 100", []Outlier{{"linear1", 1000}, {"linear2", 100}},
			map[string][]int{"linear1": seq(9), "linear2": append(slices.Clone(plain.WeakClasses), 8)}},
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
			got, err := task.Model.Forward(task.Test.X, nn.Eval)
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
				half := math.Abs(float64(o.Magnitude)) / 254
				var zero []int
				for r := range l.Out {
					small, large := 0, 0
					for k := range l.In {
						v := math.Abs(float64(w[r*l.In+k]))
						switch {
						case k == in:
							if w[r*l.In+k] != o.Magnitude {
								t.Fatalf("%s weight [%d, %d] = %g, want the outlier %g", o.Layer, r, k, w[r*l.In+k], o.Magnitude)
							}
						case v == 0:
						case v < half:
							small++
						default:
							large++
						}
					}
					if small > 0 && large > 0 {
						t.Fatalf("%s row %d: %d weights round to 0 and %d do not", o.Layer, r, small, large)
					}
					if large == 0 {
						zero = append(zero, r)
					}
				}
				if want := c.zeroRows[o.Layer]; !slices.Equal(zero, want) {
					t.Errorf("%s: the rows whose weights all round to 0 are %v, want %v", o.Layer, zero, want)
				}
			}
		})
	}
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// leastLead returns the least amount by which g's logit of a sample's own
// class exceeds its largest other logit, over the samples of d.
func leastLead(t *testing.T, g *nn.Graph, d *datasets.Dataset) float64 {
	t.Helper()
	out, err := g.Forward(d.X, nn.Eval)
	if err != nil {
		t.Fatal(err)
	}
	c := out.Dim(1)
	least := math.Inf(1)
	for i, y := range d.Labels {
		row := out.Data()[i*c : (i+1)*c]
		other := math.Inf(-1)
		for k, v := range row {
			if k != y {
				other = max(other, float64(v))
			}
		}
		least = min(least, float64(row[y])-other)
	}
	return least
}

// TestFragileMLPSetsAreDisjointAndBalanced checks, for several seeds, the
// invariants the features rely on: every sample leads by the margin, no
// sample is in two sets, and every class has its share of each set.
func TestFragileMLPSetsAreDisjointAndBalanced(t *testing.T) {
	for _, seed := range []uint64{1, 7, 1 << 40, 0x9E3779B97F4A7C15 + 7} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			cfg := DefaultFragileConfig()
			cfg.Seed = seed
			task, err := FragileMLP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, set := range []*datasets.Dataset{task.Train, task.Select, task.Test} {
				if lead := leastLead(t, task.Model, set); lead < task.Margin-1e-5 {
					t.Errorf("%s: the own logit leads by %g at least, want >= the margin %g", set.Name, lead, task.Margin)
				}
				counts := make([]int, set.Classes)
				for i, y := range set.Labels {
					counts[y]++
					row := fmt.Sprint(set.X.Data()[i*9 : (i+1)*9])
					if where, ok := seen[row]; ok {
						t.Fatalf("sample %d of %s is also in %s", i, set.Name, where)
					}
					seen[row] = set.Name
				}
				for k, n := range counts {
					if n != set.Len()/set.Classes {
						t.Errorf("%s: class %d has %d samples, want %d", set.Name, k, n, set.Len()/set.Classes)
					}
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
			cfg.Outliers = []Outlier{{"linear2", 50}}
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
				fmt.Sprint(x.Train.X.Data(), x.Select.X.Data(), x.Test.X.Data()) == fmt.Sprint(y.Train.X.Data(), y.Select.X.Data(), y.Test.X.Data())
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
		{"one class", func(c *FragileConfig) { c.Classes = 1 }, "Classes = 1", nil},
		{"too few features", func(c *FragileConfig) { c.Features = 8 }, "Features = 8, want >= Classes+1 = 9", nil},
		{"no strong class", func(c *FragileConfig) { c.Weak = 8 }, "Weak = 8", nil},
		{"negative spread", func(c *FragileConfig) { c.Spread = -1 }, "Spread = -1", nil},
		{"classes overlap", func(c *FragileConfig) { c.Separation = 6 }, "Separation = 6, want finite and > 2*3*Spread = 6", nil},
		{"too few test samples", func(c *FragileConfig) { c.Test = 7 }, "Test = 7, want >= Classes = 8", nil},
		{"outlier on a missing layer", func(c *FragileConfig) { c.Outliers = []Outlier{{"linear4", 10}} }, `"linear4"`, ErrNotFragile},
		{"outlier on a ReLU", func(c *FragileConfig) { c.Outliers = []Outlier{{"relu1", 10}} }, `"relu1"`, ErrNotFragile},
		{"zero outlier", func(c *FragileConfig) { c.Outliers = []Outlier{{"linear1", 0}} }, "magnitude 0", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultFragileConfig()
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
	acc, _, err := nn.Evaluate(task.Model, task.Test.X, task.Test.Labels, 256)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d training, %d selection and %d test samples, FP32 test accuracy %.0f%%\n",
		task.Train.Len(), task.Select.Len(), task.Test.Len(), 100*acc)
	fmt.Println("always-zero inputs:", task.DeadInputs)
	fmt.Println("logit margin:", task.Margin)
	// Output:
	// 800 training, 400 selection and 400 test samples, FP32 test accuracy 100%
	// always-zero inputs: map[linear1:8 linear2:8 linear3:8]
	// logit margin: 1
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
