package testmodels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// ErrNotFragile reports a layer that cannot be made fragile: it is not a
// Linear node of the model, or it has no input that is always 0.
var ErrNotFragile = errors.New("testmodels: layer cannot be made fragile")

// WeakWeight is the weight of a weak class's path in linear2 of
// FragileMLP; linear3 multiplies the path by 1/WeakWeight = 3 to restore
// its scale. Every other weight of the MLP is -1, 0 or 1.
const WeakWeight = 1.0 / 3

// Truncation bounds the noise of FragileMLP's samples: each noise value is
// a standard normal draw redrawn until it lies within ±Truncation, times
// the spread.
const Truncation = 3.0

// Outlier makes one Linear layer of FragileMLP fragile: every row of its
// weight gets Magnitude on the layer's always-zero input. The FP32 model
// is unchanged (the weights only ever multiply exact zeros), but the
// symmetric int8 step of every row becomes |Magnitude|/127, so that a
// weight w of the row rounds to 0 when |w| < |Magnitude|/254.
//
// The MLP's weights have the magnitudes 1/3, 1 and 3 (see FragileMLP), so:
//
//   - |Magnitude| > 762 (3*254) rounds every other weight of the layer to
//     0: the layer outputs its bias only, the same for every sample, and
//     the model predicts one class for all of them. 1000 does this.
//   - 84.7 < |Magnitude| <= 254 on linear2 rounds the weak classes'
//     weights 1/3 to 0 and every other class's weight 1 to one step,
//     |Magnitude|/127, the same for all of them: exactly the weak classes
//     are lost. 100 does this (1 becomes 0.787).
type Outlier struct {
	// Layer is a Linear node of the MLP: "linear1", "linear2" or "linear3".
	Layer string
	// Magnitude is the outlier weight, finite and not 0.
	Magnitude float32
}

// FragileConfig configures FragileMLP. Zero fields take the values of
// DefaultFragileConfig; Outliers may be empty.
type FragileConfig struct {
	// Seed drives the class axes, their signs, which classes are weak and
	// the noise of every sample.
	Seed uint64
	// Features is the number of input features, at least Classes+1; the
	// last one is always 0.
	Features int
	// Classes is the number of classes, at least 2.
	Classes int
	// Weak is the number of weak classes, in [1, Classes).
	Weak int
	// Separation is the distance of every class center from the origin,
	// along the class's own axis; it must exceed 2*Truncation*Spread.
	Separation float64
	// Spread is the standard deviation of the noise around each center,
	// before truncation at ±Truncation spreads; at least 0.
	Spread float64
	// Train, Select and Test are the sizes of the three sample sets, each
	// at least Classes.
	Train, Select, Test int
	// Outliers are the layers to make fragile.
	Outliers []Outlier
}

// DefaultFragileConfig returns 8 classes in 9 features with 2 weak
// classes, centers 8 from the origin, spread 1, and 800 training, 400
// selection and 400 test samples, without outliers.
func DefaultFragileConfig() FragileConfig {
	return FragileConfig{Seed: 7, Features: 9, Classes: 8, Weak: 2, Separation: 8, Spread: 1,
		Train: 800, Select: 400, Test: 400}
}

// FragileTask is a built MLP with deliberately fragile layers and its
// data.
type FragileTask struct {
	// Model is Sequential linear1, relu1, linear2, relu2, linear3, giving
	// logits; its hidden layers are Classes+1 wide.
	Model *nn.Graph
	// Train calibrates; Select is the data layers are chosen on (a
	// sensitivity analysis); Test is the data a choice is judged on. They
	// are drawn one after the other from one noise stream, so no sample is
	// in two sets. Sample i of each set is of class i mod Classes. The last
	// feature of every sample is 0.
	Train, Select, Test *datasets.Dataset
	// DeadInputs gives, for every Linear node, the index of an input that
	// is 0 for every sample whose last feature is 0: the last feature for
	// linear1, the always-zero last hidden unit for linear2 and linear3.
	DeadInputs map[string]int
	// Axes gives the feature each class's center lies on, Signs the side
	// (+1 or -1), and WeakClasses the weak classes, in increasing order.
	Axes, Signs, WeakClasses []int
	// Margin is the least amount by which, in FP32, the logit of a
	// sample's own class exceeds every other logit, for any sample the
	// config can draw: (Separation - 2*Truncation*Spread)/2.
	Margin float64
}

