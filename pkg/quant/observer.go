package quant

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Observer collects statistics of the tensors flowing through one point of
// a model (a weight, an activation) and turns them into quantization
// parameters. Observers are deterministic: the same batches in the same
// order give the same parameters, bit for bit. They are not safe for
// concurrent use.
type Observer interface {
	// Observe records one batch. A NaN or ±Inf element returns an error
	// wrapping ErrNonFinite and leaves the observer unchanged; so does a
	// batch whose shape does not fit a per-channel observer (ErrShape).
	// An empty tensor counts as a batch and changes nothing else.
	Observe(x *tensor.Tensor) error
	// QParams returns the parameters for everything observed so far, or an
	// error wrapping ErrNoData before any element was observed.
	QParams() (QParams, error)
	// Stats returns what the observer has recorded, for inspection.
	Stats() Stats
	// Reset forgets every batch, keeping the configuration.
	Reset()
	// Clone returns a fresh observer with the same configuration and no
	// data.
	Clone() Observer
}

// Stats is a snapshot of what an observer has recorded. Slices and the
// histogram are copies.
type Stats struct {
	// Batches is the number of Observe calls that succeeded.
	Batches int
	// Elements is the number of values observed.
	Elements int64
	// Samples is the number of entries along the first dimension of the
	// observed batches (1 per scalar batch).
	Samples int64
	// Min and Max are the range the observer's qparams come from: the
	// running extremes, or their moving average. For per-channel observers
	// they are the extremes over all channels. Both are 0 before any data.
	Min, Max float32
	// ChannelMin and ChannelMax hold the per-channel range of per-channel
	// observers, nil otherwise.
	ChannelMin, ChannelMax []float32
	// Histogram is a copy of the histogram of histogram-based observers
	// (percentile, entropy, MSE), nil otherwise.
	Histogram *Histogram
}

// Defaults of the observers' options; NewObserver uses them.
const (
	// DefaultAveragingConstant is the weight of each new batch in
	// MovingAverageMinMaxObserver, PyTorch's averaging_constant.
	DefaultAveragingConstant float32 = 0.01
	// DefaultBins is the number of histogram bins over [-limit, limit].
	DefaultBins = 2048
	// DefaultPercentile is the percentage of values a Percentileobserver
	// keeps inside its range.
	DefaultPercentile = 99.99
)

// NewObserver returns an observer with default options for a method:
//
//	MethodMinMax         MinMaxObserver, or PerChannelMinMaxObserver when spec is per-channel
//	MethodMovingAverage  MovingAverageMinMaxObserver, averaging constant 0.01
//	MethodPercentile     PercentileObserver, 2048 bins, 99.99%
//	MethodEntropy        EntropyObserver (KL divergence), 4096 bins
//	MethodMSE            MSEObserver, 2048 bins
//
// The zero Method, or a value outside the set, returns an error wrapping
// ErrUnknownMethod that lists the known ones; an invalid spec, or a
// per-channel spec for a histogram method, returns an error wrapping
// ErrInvalidSpec.
func NewObserver(method Method, spec Spec) (Observer, error) {
	switch method {
	case MethodMinMax:
		if spec.Granularity == PerChannel {
			return NewPerChannelMinMaxObserver(spec)
		}
		return NewMinMaxObserver(spec)
	case MethodMovingAverage:
		return NewMovingAverageMinMaxObserver(spec, DefaultAveragingConstant)
	case MethodPercentile:
		return NewPercentileObserver(spec, PercentileOptions{})
	case MethodEntropy:
		return NewEntropyObserver(spec, EntropyOptions{})
	case MethodMSE:
		return NewMSEObserver(spec, MSEOptions{})
	}
	return nil, fmt.Errorf("quant: observer method %q (known: %s): %w", method, methodList(), ErrUnknownMethod)
}

// tally counts batches, elements and samples.
type tally struct {
	batches           int
	elements, samples int64
}

func (t *tally) add(x *tensor.Tensor) {
	t.batches++
	t.elements += int64(x.Len())
	if x.Dims() == 0 {
		t.samples++
	} else {
		t.samples += int64(x.Dim(0))
	}
}

func (t tally) stats() Stats {
	return Stats{Batches: t.batches, Elements: t.elements, Samples: t.samples}
}

// checkBatch rejects a nil tensor or one holding NaN or ±Inf, naming the
// observer and the batch (0-based).
func checkBatch(name string, batch int, x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("quant: %s observer: batch %d: nil tensor", name, batch)
	}
	data := x.Data()
	if i := firstNonFinite(data); i >= 0 {
		return nonFiniteError(fmt.Sprintf("quant: %s observer: batch %d (shape %v)", name, batch, x.Shape()), data, i)
	}
	return nil
}

// extremes returns the minimum and maximum of non-empty data.
func extremes(data []float32) (lo, hi float32) {
	lo, hi = data[0], data[0]
	for _, v := range data[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, hi
}

// checkGranularity rejects invalid specs and specs of another granularity
// than the observer supports.
func checkGranularity(name string, spec Spec, want Granularity) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if spec.Granularity != want {
		return fmt.Errorf("quant: %s observer supports %v specs only, got %v: %w", name, want, spec, ErrInvalidSpec)
	}
	return nil
}
