package quant

import (
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// MSEOptions configure an MSEObserver. The zero value means the defaults.
type MSEOptions struct {
	// Bins is the number of histogram bins over [-limit, limit], even and
	// at least 8; 0 means DefaultBins (2048).
	Bins int
}

// MSEObserver searches the clipping range whose quantization grid minimises the
// expected squared error over the observed histogram. The error of a grid
// with scale s and real ends [a, b] = [(qmin-zp)·s, (qmax-zp)·s] takes the
// values of each bin as uniform over the bin: values inside [a, b] cost the
// rounding error s²/12, values beyond cost their squared distance to the
// nearer end (integrated exactly over the bin).
//
// Candidates always include the MinMax range, so on the histogram model
// the MSE range is never worse than the MinMax range:
//
//   - symmetric spec: thresholds t = k·w for every |x| bin k (w the bin
//     width), capped at max|x|, range [-t, t];
//   - affine spec: starting from the observed [min, max], a greedy search
//     (like PyTorch's HistogramObserver) moves, one bin at a time, the end
//     whose move lowers the error more, never past 0, and keeps the best
//     range seen.
type MSEObserver struct {
	s histState
}

// NewMSEObserver returns an MSEObserver for a per-tensor spec.
func NewMSEObserver(spec Spec, opts MSEOptions) (*MSEObserver, error) {
	if opts.Bins == 0 {
		opts.Bins = DefaultBins
	}
	s, err := newHistState("mse", spec, opts.Bins)
	if err != nil {
		return nil, err
	}
	return &MSEObserver{s: s}, nil
}

// Observe adds the batch to the histogram, widening it when needed.
func (o *MSEObserver) Observe(x *tensor.Tensor) error { return o.s.observe(x) }

// QParams returns the qparams of the minimum-error range.
func (o *MSEObserver) QParams() (QParams, error) {
	return o.s.qparams(func() (lo, hi float64) {
		m := newMSEModel(o.s.h)
		dataLo, dataHi := float64(o.s.lo), float64(o.s.hi)
		cost := func(lo, hi float64) float64 {
			lo, hi = max(lo, dataLo), min(hi, dataHi)
			return m.cost(float32(lo), float32(hi), o.s.spec)
		}
		if o.s.spec.Scheme == Symmetric {
			return m.searchSymmetric(max(-dataLo, dataHi), cost)
		}
		return m.searchAffine(cost)
	})
}

// Stats returns the counts, the observed range and the histogram.
func (o *MSEObserver) Stats() Stats { return o.s.stats() }

// Reset forgets all batches.
func (o *MSEObserver) Reset() { o.s.reset() }

// Clone returns a fresh observer with the same spec and options.
func (o *MSEObserver) Clone() Observer { return &MSEObserver{s: o.s.fresh()} }

// mseModel evaluates the expected quantization error of a histogram in
// O(1) per grid through prefix sums of each bin's count n and its moments
// under the uniform model: n·E[x] and n·E[x²].
type mseModel struct {
	h          *Histogram
	w          float64
	p0, p1, p2 []float64 // prefix sums over bins [0, j)
}

func newMSEModel(h *Histogram) *mseModel {
	n := len(h.Counts)
	m := &mseModel{h: h, w: h.Width(),
		p0: make([]float64, n+1), p1: make([]float64, n+1), p2: make([]float64, n+1)}
	for j, c := range h.Counts {
		a, b := h.Edges(j)
		cnt := float64(c)
		m.p0[j+1] = m.p0[j] + cnt
		m.p1[j+1] = m.p1[j] + cnt*(a+b)/2
		m.p2[j+1] = m.p2[j] + cnt*(a*a+a*b+b*b)/3
	}
	return m
}

// sqDist returns Σ n·E[(x-c)²] over bins [i, j).
func (m *mseModel) sqDist(i, j int, c float64) float64 {
	if i >= j {
		return 0
	}
	s0 := m.p0[j] - m.p0[i]
	s1 := m.p1[j] - m.p1[i]
	s2 := m.p2[j] - m.p2[i]
	return max(s2-2*c*s1+c*c*s0, 0)
}

// bin returns the index of the bin holding x, clamped to [0, n].
func (m *mseModel) bin(x float64) int {
	j := int(math.Floor((x + m.h.Limit) / m.w))
	return min(max(j, 0), len(m.h.Counts))
}

// gridError returns the expected total squared error of quantizing the
// histogram onto the grid of scale s with real ends [a, b].
func (m *mseModel) gridError(a, b, s float64) float64 {
	n := len(m.h.Counts)
	var clipped, outside float64
	// Below a: whole bins [0, ja) and the part of bin ja under a.
	ja := m.bin(a)
	clipped += m.sqDist(0, ja, a)
	outside += m.p0[ja]
	if ja < n {
		e, _ := m.h.Edges(ja)
		if d := min(a-e, m.w); d > 0 {
			dens := float64(m.h.Counts[ja]) / m.w
			clipped += dens * d * d * d / 3
			outside += dens * d
		}
	}
	// Above b: the part of bin jb over b and whole bins (jb, n).
	jb := m.bin(b)
	if jb < n {
		_, e := m.h.Edges(jb)
		if d := min(e-b, m.w); d > 0 {
			dens := float64(m.h.Counts[jb]) / m.w
			clipped += dens * d * d * d / 3
			outside += dens * d
		}
		clipped += m.sqDist(jb+1, n, b)
		outside += m.p0[n] - m.p0[jb+1]
	}
	inside := max(m.p0[n]-outside, 0)
	return clipped + inside*s*s/12
}

// cost returns the expected error of the grid ChooseQParams picks for the
// range [lo, hi] under spec.
func (m *mseModel) cost(lo, hi float32, spec Spec) float64 {
	s, z, err := ChooseQParams(lo, hi, spec)
	if err != nil {
		return math.Inf(1)
	}
	qmin, qmax := spec.Bounds()
	sc := float64(s)
	return m.gridError(float64(qmin-z)*sc, float64(qmax-z)*sc, sc)
}

// searchSymmetric tries t = k·w for k = 1, 2, ... up to amax.
func (m *mseModel) searchSymmetric(amax float64, cost func(lo, hi float64) float64) (lo, hi float64) {
	best, bestT := cost(-amax, amax), amax
	for k := 1; float64(k)*m.w < amax; k++ {
		t := float64(k) * m.w
		if c := cost(-t, t); c < best {
			best, bestT = c, t
		}
	}
	return -bestT, bestT
}

// searchAffine shrinks [first bin, last bin] greedily, bin by bin, keeping
// 0 inside.
func (m *mseModel) searchAffine(cost func(lo, hi float64) float64) (lo, hi float64) {
	n := len(m.h.Counts)
	zero := n / 2
	l, r := 0, n
	for l < n && m.h.Counts[l] == 0 {
		l++
	}
	for r > 0 && m.h.Counts[r-1] == 0 {
		r--
	}
	l, r = min(l, zero), max(r, zero)
	edge := func(j int) float64 { return -m.h.Limit + float64(j)*m.w }
	lo, hi = math.Inf(-1), math.Inf(1) // the observed range
	best := cost(lo, hi)
	for l < zero || r > zero {
		cl, cr := math.Inf(1), math.Inf(1)
		if l < zero {
			cl = cost(edge(l+1), edge(r))
		}
		if r > zero {
			cr = cost(edge(l), edge(r-1))
		}
		c := min(cl, cr)
		if cl <= cr {
			l++
		} else {
			r--
		}
		if c < best {
			best, lo, hi = c, edge(l), edge(r)
		}
	}
	return lo, hi
}