// withDefaults fills the zero fields of c from DefaultFragileConfig.
func (c FragileConfig) withDefaults() FragileConfig {
	d := DefaultFragileConfig()
	for _, f := range []struct{ p, d *int }{{&c.Features, &d.Features}, {&c.Classes, &d.Classes},
		{&c.Weak, &d.Weak}, {&c.Train, &d.Train}, {&c.Select, &d.Select}, {&c.Test, &d.Test}} {
		if *f.p == 0 {
			*f.p = *f.d
		}
	}
	if c.Separation == 0 {
		c.Separation = d.Separation
	}
	if c.Spread == 0 {
		c.Spread = d.Spread
	}
	return c
}

func (c FragileConfig) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("testmodels: FragileMLP: %s = %v, want %s", field, v, want)
	}
	switch {
	case c.Classes < 2:
		return bad("Classes", c.Classes, ">= 2")
	case c.Features < c.Classes+1:
		return bad("Features", c.Features, fmt.Sprintf(">= Classes+1 = %d", c.Classes+1))
	case c.Weak < 1 || c.Weak >= c.Classes:
		return bad("Weak", c.Weak, fmt.Sprintf("in [1, %d)", c.Classes))
	case math.IsNaN(c.Spread) || math.IsInf(c.Spread, 0) || c.Spread < 0:
		return bad("Spread", c.Spread, "a finite value >= 0")
	case !(c.Separation > 2*Truncation*c.Spread) || math.IsInf(c.Separation, 0):
		return bad("Separation", c.Separation, fmt.Sprintf("finite and > 2*%g*Spread = %g", Truncation, 2*Truncation*c.Spread))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"Train", c.Train}, {"Select", c.Select}, {"Test", c.Test}} {
		if n.v < c.Classes {
			return bad(n.name, n.v, fmt.Sprintf(">= Classes = %d", c.Classes))
		}
	}
	return nil
}

// FragileMLP builds, without training, an MLP that classifies Gaussian
// blobs exactly, and applies cfg.Outliers with AddWeightOutliers on each
// layer's always-zero input (DeadInputs). The same config gives the same
// bits.
//
// The data: class k's center is Separation times Signs[k] on feature
// Axes[k] (one feature per class, drawn without repetition from all but
// the last) and 0 elsewhere; a sample is its center plus noise of the given
// Spread, truncated at ±Truncation spreads, in every feature but the last,
// which is 0.
//
// The model: with s_k = Signs[k]*x[Axes[k]], the evidence for class k,
//
//	linear1 (Features -> Classes+1): unit k = s_k, weight ±1, bias 0
//	linear2 (Classes+1 -> Classes+1): unit k = w_k * relu1_k, bias 0,
//	        w_k = WeakWeight (1/3) for a weak class, else 1
//	linear3 (Classes+1 -> Classes): logit k = relu2_k / w_k - b_k,
//	        b_k = Margin for a weak class, else 0
//
// and the last unit of both hidden layers is always 0. So the logit of
// class k is relu(s_k) (minus Margin when weak). A sample's own evidence
// is at least Separation - Truncation*Spread, any other at most
// Truncation*Spread, so the own logit leads every other by at least
// Margin = (Separation - 2*Truncation*Spread)/2: the FP32 model classifies
// every sample it can be given correctly, and an int8 model whose logits
// err by less than Margin/2 classifies it alike. See Outlier for what an
// outlier does.
func FragileMLP(cfg FragileConfig) (*FragileTask, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := newRand(cfg.Seed)
	c, f := cfg.Classes, cfg.Features
	axes := rng.Perm(f - 1)[:c]
	signs := make([]int, c)
	for k := range signs {
		signs[k] = 1 - 2*rng.IntN(2)
	}
	weak := slices.Sorted(slices.Values(rng.Perm(c)[:cfg.Weak]))
	margin := (cfg.Separation - 2*Truncation*cfg.Spread) / 2

	name := func(set string) string {
		return fmt.Sprintf("fragile blobs %s (%d classes, %d features, separation %g, spread %g, seed %d)",
			set, c, f, cfg.Separation, cfg.Spread, cfg.Seed)
	}
	sets := make([]*datasets.Dataset, 3)
	for i, n := range []int{cfg.Train, cfg.Select, cfg.Test} {
		sets[i] = blobs(rng, n, f, axes, signs, cfg.Separation, cfg.Spread)
		sets[i].Name = name([]string{"training", "selection", "test"}[i])
	}

	h := c + 1
	l1, l2, l3 := nn.NewLinear(f, h, nil), nn.NewLinear(h, h, nil), nn.NewLinear(h, c, nil)
	w1, w2, w3, b3 := l1.Weight.Value.Data(), l2.Weight.Value.Data(), l3.Weight.Value.Data(), l3.Bias.Value.Data()
	for k := range c {
		w1[k*f+axes[k]] = float32(signs[k])
		w2[k*h+k], w3[k*h+k] = 1, 1
		if slices.Contains(weak, k) {
			w2[k*h+k], w3[k*h+k], b3[k] = WeakWeight, 1/WeakWeight, -float32(margin)
		}
	}
	g, err := nn.Sequential([]int{f}, l1, nn.NewReLU(), l2, nn.NewReLU(), l3)
	if err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: %w", err)
	}
	dead := map[string]int{"linear1": f - 1, "linear2": c, "linear3": c}
	for _, o := range cfg.Outliers {
		in, ok := dead[o.Layer]
		if !ok {
			return nil, fmt.Errorf("testmodels: FragileMLP: outlier on %q: the MLP's Linear layers are linear1 to linear3: %w",
				o.Layer, ErrNotFragile)
		}
		if err := AddWeightOutliers(g, o.Layer, in, o.Magnitude); err != nil {
			return nil, err
		}
	}
	return &FragileTask{Model: g, Train: sets[0], Select: sets[1], Test: sets[2], DeadInputs: dead,
		Axes: axes, Signs: signs, WeakClasses: weak, Margin: margin}, nil
}

