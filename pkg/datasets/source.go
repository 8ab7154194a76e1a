package datasets

import (
	"fmt"
	"iter"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Batch is one batch of samples from a Source.
type Batch struct {
	Index  int            // the 0-based batch number within one pass
	X      *tensor.Tensor // the samples, shape [B, ...]
	Labels []int          // one label per sample, or nil when unlabelled
}

// Source yields batches of samples, for calibration and evaluation.
type Source interface {
	// Batches iterates over the batches of one pass. Each call restarts
	// from the first batch. An error ends the pass: it is yielded with a
	// zero Batch and no batch follows it.
	Batches() iter.Seq2[Batch, error]
	// Len returns the number of samples in one pass, or -1 if unknown.
	Len() int
}

// Source returns a Source that yields d in order, batchSize samples at a
// time; the last batch may be short. Batches are views sharing storage
// with d. An invalid data set or a batch size below 1 is yielded as an
// error on the first iteration.
func (d *Dataset) Source(batchSize int) Source {
	return &datasetSource{d: d, size: batchSize}
}

type datasetSource struct {
	d    *Dataset
	size int
}

func (s *datasetSource) Len() int { return s.d.Len() }

func (s *datasetSource) Batches() iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		if err := s.d.Validate(); err != nil {
			yield(Batch{}, err)
			return
		}
		if s.size < 1 {
			yield(Batch{}, &ConfigError{Func: fmt.Sprintf("Dataset %q: Source", s.d.Name), Field: "batchSize", Value: s.size, Want: ">= 1"})
			return
		}
		n := s.d.Len()
		for i, start := 0, 0; start < n; i, start = i+1, start+s.size {
			end := min(start+s.size, n)
			x, err := s.d.X.Slice(start, end)
			if err != nil {
				yield(Batch{}, fmt.Errorf("datasets: %q batch %d: %w", s.d.Name, i, err))
				return
			}
			b := Batch{Index: i, X: x}
			if s.d.Labels != nil {
				b.Labels = s.d.Labels[start:end:end]
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// TensorSource returns a Source that yields the given tensors, in order, as
// unlabelled batches. Every tensor must have at least one dimension and the
// same trailing dimensions as the first; a batch that breaks this is
// yielded as an error naming it and both shapes. Len is the sum of the
// batches' first dimensions.
func TensorSource(batches ...*tensor.Tensor) Source {
	return &tensorSource{batches: slices.Clone(batches)}
}

type tensorSource struct {
	batches []*tensor.Tensor
}

func (s *tensorSource) Len() int {
	n := 0
	for _, b := range s.batches {
		if b != nil && b.Dims() > 0 {
			n += b.Dim(0)
		}
	}
	return n
}

func (s *tensorSource) Batches() iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		for i, x := range s.batches {
			switch {
			case x == nil:
				yield(Batch{}, &ConfigError{Func: "TensorSource", Field: fmt.Sprintf("batch %d", i), Value: "nil", Want: "a tensor of shape [B, ...]"})
				return
			case x.Dims() == 0:
				yield(Batch{}, &ConfigError{Func: "TensorSource", Field: fmt.Sprintf("batch %d", i), Value: "a scalar", Want: "a tensor of shape [B, ...]"})
				return
			case i > 0 && (x.Dims() != s.batches[0].Dims() || !slices.Equal(x.Shape()[1:], s.batches[0].Shape()[1:])):
				yield(Batch{}, &ConfigError{Func: "TensorSource", Field: fmt.Sprintf("batch %d shape", i), Value: x.Shape(),
					Want: fmt.Sprintf("[B %s] like batch 0 of shape %v", trailing(s.batches[0].Shape()), s.batches[0].Shape())})
				return
			}
			if !yield(Batch{Index: i, X: x}, nil) {
				return
			}
		}
	}
}

// trailing renders all but the first dimension of a shape.
func trailing(shape []int) string {
	s := fmt.Sprint(shape[1:])
	return s[1 : len(s)-1]
}
