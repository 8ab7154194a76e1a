package ptq

import (
	"fmt"
	"iter"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Batches is how ptq reads calibration data: one pass over batches, each a
// tensor of shape [B, ...] matching the model input, or an error that ends
// the pass. Ranging over it again must restart from the first batch when
// the same data is read twice (Quantize reads the first samples again to
// measure the result). Any iter.Seq2[*tensor.Tensor, error] is a Batches;
// BatchesOf splits one tensor into one.
type Batches = iter.Seq2[*tensor.Tensor, error]

// BatchesOf returns Batches that yield x in order, size samples at a time;
// the last batch may be short. Batches are views sharing storage with x. A
// nil or scalar x, or a size below 1, is yielded as an error wrapping
// ErrShape or ErrInvalidConfig on the first iteration.
func BatchesOf(x *tensor.Tensor, size int) Batches {
	return func(yield func(*tensor.Tensor, error) bool) {
		switch {
		case x == nil || x.Dims() == 0:
			yield(nil, fmt.Errorf("ptq: batches of a nil or scalar tensor: %w", ErrShape))
			return
		case size < 1:
			yield(nil, fmt.Errorf("ptq: batches of size %d, want >= 1: %w", size, ErrInvalidConfig))
			return
		}
		n := x.Dim(0)
		for start := 0; start < n; start += size {
			b, err := x.Slice(start, min(start+size, n))
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

// Data is evaluation data held in memory: what Accuracy,
// AnalyzeSensitivity and QuantizeWithBudget score a model on. Evaluation
// runs every model variant over the same samples, in parallel batches, so
// it reads them by index rather than as one pass of Batches.
type Data struct {
	// X holds the samples, shape [N, ...] matching the model input.
	X *tensor.Tensor
	// Labels holds one class per sample, or is nil for unlabelled data.
	// With labels, AnalyzeSensitivity and QuantizeWithBudget score
	// accuracy; without, the output SQNR against the FP32 model.
	Labels []int
	// Name says which samples these are ("MNIST training images
	// 59,000-59,999"), for reports; it may be empty. AnalyzeSensitivity
	// and QuantizeWithBudget record it as the data they chose on.
	Name string
}

// Len returns the number of samples, 0 when X is nil or a scalar.
func (d Data) Len() int {
	if d.X == nil || d.X.Dims() == 0 {
		return 0
	}
	return d.X.Dim(0)
}

// check returns an error wrapping ErrNoEvaluationData when d holds no
// sample, and one wrapping ErrShape when labels and samples disagree.
func (d Data) check(what string) error {
	if d.Len() == 0 {
		return fmt.Errorf("ptq: %s: no samples: %w", what, ErrNoEvaluationData)
	}
	if d.Labels != nil && len(d.Labels) != d.Len() {
		return fmt.Errorf("ptq: %s: %d labels for data of shape %v: %w", what, len(d.Labels), d.X.Shape(), ErrShape)
	}
	return nil
}