// blobs draws n samples, sample i of class i mod len(axes), from rng.
func blobs(rng *rand.Rand, n, features int, axes, signs []int, sep, spread float64) *datasets.Dataset {
	x := make([]float32, n*features)
	labels := make([]int, n)
	for i := range n {
		k := i % len(axes)
		labels[i] = k
		row := x[i*features : (i+1)*features]
		for j := range features - 1 {
			v := spread * truncNorm(rng)
			if j == axes[k] {
				v += sep * float64(signs[k])
			}
			row[j] = float32(v)
		}
	}
	return &datasets.Dataset{X: tensor.MustFromData(x, n, features), Labels: labels, Classes: len(axes)}
}

// truncNorm returns a standard normal draw within ±Truncation.
func truncNorm(rng *rand.Rand) float64 {
	for {
		if z := rng.NormFloat64(); math.Abs(z) <= Truncation {
			return z
		}
	}
}

// AddWeightOutliers sets column input of the weight of the Linear node
// layer to magnitude in every output row. When that input is 0 for every
// sample the model will see, the FP32 outputs do not change, but the
// layer's weight range, and so its int8 step, grows to magnitude: with
// per-channel int8 weights every channel's scale becomes magnitude/127.
// It returns an error wrapping ErrNotFragile when layer is not a Linear
// node of g or input is out of range, and one naming the value when
// magnitude is not finite or is 0.
func AddWeightOutliers(g *nn.Graph, layer string, input int, magnitude float32) error {
	if g == nil {
		return fmt.Errorf("testmodels: weight outliers on %q: nil model: %w", layer, ErrNotFragile)
	}
	n, ok := g.Node(layer)
	if !ok {
		return fmt.Errorf("testmodels: weight outliers: the model has no node %q: %w", layer, ErrNotFragile)
	}
	l, ok := n.Layer.(*nn.Linear)
	if !ok {
		return fmt.Errorf("testmodels: weight outliers on %q: a %s node, want Linear: %w", layer, n.Layer.Kind(), ErrNotFragile)
	}
	if input < 0 || input >= l.In {
		return fmt.Errorf("testmodels: weight outliers on %q: input %d out of range [0, %d): %w", layer, input, l.In, ErrNotFragile)
	}
	if m := float64(magnitude); math.IsNaN(m) || math.IsInf(m, 0) || m == 0 {
		return fmt.Errorf("testmodels: weight outliers on %q: magnitude %v, want finite and not 0", layer, magnitude)
	}
	w := l.Weight.Value.Data()
	for o := range l.Out {
		w[o*l.In+input] = magnitude
	}
	return nil
}

// newRand returns the generator FragileMLP draws its geometry and samples
// from.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x667261676c65)) // "fragle"
}
