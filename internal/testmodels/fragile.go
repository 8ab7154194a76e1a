package testmodels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// ErrNotFragile reports a layer that cannot be made fragile: it is not a
// Linear node of the model, or it has no input that is always 0.
var ErrNotFragile = errors.New("testmodels: layer cannot be made fragile")

// Outlier makes one Linear layer of FragileMLP fragile: every row of its
// weight gets Magnitude on the layer's always-zero input. The FP32 model
// is unchanged (the weights only ever multiply exact zeros), but the int8
// step of every output channel grows to Magnitude/127, so that weights of
// ordinary size quantize to a few codes or to 0.
type Outlier struct {
	// Layer is a Linear node of the MLP: "linear1", "linear2", ...
	Layer string
	// Magnitude is the outlier weight, finite and not 0. Against trained
	// weights of size about 1, 1000 wrecks the layer in int8; 10 to 50
	// damages it partly.
	Magnitude float32
}

// FragileConfig configures FragileMLP. Zero fields take the values of
// DefaultFragileConfig; Outliers may be empty.
type FragileConfig struct {
	// Seed drives the data, the initial weights and the training order.
	Seed uint64
	// Features is the number of input features, at least 2; the last one
	// is always 0.
	Features int
	// Hidden are the widths of the hidden layers, each at least 2; the
	// last unit of each is dead (it outputs 0 for every input).
	Hidden []int
	// Classes is the number of Gaussian blobs to tell apart, at least 2.
	Classes int
	// Samples is the number of samples; the last Eval are held out.
	Samples, Eval int
	// Spread is the standard deviation of each blob around its center
	// (centers lie in [-10, 10] per feature).
	Spread float64
	// Epochs is the number of training epochs (Adam, learning rate 0.01,
	// batches of 32).
	Epochs int
	// Outliers are the layers to make fragile, applied after training.
	Outliers []Outlier
}

// DefaultFragileConfig returns a task that trains in a few tens of
// milliseconds to 100% held-out accuracy: 1,200 samples (400 held out) of
// 4 blobs with spread 0.6 in 9 features, an MLP 9-32-32-4 trained for 15
// epochs, and no outliers.
func DefaultFragileConfig() FragileConfig {
	return FragileConfig{Seed: 7, Features: 9, Hidden: []int{32, 32}, Classes: 4,
		Samples: 1200, Eval: 400, Spread: 0.6, Epochs: 15}
}

// FragileTask is a trained MLP with deliberately fragile layers and its
// data.
type FragileTask struct {
	// Model is Flatten-free Sequential: linear1, relu1, linear2, relu2,
	// ..., linearN, giving logits.
	Model *nn.Graph
	// Train is the training set; Eval the held-out set. The last feature
	// of every sample is 0.
	Train, Eval *datasets.Dataset
	// DeadInputs gives, for every Linear node, the index of an input that
	// is 0 for every sample whose last feature is 0: the last feature for
	// linear1, the dead last unit of the previous layer for the others.
	DeadInputs map[string]int
}

// withDefaults fills the zero fields of c from DefaultFragileConfig.
func (c FragileConfig) withDefaults() FragileConfig {
	d := DefaultFragileConfig()
	if c.Features == 0 {
		c.Features = d.Features
	}
	if c.Hidden == nil {
		c.Hidden = d.Hidden
	}
	if c.Classes == 0 {
		c.Classes = d.Classes
	}
	if c.Samples == 0 {
		c.Samples = d.Samples
	}
	if c.Eval == 0 {
		c.Eval = d.Eval
	}
	if c.Spread == 0 {
		c.Spread = d.Spread
	}
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	return c
}

func (c FragileConfig) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("testmodels: FragileMLP: %s = %v, want %s", field, v, want)
	}
	switch {
	case c.Features < 2:
		return bad("Features", c.Features, ">= 2")
	case c.Classes < 2:
		return bad("Classes", c.Classes, ">= 2")
	case c.Eval < 1 || c.Samples < c.Eval+c.Classes:
		return bad("Samples, Eval", fmt.Sprintf("%d, %d", c.Samples, c.Eval), "Eval >= 1 and at least Classes training samples")
	case math.IsNaN(c.Spread) || math.IsInf(c.Spread, 0) || c.Spread < 0:
		return bad("Spread", c.Spread, "a finite value >= 0")
	case c.Epochs < 1:
		return bad("Epochs", c.Epochs, ">= 1")
	}
	for i, h := range c.Hidden {
		if h < 2 {
			return bad(fmt.Sprintf("Hidden[%d]", i), h, ">= 2")
		}
	}
	return nil
}

