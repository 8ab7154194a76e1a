package quant

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// histState is what the histogram-based observers (PercentileObserver, EntropyObserver,
// MSEObserver) share: the running range, a Histogram of every observed value and
// the last qparams computed, kept until the next batch.
type histState struct {
	name   string
	spec   Spec
	bins   int
	t      tally
	lo, hi float32 // running extremes; valid when h.Limit > 0
	h      *Histogram
	cached *QParams
}

func newHistState(name string, spec Spec, bins int) (histState, error) {
	if err := checkGranularity(name, spec, PerTensor); err != nil {
		return histState{}, err
	}
	if bins < 8 || bins%2 != 0 {
		return histState{}, fmt.Errorf("quant: %s observer: %d bins: need an even number >= 8", name, bins)
	}
	return histState{name: name, spec: spec, bins: bins, h: newHistogram(bins)}, nil
}

func (s *histState) seen() bool { return s.h.Limit > 0 }

func (s *histState) observe(x *tensor.Tensor) error {
	if err := checkBatch(s.name, s.t.batches, x); err != nil {
		return err
	}
	s.t.add(x)
	data := x.Data()
	if len(data) == 0 {
		return nil
	}
	lo, hi := extremes(data)
	if s.seen() {
		lo, hi = min(lo, s.lo), max(hi, s.hi)
	}
	s.lo, s.hi = lo, hi
	s.h.add(data, max(-lo, hi))
	s.cached = nil
	return nil
}

// qparams returns the cached parameters or computes them from the clipping
// range choose returns, clamped to the observed range.
func (s *histState) qparams(choose func() (lo, hi float64)) (QParams, error) {
	if !s.seen() {
		return QParams{}, fmt.Errorf("quant: %s observer: %w", s.name, ErrNoData)
	}
	if s.cached != nil {
		return s.cached.Clone(), nil
	}
	lo, hi := choose()
	clamp := func(v float64) float32 { return min(max(float32(v), s.lo), s.hi) }
	p, err := chooseSpecParams(clamp(lo), clamp(hi), s.spec)
	if err != nil {
		return QParams{}, fmt.Errorf("quant: %s observer: %w", s.name, err)
	}
	s.cached = &p
	return p.Clone(), nil
}

func (s *histState) stats() Stats {
	st := s.t.stats()
	if s.seen() {
		st.Min, st.Max = s.lo, s.hi
	}
	st.Histogram = s.h.Clone()
	return st
}

func (s *histState) reset() {
	s.t = tally{}
	s.lo, s.hi = 0, 0
	s.h = newHistogram(s.bins)
	s.cached = nil
}

// fresh returns an empty state with the same configuration.
func (s *histState) fresh() histState {
	return histState{name: s.name, spec: s.spec, bins: s.bins, h: newHistogram(s.bins)}
}
