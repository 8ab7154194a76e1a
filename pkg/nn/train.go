package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TrainConfig configures Fit.
type TrainConfig struct {
	// Epochs is the number of passes over the data (> 0).
	Epochs int
	// BatchSize is the number of samples per update (> 0); the last batch
	// of an epoch may be smaller.
	BatchSize int
	// Seed drives the per-epoch shuffling (math/rand/v2 PCG). The same
	// seed, data and initial weights give bit-identical trained weights.
	Seed uint64
	// Optimizer updates the parameters after each batch (required).
	Optimizer Optimizer
	// Log, if non-nil, is called after each epoch.
	Log func(EpochStats)
	// Batch, if non-nil, is called after each batch's update with the
	// batches done so far and the total over all epochs: for progress
	// bars, and to stop training. A non-nil error (such as a cancelled
	// context's) stops Fit before the next batch; Fit returns it wrapped
	// with the epoch and batch, with the stats of the epochs completed.
	Batch func(done, total int) error
	// LRDecay, if in (0, 1), multiplies the learning rate after each
	// epoch: epoch e uses the initial rate times LRDecay^(e-1). It needs an
	// Optimizer implementing LearningRater, whose rate Fit restores when it
	// returns. 0 keeps the rate constant.
	LRDecay float64
}

// EpochStats summarizes one training epoch.
type EpochStats struct {
	// Epoch is 1-based.
	Epoch int
	// Loss is the mean cross-entropy over the epoch's samples, measured in
	// Train mode on each batch before its update.
	Loss float64
	// Accuracy is the fraction in [0, 1] of the epoch's samples classified
	// correctly, measured like Loss.
	Accuracy float64
	// Seconds is the epoch's wall-clock time.
	Seconds float64
	// ImagesPerSecond is the number of samples divided by Seconds.
	ImagesPerSecond float64
}

// String renders the stats on one line.
func (s EpochStats) String() string {
	return fmt.Sprintf("epoch %d: loss %.4f, accuracy %.2f%%, %.1fs, %.0f images/s",
		s.Epoch, s.Loss, 100*s.Accuracy, s.Seconds, s.ImagesPerSecond)
}

// checkData validates a data set against the graph: x must be [N,
// InputShape()...] with N > 0, with one label per sample if needLabels, and
// the graph must output per-sample logits [classes].
func checkData(op string, g *Graph, x *tensor.Tensor, labels []int, needLabels bool) error {
	if g.usable() != nil {
		return fmt.Errorf("nn: %s: %w", op, ErrNilModel)
	}
	if x == nil {
		return fmt.Errorf("nn: %s: nil data tensor", op)
	}
	shape := x.Shape()
	if len(shape) != len(g.inputShape)+1 || !slices.Equal(shape[1:], g.inputShape) {
		return fmt.Errorf("nn: %s: data of shape %v, model input %q wants %v per sample: %w",
			op, shape, g.inputName, g.inputShape, ErrInputShape)
	}
	if shape[0] == 0 {
		return fmt.Errorf("nn: %s: empty data set", op)
	}
	if needLabels && len(labels) != shape[0] {
		return fmt.Errorf("nn: %s: %d labels for %d samples: %w", op, len(labels), shape[0], ErrLabel)
	}
	if len(g.OutputShape()) != 1 {
		return fmt.Errorf("nn: %s: model output %q has per-sample shape %v, want [classes]", op, g.Output(), g.OutputShape())
	}
	return nil
}

