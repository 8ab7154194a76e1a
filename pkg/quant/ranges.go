package quant

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// ranges tracks one [min, max] range per channel (a single range when axis
// is -1), either as running extremes (averaging == 0) or as PyTorch's
// moving average: the first batch sets the range, each later batch moves
// it by averaging·(batch extreme - range). The three min/max observers are
// thin wrappers around it.
type ranges struct {
	name      string
	spec      Spec
	axis      int     // -1 for one range per tensor
	averaging float32 // 0: running min/max
	t         tally
	lo, hi    []float32 // nil until the first element
}

func newRanges(name string, spec Spec, averaging float32) ranges {
	axis := -1
	if spec.Granularity == PerChannel {
		axis = spec.Axis
	}
	return ranges{name: name, spec: spec, axis: axis, averaging: averaging}
}

// batchRanges returns the per-channel extremes of x along axis (one pair
// for axis -1), or nil slices for an empty x.
func batchRanges(x *tensor.Tensor, axis int) (lo, hi []float32) {
	data := x.Data()
	if len(data) == 0 {
		return nil, nil
	}
	if axis < 0 {
		l, h := extremes(data)
		return []float32{l}, []float32{h}
	}
	shape := x.Shape()
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	channels := shape[axis]
	lo = make([]float32, channels)
	hi = make([]float32, channels)
	for c := range channels {
		lo[c], hi[c] = extremes(data[c*inner : (c+1)*inner])
	}
	for o := 1; o < outer; o++ {
		for c := range channels {
			start := (o*channels + c) * inner
			l, h := extremes(data[start : start+inner])
			lo[c] = min(lo[c], l)
			hi[c] = max(hi[c], h)
		}
	}
	return lo, hi
}

func (r *ranges) observe(x *tensor.Tensor) error {
	batch := r.t.batches
	if err := checkBatch(r.name, batch, x); err != nil {
		return err
	}
	if r.axis >= 0 {
		if r.axis >= x.Dims() {
			return fmt.Errorf("quant: %s observer: batch %d: channel axis %d out of range for shape %v: %w",
				r.name, batch, r.axis, x.Shape(), ErrShape)
		}
		if r.lo != nil && x.Len() > 0 && x.Dim(r.axis) != len(r.lo) {
			return fmt.Errorf("quant: %s observer: batch %d: shape %v has %d channels on axis %d, earlier batches had %d: %w",
				r.name, batch, x.Shape(), x.Dim(r.axis), r.axis, len(r.lo), ErrShape)
		}
	}
	lo, hi := batchRanges(x, r.axis)
	r.t.add(x)
	switch {
	case lo == nil:
	case r.lo == nil:
		r.lo, r.hi = lo, hi
	case r.averaging == 0:
		for c := range lo {
			r.lo[c] = min(r.lo[c], lo[c])
			r.hi[c] = max(r.hi[c], hi[c])
		}
	default:
		a := r.averaging
		for c := range lo {
			r.lo[c] += a * (lo[c] - r.lo[c])
			r.hi[c] += a * (hi[c] - r.hi[c])
		}
	}
	return nil
}

func (r *ranges) qparams() (QParams, error) {
	if r.lo == nil {
		return QParams{}, fmt.Errorf("quant: %s observer: %w", r.name, ErrNoData)
	}
	var (
		p   QParams
		err error
	)
	if r.axis < 0 {
		p, err = chooseSpecParams(r.lo[0], r.hi[0], r.spec)
	} else {
		p, err = ChooseQParamsPerChannel(r.lo, r.hi, r.spec)
	}
	if err != nil {
		return QParams{}, fmt.Errorf("quant: %s observer: %w", r.name, err)
	}
	return p, nil
}

func (r *ranges) stats() Stats {
	s := r.t.stats()
	if r.lo == nil {
		return s
	}
	s.Min, s.Max = extremes(r.lo)
	_, s.Max = extremes(r.hi)
	if r.axis >= 0 {
		s.ChannelMin = slices.Clone(r.lo)
		s.ChannelMax = slices.Clone(r.hi)
	}
	return s
}

func (r *ranges) reset() {
	r.t = tally{}
	r.lo, r.hi = nil, nil
}