// FragileMLP builds labelled Gaussian blobs whose last feature is always 0
// and an MLP whose hidden layers each have one dead unit (zero weights and
// bias, so it outputs 0 for every input), trains the MLP, then applies
// cfg.Outliers with AddWeightOutliers on each layer's always-zero input
// (DeadInputs). The outliers leave the FP32 outputs bit-identical but
// make the chosen layers' int8 weights as coarse as the outliers are
// large: a sensitivity analysis should single them out. The same config
// gives the same bits.
func FragileMLP(cfg FragileConfig) (*FragileTask, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d, err := datasets.Blobs(datasets.BlobsConfig{Samples: cfg.Samples, Features: cfg.Features,
		Classes: cfg.Classes, Spread: cfg.Spread, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: %w", err)
	}
	x := d.X.Data()
	for i := range d.Len() {
		x[(i+1)*cfg.Features-1] = 0
	}
	d.Name = fmt.Sprintf("fragile blobs(%d samples, %d features, %d classes, spread %g, seed %d)",
		cfg.Samples, cfg.Features, cfg.Classes, cfg.Spread, cfg.Seed)
	split := cfg.Samples - cfg.Eval
	train, err := d.Subset(0, split)
	if err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: %w", err)
	}
	eval, err := d.Subset(split, cfg.Samples)
	if err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: %w", err)
	}

	rng := newRand(cfg.Seed)
	var layers []nn.Layer
	var linears []*nn.Linear
	in := cfg.Features
	for _, h := range append(slices.Clone(cfg.Hidden), cfg.Classes) {
		l := nn.NewLinear(in, h, rng)
		layers = append(layers, l, nn.NewReLU())
		linears = append(linears, l)
		in = h
	}
	layers = layers[:len(layers)-1] // no ReLU after the logits
	g, err := nn.Sequential([]int{cfg.Features}, layers...)
	if err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: %w", err)
	}
	dead := map[string]int{"linear1": cfg.Features - 1}
	for i, l := range linears[:len(linears)-1] {
		killUnit(l, l.Out-1)
		dead["linear"+strconv.Itoa(i+2)] = l.Out - 1
	}
	tc := nn.TrainConfig{Epochs: cfg.Epochs, BatchSize: 32, Seed: cfg.Seed, Optimizer: nn.NewAdam(0.01)}
	if _, err := nn.Fit(g, train.X, train.Labels, tc); err != nil {
		return nil, fmt.Errorf("testmodels: FragileMLP: training: %w", err)
	}
	// A unit whose pre-activation is exactly 0 gets no gradient through
	// the ReLU, so training leaves it dead; check rather than trust it.
	for i, l := range linears[:len(linears)-1] {
		if !unitIsZero(l, l.Out-1) {
			return nil, fmt.Errorf("testmodels: FragileMLP: training revived the dead unit %d of linear%d", l.Out-1, i+1)
		}
	}
	for _, o := range cfg.Outliers {
		in, ok := dead[o.Layer]
		if !ok {
			return nil, fmt.Errorf("testmodels: FragileMLP: outlier on %q: the MLP's Linear layers are linear1 to linear%d: %w",
				o.Layer, len(linears), ErrNotFragile)
		}
		if err := AddWeightOutliers(g, o.Layer, in, o.Magnitude); err != nil {
			return nil, err
		}
	}
	return &FragileTask{Model: g, Train: train, Eval: eval, DeadInputs: dead}, nil
}

// killUnit zeroes the weights and bias of one output unit.
func killUnit(l *nn.Linear, unit int) {
	w := l.Weight.Value.Data()
	clear(w[unit*l.In : (unit+1)*l.In])
	if l.Bias != nil {
		l.Bias.Value.Data()[unit] = 0
	}
}

// unitIsZero reports whether one output unit has all-zero weights and bias.
func unitIsZero(l *nn.Linear, unit int) bool {
	for _, v := range l.Weight.Value.Data()[unit*l.In : (unit+1)*l.In] {
		if v != 0 {
			return false
		}
	}
	return l.Bias == nil || l.Bias.Value.Data()[unit] == 0
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

// newRand returns the generator FragileMLP draws its initial weights from:
// the stream of package models' builders, so a seed gives the same weights
// it gave when FragileMLP lived there.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6d6f64656c73)) // "models"
}