// Fit trains g on (x, labels) by mini-batch gradient descent on the softmax
// cross-entropy of g's output, which must be per-sample logits [classes].
// x has shape [N, InputShape()...]. Each epoch visits the samples in an
// order drawn from a PCG generator seeded with cfg.Seed. It returns the
// stats of every epoch, or those completed before an error.
//
// (The training loop is called Fit because Train names the Mode.)
func Fit(g *Graph, x *tensor.Tensor, labels []int, cfg TrainConfig) ([]EpochStats, error) {
	if err := checkData("train", g, x, labels, true); err != nil {
		return nil, err
	}
	switch {
	case cfg.Epochs <= 0:
		return nil, fmt.Errorf("nn: train: Epochs is %d, want > 0", cfg.Epochs)
	case cfg.BatchSize <= 0:
		return nil, fmt.Errorf("nn: train: BatchSize is %d, want > 0", cfg.BatchSize)
	case cfg.Optimizer == nil:
		return nil, errors.New("nn: train: no Optimizer")
	case cfg.LRDecay < 0 || cfg.LRDecay >= 1 || math.IsNaN(cfg.LRDecay):
		return nil, fmt.Errorf("nn: train: LRDecay is %g, want 0 (none) or in (0, 1)", cfg.LRDecay)
	}
	var sched LearningRater
	var baseLR float32
	if cfg.LRDecay > 0 {
		var ok bool
		if sched, ok = cfg.Optimizer.(LearningRater); !ok {
			return nil, fmt.Errorf("nn: train: LRDecay needs an optimizer with a learning rate; %T has none", cfg.Optimizer)
		}
		baseLR = sched.LearningRate()
		defer sched.SetLearningRate(baseLR)
	}
	classes := g.OutputShape()[0]
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("nn: train: sample %d: label %d out of range [0, %d): %w", i, y, classes, ErrLabel)
		}
	}
	n := x.Dim(0)
	row := x.RowLen()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7074717370656321)) // "ptqspec!"
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	maxBatch := min(cfg.BatchSize, n)
	bx := make([]float32, maxBatch*row)
	by := make([]int, maxBatch)
	pred := make([]int, maxBatch)
	var stats []EpochStats
	perEpoch := (n + cfg.BatchSize - 1) / cfg.BatchSize
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if sched != nil {
			sched.SetLearningRate(float32(float64(baseLR) * math.Pow(cfg.LRDecay, float64(epoch-1))))
		}
		start := time.Now()
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		lossSum, correct := 0.0, 0
		for b, lo := 0, 0; lo < n; b, lo = b+1, lo+cfg.BatchSize {
			hi := min(lo+cfg.BatchSize, n)
			m := hi - lo
			for k, idx := range perm[lo:hi] {
				copy(bx[k*row:(k+1)*row], x.Data()[idx*row:(idx+1)*row])
				by[k] = labels[idx]
			}
			batch, err := tensor.FromData(bx[:m*row], append([]int{m}, g.inputShape...)...)
			if err != nil {
				return stats, wrap(err, "nn: train: epoch %d batch %d", epoch, b)
			}
			g.ZeroGrad()
			logits, err := g.Forward(batch, Train)
			if err != nil {
				return stats, wrap(err, "nn: train: epoch %d batch %d", epoch, b)
			}
			loss, grad, err := SoftmaxCrossEntropy(logits, by[:m])
			if err != nil {
				return stats, wrap(err, "nn: train: epoch %d batch %d", epoch, b)
			}
			argmax(logits, pred[:m])
			for k := range m {
				if pred[k] == by[k] {
					correct++
				}
			}
			if err := g.Backward(grad); err != nil {
				return stats, wrap(err, "nn: train: epoch %d batch %d", epoch, b)
			}
			// Params are listed after Backward, which may allocate a
			// missing Grad.
			cfg.Optimizer.Step(g.Params())
			lossSum += loss * float64(m)
			if cfg.Batch != nil {
				if err := cfg.Batch((epoch-1)*perEpoch+b+1, cfg.Epochs*perEpoch); err != nil {
					return stats, wrap(err, "nn: train: stopped after epoch %d batch %d", epoch, b)
				}
			}
		}
		secs := time.Since(start).Seconds()
		s := EpochStats{Epoch: epoch, Loss: lossSum / float64(n), Accuracy: float64(correct) / float64(n), Seconds: secs}
		if secs > 0 {
			s.ImagesPerSecond = float64(n) / secs
		}
		stats = append(stats, s)
		if cfg.Log != nil {
			cfg.Log(s)
		}
	}
	return stats, nil
}

// Evaluate runs g in Eval mode on (x, labels) and returns the fraction of
// samples classified correctly and the mean cross-entropy. Batches run in
// parallel on GOMAXPROCS goroutines; per-batch results are combined in
// batch order, so the result does not depend on scheduling.
func Evaluate(g *Graph, x *tensor.Tensor, labels []int, batchSize int) (accuracy, loss float64, err error) {
	if err := checkData("evaluate", g, x, labels, true); err != nil {
		return 0, 0, err
	}
	classes := g.OutputShape()[0]
	for i, y := range labels {
		if y < 0 || y >= classes {
			return 0, 0, fmt.Errorf("nn: evaluate: sample %d: label %d out of range [0, %d): %w", i, y, classes, ErrLabel)
		}
	}
	type result struct {
		loss    float64
		correct int
	}
	n := x.Dim(0)
	results := make([]result, numBatches(n, batchSize))
	err = parallelBatches(g, "evaluate", x, batchSize, func(b, lo int, logits *tensor.Tensor) error {
		ys := labels[lo : lo+logits.Dim(0)]
		sum, err := crossEntropy(logits, ys, nil)
		if err != nil {
			return err
		}
		pred := make([]int, len(ys))
		argmax(logits, pred)
		correct := 0
		for k, p := range pred {
			if p == ys[k] {
				correct++
			}
		}
		results[b] = result{sum, correct}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	total, correct := 0.0, 0
	for _, r := range results {
		total += r.loss
		correct += r.correct
	}
	return float64(correct) / float64(n), total / float64(n), nil
}

// Predict runs g in Eval mode on x and returns the class with the largest
// output for every sample. Batches run in parallel like Evaluate.
func Predict(g *Graph, x *tensor.Tensor, batchSize int) ([]int, error) {
	if err := checkData("predict", g, x, nil, false); err != nil {
		return nil, err
	}
	pred := make([]int, x.Dim(0))
	err := parallelBatches(g, "predict", x, batchSize, func(_, lo int, logits *tensor.Tensor) error {
		argmax(logits, pred[lo:lo+logits.Dim(0)])
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

func numBatches(n, batchSize int) int {
	if batchSize <= 0 {
		return 0
	}
	return (n + batchSize - 1) / batchSize
}

// parallelBatches runs g in Eval mode on consecutive batches of x on up to
// GOMAXPROCS goroutines, calling fn(batchIndex, firstSample, logits) for
// each. It returns the error of the lowest-numbered failing batch.
func parallelBatches(g *Graph, op string, x *tensor.Tensor, batchSize int, fn func(b, lo int, logits *tensor.Tensor) error) error {
	if batchSize <= 0 {
		return fmt.Errorf("nn: %s: batch size %d, want > 0", op, batchSize)
	}
	n := x.Dim(0)
	nb := numBatches(n, batchSize)
	return workpool.ForErr(nb, workpool.Workers(nb, 0), func(_, b int) error {
		lo := b * batchSize
		hi := min(lo+batchSize, n)
		batch, err := x.Slice(lo, hi)
		if err == nil {
			var logits *tensor.Tensor
			logits, err = g.Forward(batch, Eval)
			if err == nil {
				err = fn(b, lo, logits)
			}
		}
		if err != nil {
			return wrap(err, "nn: %s: batch %d (samples %d to %d)", op, b, lo, hi-1)
		}
		return nil
	})
}
