package nn

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// blobs returns n samples of dim features in 3 classes: class c is centred
// at 3*e_c, with unit Gaussian noise, so the classes are nearly separable.
func blobs(seed uint64, n, dim int) (*tensor.Tensor, []int) {
	rng := testRNG(seed)
	x := randTensor(rng, n, dim)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(3)
		x.Data()[i*dim+labels[i]] += 3
	}
	return x, labels
}

func mlp(seed uint64, dim int) *Graph {
	rng := testRNG(seed)
	g, err := Sequential([]int{dim}, newTDense(dim, 16, rng), &tTanh{}, newTCounter(), newTDense(16, 3, rng))
	if err != nil {
		panic(err)
	}
	return g
}

func TestFitLearnsSeparableTask(t *testing.T) {
	const minAccuracy = 0.95
	x, labels := blobs(30, 400, 4)
	testX, testLabels := blobs(31, 200, 4)
	g := mlp(32, 4)
	before, _, err := Evaluate(g, testX, testLabels, 64)
	if err != nil {
		t.Fatal(err)
	}
	var logged []int
	stats, err := Fit(g, x, labels, TrainConfig{Epochs: 8, BatchSize: 16, Seed: 1, Optimizer: NewAdam(0.01),
		Log: func(s EpochStats) { logged = append(logged, s.Epoch) }})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(logged, []int{1, 2, 3, 4, 5, 6, 7, 8}) || len(stats) != 8 {
		t.Errorf("logged epochs %v, %d stats; want 1..8", logged, len(stats))
	}
	if first, last := stats[0], stats[len(stats)-1]; last.Loss >= first.Loss || last.Accuracy < minAccuracy {
		t.Errorf("training went from %v to %v; want a falling loss and accuracy >= %g", first, last, minAccuracy)
	}
	for _, s := range stats {
		if s.Seconds <= 0 || s.ImagesPerSecond <= 0 || s.Accuracy < 0 || s.Accuracy > 1 {
			t.Errorf("implausible stats %+v", s)
		}
	}
	acc, loss, err := Evaluate(g, testX, testLabels, 64)
	if err != nil {
		t.Fatal(err)
	}
	if acc < minAccuracy || acc <= before {
		t.Errorf("held-out accuracy %.3f (before training %.3f), want >= %g", acc, before, minAccuracy)
	}
	if loss <= 0 || loss > 0.3 {
		t.Errorf("held-out loss %.4f, want in (0, 0.3]", loss)
	}
	// The counter buffer saw every training sample in Train mode, and none
	// during Evaluate.
	if seen := g.Buffers()[0].Value.Data()[0]; seen != 8*400 {
		t.Errorf("counter saw %g samples, want %d", seen, 8*400)
	}
}

func TestFitSameSeedSameBits(t *testing.T) {
	x, labels := blobs(40, 100, 4)
	train := func(seed uint64, opt Optimizer) []*Param {
		g := mlp(41, 4)
		if _, err := Fit(g, x, labels, TrainConfig{Epochs: 2, BatchSize: 8, Seed: seed, Optimizer: opt}); err != nil {
			t.Fatal(err)
		}
		return g.Params()
	}
	same := func(a, b []*Param) bool {
		for i := range a {
			for k, v := range a[i].Value.Data() {
				if math.Float32bits(v) != math.Float32bits(b[i].Value.Data()[k]) {
					return false
				}
			}
		}
		return true
	}
	cases := []struct {
		name string
		opt  func() Optimizer
	}{
		{"adam", func() Optimizer { return NewAdam(0.01) }},
		{"sgd momentum", func() Optimizer { return NewSGD(0.05, 0.9) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := train(7, c.opt()), train(7, c.opt())
			if !same(a, b) {
				t.Error("two runs with seed 7 gave different weights")
			}
			if same(a, train(8, c.opt())) {
				t.Error("seeds 7 and 8 gave identical weights; the seed does not drive shuffling")
			}
		})
	}
}

// lrRecorder is an optimizer that records the learning rate of each step.
type lrRecorder struct {
	lr   float32
	seen []float32
}

func (o *lrRecorder) Step([]*Param)              { o.seen = append(o.seen, o.lr) }
func (o *lrRecorder) LearningRate() float32      { return o.lr }
func (o *lrRecorder) SetLearningRate(lr float32) { o.lr = lr }

// plainOptimizer has no learning rate to schedule.
type plainOptimizer struct{}

func (plainOptimizer) Step([]*Param) {}

func TestFitLRDecay(t *testing.T) {
	const tol = 1e-7 // rates are float32
	x, labels := blobs(45, 8, 4)
	cases := []struct {
		name  string
		decay float64
		want  []float64 // learning rate of each step: 2 batches per epoch
	}{
		{"constant", 0, []float64{1, 1, 1, 1, 1, 1}},
		{"halving", 0.5, []float64{1, 1, 0.5, 0.5, 0.25, 0.25}},
		{"tenfold", 0.1, []float64{1, 1, 0.1, 0.1, 0.01, 0.01}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := &lrRecorder{lr: 1}
			if _, err := Fit(mlp(46, 4), x, labels, TrainConfig{Epochs: 3, BatchSize: 4, Optimizer: opt, LRDecay: c.decay}); err != nil {
				t.Fatal(err)
			}
			if len(opt.seen) != len(c.want) {
				t.Fatalf("%d steps, want %d", len(opt.seen), len(c.want))
			}
			for i, lr := range opt.seen {
				if math.Abs(float64(lr)-c.want[i]) > tol {
					t.Errorf("step %d used rate %g, want %g", i, lr, c.want[i])
				}
			}
			if opt.lr != 1 {
				t.Errorf("rate %g after Fit, want the initial 1 restored", opt.lr)
			}
		})
	}
}

