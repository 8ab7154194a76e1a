package quant

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// PercentileOptions configure a Percentileobserver. The zero value means
// the defaults.
type PercentileOptions struct {
	// Bins is the number of histogram bins over [-limit, limit], even and
	// at least 8; 0 means DefaultBins (2048).
	Bins int
	// Percentile is the percentage of values kept inside the range, in
	// (0, 100]; 0 means DefaultPercentile (99.99).
	Percentile float64
	// Symmetric takes the percentile of |x| and clips to [-t, t] even for
	// an affine spec. A symmetric spec always does.
	Symmetric bool
}

// PercentileObserver clips the range to a percentile of the observed values, as ONNX
// Runtime's percentile calibrator does, from a histogram of every observed
// value:
//
//   - symmetric (a symmetric spec or Options.Symmetric): t is the
//     Percentile-th percentile of |x| and the range is [-t, t];
//   - otherwise (100 - Percentile)/2 percent is cut from each tail.
//
// Quantiles interpolate linearly inside a histogram bin. The range is then
// clamped to the observed [min, max] and mapped to qparams with
// ChooseQParams.
type PercentileObserver struct {
	s    histState
	opts PercentileOptions
}

// NewPercentileObserver returns a PercentileObserver for a per-tensor spec.
func NewPercentileObserver(spec Spec, opts PercentileOptions) (*PercentileObserver, error) {
	if opts.Bins == 0 {
		opts.Bins = DefaultBins
	}
	if opts.Percentile == 0 {
		opts.Percentile = DefaultPercentile
	}
	if !(opts.Percentile > 0 && opts.Percentile <= 100) {
		return nil, fmt.Errorf("quant: percentile observer: percentile %v not in (0, 100]", opts.Percentile)
	}
	s, err := newHistState("percentile", spec, opts.Bins)
	if err != nil {
		return nil, err
	}
	return &PercentileObserver{s: s, opts: opts}, nil
}

// Observe adds the batch to the histogram, widening it when needed.
func (o *PercentileObserver) Observe(x *tensor.Tensor) error { return o.s.observe(x) }

// QParams returns the qparams of the percentile range.
func (o *PercentileObserver) QParams() (QParams, error) {
	return o.s.qparams(func() (lo, hi float64) {
		frac := o.opts.Percentile / 100
		if o.opts.Symmetric || o.s.spec.Scheme == Symmetric {
			t := o.s.h.AbsQuantile(frac)
			return -t, t
		}
		cut := (1 - frac) / 2
		return o.s.h.Quantile(cut), o.s.h.Quantile(1 - cut)
	})
}

// Stats returns the counts, the observed range and the histogram.
func (o *PercentileObserver) Stats() Stats { return o.s.stats() }

// Reset forgets all batches.
func (o *PercentileObserver) Reset() { o.s.reset() }

// Clone returns a fresh observer with the same spec and options.
func (o *PercentileObserver) Clone() Observer {
	return &PercentileObserver{s: o.s.fresh(), opts: o.opts}
}
