package quant

import (
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// DefaultEntropyBins is the default histogram size of EntropyObserver: 4096 bins
// over [-limit, limit], that is 2048 bins of |x| as TensorRT's entropy
// calibrator uses.
const DefaultEntropyBins = 4096

// EntropyOptions configure an Entropyobserver. The zero value means the
// defaults.
type EntropyOptions struct {
	// Bins is the number of histogram bins over [-limit, limit], even and
	// at least 8; 0 means DefaultEntropyBins.
	Bins int
}

// EntropyObserver picks the clipping threshold that minimises the KL divergence
// between the observed distribution and its quantized version, as
// TensorRT's and ONNX Runtime's entropy calibrators do:
//
//  1. Fold the histogram onto |x| (or keep its one non-empty side when an
//     affine spec sees only non-negative or only non-positive values).
//     Let L be the number of quantization levels on that side: half the
//     codes (128 for int8) for |x|, all codes (256) for one side.
//  2. For each candidate i from L to the last non-empty bin: the reference
//     P is the first i bins with the mass beyond them added to bin i-1;
//     the candidate Q merges the first i bins (without that mass) into L
//     groups of i/L bins and spreads each group's count evenly over the
//     group's bins where P is non-zero.
//  3. Smooth the zeros of Q where P is not zero (to 1e-4, as ONNX
//     Runtime's smooth_distribution), normalise and compute KL(P‖Q). The
//     smallest divergence wins, the first on ties.
//
// The threshold t is the upper edge of the winning candidate's last bin;
// the range is [-t, t] clamped to the observed [min, max]. Where the
// histogram has fewer non-empty bins than L, t covers them all.
type EntropyObserver struct {
	s histState
}

// NewEntropyObserver returns an EntropyObserver for a per-tensor spec.
func NewEntropyObserver(spec Spec, opts EntropyOptions) (*EntropyObserver, error) {
	if opts.Bins == 0 {
		opts.Bins = DefaultEntropyBins
	}
	s, err := newHistState("entropy", spec, opts.Bins)
	if err != nil {
		return nil, err
	}
	return &EntropyObserver{s: s}, nil
}

// Observe adds the batch to the histogram, widening it when needed.
func (o *EntropyObserver) Observe(x *tensor.Tensor) error { return o.s.observe(x) }

// QParams returns the qparams of the minimum-KL range.
func (o *EntropyObserver) QParams() (QParams, error) {
	return o.s.qparams(func() (lo, hi float64) {
		h := o.s.h
		qmin, qmax := o.s.spec.Bounds()
		half := len(h.Counts) / 2
		var counts []uint64
		levels := int(qmax-qmin+1) / 2
		switch {
		case o.s.spec.Scheme == Affine && o.s.lo >= 0:
			counts, levels = h.Counts[half:], int(qmax-qmin+1)
		case o.s.spec.Scheme == Affine && o.s.hi <= 0:
			counts, levels = slices.Clone(h.Counts[:half]), int(qmax-qmin+1)
			slices.Reverse(counts)
		default:
			counts = h.AbsCounts()
		}
		t := float64(klThreshold(counts, levels)) * h.Width()
		return -t, t
	})
}

// Stats returns the counts, the observed range and the histogram.
func (o *EntropyObserver) Stats() Stats { return o.s.stats() }

// Reset forgets all batches.
func (o *EntropyObserver) Reset() { o.s.reset() }

// Clone returns a fresh observer with the same spec and options.
func (o *EntropyObserver) Clone() Observer { return &EntropyObserver{s: o.s.fresh()} }

// klThreshold returns the number of leading bins of counts whose
// quantization to levels levels diverges least from the whole distribution.
//
// Each candidate costs O(levels), not O(bins), thanks to prefix sums of the
// counts, of the non-zero bins and of c·log c. That needs the smoothing to
// touch only the bins where Q is zero and P is not (they get 1e-4): bins
// where P is zero add nothing to KL(P‖Q) either way, and the 1e-4-scale
// shift ONNX Runtime's smooth_distribution also applies to every other bin
// is left out.
func klThreshold(counts []uint64, levels int) int {
	end := len(counts)
	for end > 0 && counts[end-1] == 0 {
		end--
	}
	if end <= levels {
		return end
	}
	// Prefix sums over bins [0, j): counts, non-zero bins, c·log c.
	cum := make([]float64, end+1)
	nz := make([]int, end+1)
	clc := make([]float64, end+1)
	for j, c := range counts[:end] {
		f := float64(c)
		cum[j+1], nz[j+1], clc[j+1] = cum[j]+f, nz[j], clc[j]
		if c > 0 {
			nz[j+1]++
			clc[j+1] += f * math.Log(f)
		}
	}
	total := cum[end]
	best, bestI := math.Inf(1), end
	for i := levels; i <= end; i++ {
		if kl := klCandidate(cum, nz, clc, i, levels, total); kl < best {
			best, bestI = kl, i
		}
	}
	return bestI
}

// klCandidate returns KL(P‖Q) for the candidate that keeps the first i
// bins, P being them with the mass beyond (total - cum[i]) added to bin
// i-1, and Q their quantization to levels groups (see EntropyObserver).
func klCandidate(cum []float64, nz []int, clc []float64, i, levels int, total float64) float64 {
	const eps = 1e-4
	beyond := total - cum[i]
	last := cum[i] - cum[i-1] // the count of bin i-1 before adding beyond
	var sumPLogPQ, sumQ float64
	for g := range levels {
		start, stop := g*i/levels, (g+1)*i/levels
		t := cum[stop] - cum[start] // Q's mass in the group
		nonzero := nz[stop] - nz[start]
		pLogP := clc[stop] - clc[start]
		pSum := t
		if stop == i && beyond > 0 {
			// Bin i-1 of P also holds the mass beyond the threshold.
			if last > 0 {
				pLogP -= last * math.Log(last)
			} else {
				nonzero++
			}
			pLast := last + beyond
			pLogP += pLast * math.Log(pLast)
			pSum += beyond
		}
		if nonzero == 0 {
			continue
		}
		if t == 0 {
			// Q is zero where P is not: smoothed to eps.
			sumPLogPQ += pLogP - pSum*math.Log(eps)
			sumQ += eps * float64(nonzero)
			continue
		}
		sumPLogPQ += pLogP - pSum*math.Log(t/float64(nonzero))
		sumQ += t
	}
	return sumPLogPQ/total + math.Log(sumQ/total)
}
