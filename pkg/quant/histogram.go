package quant

import (
	"math"
	"slices"
)

// Histogram counts observed values in len(Counts) equal bins over
// [-Limit, Limit]: bin i covers [-Limit + i·w, -Limit + (i+1)·w) with
// w = 2·Limit/len(Counts), the last bin also holding Limit itself. The bin
// count is even, so 0 is always a bin edge and bins i and len(Counts)-1-i
// mirror each other.
//
// When a batch holds a value beyond ±Limit, Limit doubles (as many times as
// needed) and every pair of neighbouring bins merges into one: because 0 is
// an edge, each old bin falls entirely inside one new bin, so re-binning is
// exact and no count is ever clipped or approximated. Histogram observers
// read their statistics from it; Stats hands out copies.
type Histogram struct {
	// Counts holds the number of values in each bin.
	Counts []uint64
	// Limit is the half-width of the covered range; 0 before any value.
	Limit float64
}

// newHistogram returns an empty histogram of bins bins (bins even, >= 2).
func newHistogram(bins int) *Histogram {
	return &Histogram{Counts: make([]uint64, bins)}
}

// Clone returns a deep copy.
func (h *Histogram) Clone() *Histogram {
	return &Histogram{Counts: slices.Clone(h.Counts), Limit: h.Limit}
}

// Width returns the width of one bin.
func (h *Histogram) Width() float64 { return 2 * h.Limit / float64(len(h.Counts)) }

// Edges returns the lower and upper edge of bin i.
func (h *Histogram) Edges(i int) (lo, hi float64) {
	w := h.Width()
	return -h.Limit + float64(i)*w, -h.Limit + float64(i+1)*w
}

// Total returns the number of values counted.
func (h *Histogram) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// add counts data, whose largest magnitude is amax, growing the range
// first when amax exceeds it.
func (h *Histogram) add(data []float32, amax float32) {
	if len(data) == 0 {
		return
	}
	if h.Limit == 0 {
		h.Limit = max(float64(amax), math.SmallestNonzeroFloat32)
	}
	for float64(amax) > h.Limit {
		h.double()
	}
	n := len(h.Counts)
	inv := float64(n) / (2 * h.Limit)
	for _, x := range data {
		i := int((float64(x) + h.Limit) * inv)
		h.Counts[min(max(i, 0), n-1)]++
	}
}

// double widens the range to [-2·Limit, 2·Limit], merging pairs of bins.
// Old bin i (edges at half-integers in new-bin units, since the bin count
// is even) lies inside new bin (n + 2i) / 4.
func (h *Histogram) double() {
	n := len(h.Counts)
	merged := make([]uint64, n)
	for i, c := range h.Counts {
		merged[(n+2*i)/4] += c
	}
	h.Counts = merged
	h.Limit *= 2
}

// Quantile returns the value below which a fraction q (0 <= q <= 1) of the
// counted values lie, interpolating linearly inside the bin it falls in
// (values are taken as uniform within a bin). It returns 0 for an empty
// histogram.
func (h *Histogram) Quantile(q float64) float64 {
	return quantile(h.Counts, -h.Limit, h.Width(), q)
}

// AbsCounts folds the histogram onto |x|: len(Counts)/2 bins of the same
// width over [0, Limit], bin i counting the values with i·w <= |x| <
// (i+1)·w.
func (h *Histogram) AbsCounts() []uint64 {
	half := len(h.Counts) / 2
	abs := make([]uint64, half)
	for i := range half {
		abs[i] = h.Counts[half+i] + h.Counts[half-1-i]
	}
	return abs
}

// AbsQuantile returns the q-quantile of |x|, interpolated as Quantile.
func (h *Histogram) AbsQuantile(q float64) float64 {
	return quantile(h.AbsCounts(), 0, h.Width(), q)
}

// quantile interpolates the q-quantile of counts in bins of width w
// starting at lo.
func quantile(counts []uint64, lo, w, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := min(max(q, 0), 1) * float64(total)
	var cum float64
	last := 0
	for i, c := range counts {
		if c == 0 {
			continue
		}
		last = i
		if cum+float64(c) >= rank {
			frac := (rank - cum) / float64(c)
			return lo + (float64(i)+frac)*w
		}
		cum += float64(c)
	}
	return lo + float64(last+1)*w
}