func TestFitErrors(t *testing.T) {
	x, labels := blobs(50, 10, 4)
	ok := TrainConfig{Epochs: 1, BatchSize: 4, Optimizer: NewSGD(0.1, 0)}
	badLabels := slices.Clone(labels)
	badLabels[6] = 3
	noClasses, err := NewBuilder("x", 2, 2).Add("t", &tTanh{}).Build()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		g      *Graph
		x      *tensor.Tensor
		labels []int
		cfg    TrainConfig
		is     error
		want   string
	}{
		{"no optimizer", mlp(1, 4), x, labels, TrainConfig{Epochs: 1, BatchSize: 4}, nil, "nn: train: no Optimizer"},
		{"zero epochs", mlp(1, 4), x, labels, TrainConfig{BatchSize: 4, Optimizer: NewSGD(0.1, 0)}, nil, "Epochs is 0"},
		{"zero batch size", mlp(1, 4), x, labels, TrainConfig{Epochs: 1, Optimizer: NewSGD(0.1, 0)}, nil, "BatchSize is 0"},
		{"decay of 1", mlp(1, 4), x, labels, TrainConfig{Epochs: 1, BatchSize: 4, Optimizer: NewSGD(0.1, 0), LRDecay: 1}, nil,
			"LRDecay is 1, want 0 (none) or in (0, 1)"},
		{"decay without a rate", mlp(1, 4), x, labels, TrainConfig{Epochs: 1, BatchSize: 4, Optimizer: plainOptimizer{}, LRDecay: 0.5}, nil,
			"nn.plainOptimizer has none"},
		{"label out of range", mlp(1, 4), x, badLabels, ok, ErrLabel, "sample 6: label 3 out of range [0, 3)"},
		{"label count", mlp(1, 4), x, labels[:9], ok, ErrLabel, "9 labels for 10 samples"},
		{"data shape", mlp(1, 4), tensor.New(10, 5), labels, ok, ErrInputShape, "data of shape [10 5], model input \"input\" wants [4]"},
		{"nil data", mlp(1, 4), nil, labels, ok, nil, "nil data tensor"},
		{"empty data", mlp(1, 4), tensor.New(0, 4), nil, ok, nil, "empty data set"},
		{"model without class output", noClasses, tensor.New(10, 2, 2), labels, ok, nil, `model output "t" has per-sample shape [2 2], want [classes]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Fit(c.g, c.x, c.labels, c.cfg)
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

func TestEvaluateIndependentOfBatching(t *testing.T) {
	const tol = 1e-12 // relative, on the mean loss
	x, labels := blobs(60, 150, 4)
	g := mlp(61, 4)
	out, err := g.Forward(x, Eval)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, _, err := SoftmaxCrossEntropy(out, labels)
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]int, len(labels))
	argmax(out, pred)
	correct := 0
	for i, p := range pred {
		if p == labels[i] {
			correct++
		}
	}
	wantAcc := float64(correct) / float64(len(labels))
	for _, bs := range []int{1, 7, 64, 150, 1000} {
		acc, loss, err := Evaluate(g, x, labels, bs)
		if err != nil {
			t.Fatal(err)
		}
		if acc != wantAcc || math.Abs(loss-wantLoss) > tol*wantLoss {
			t.Errorf("batch %d: accuracy %v loss %.15f, want %v %.15f", bs, acc, loss, wantAcc, wantLoss)
		}
		acc2, loss2, err := Evaluate(g, x, labels, bs)
		if err != nil || acc2 != acc || loss2 != loss {
			t.Errorf("batch %d: a second run gave %v %v %v, want identical bits", bs, acc2, loss2, err)
		}
		got, err := Predict(g, x, bs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, pred) {
			t.Errorf("batch %d: Predict differs from the argmax of Forward", bs)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	x, labels := blobs(70, 20, 4)
	bad := slices.Clone(labels)
	bad[13] = 7
	g := mlp(71, 4)
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"batch size", func() error { _, _, err := Evaluate(g, x, labels, 0); return err }, "nn: evaluate: batch size 0"},
		{"label", func() error { _, _, err := Evaluate(g, x, bad, 8); return err }, "nn: evaluate: sample 13: label 7 out of range [0, 3)"},
		{"shape", func() error { _, _, err := Evaluate(g, tensor.New(20, 3), labels, 8); return err }, "data of shape [20 3]"},
		{"predict batch size", func() error { _, err := Predict(g, x, -1); return err }, "nn: predict: batch size -1"},
		{"predict shape", func() error { _, err := Predict(g, tensor.New(2, 2, 2), 8); return err }, "nn: predict: data of shape [2 2 2]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParallelBatchesReportsFirstFailingBatch(t *testing.T) {
	x, _ := blobs(80, 40, 4)
	g := mlp(81, 4)
	err := parallelBatches(g, "probe", x, 10, func(b, lo int, _ *tensor.Tensor) error {
		if b >= 2 {
			return errors.New("boom")
		}
		return nil
	})
	if err == nil || err.Error() != "nn: probe: batch 2 (samples 20 to 29): boom" {
		t.Errorf("error %v, want the one of batch 2", err)
	}
}
