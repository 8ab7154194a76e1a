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
//  3. Smooth zeros (1e-4 taken from the non-zero bins of each
//     distribution, as ONNX Runtime's smooth_distribution), normalise and
//     compute KL(P‖Q). The smallest divergence wins, the first on ties.
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
func klThreshold(counts []uint64, levels int) int {
	end := len(counts)
	for end > 0 && counts[end-1] == 0 {
		end--
	}
	if end <= levels {
		return end
	}
	var beyond uint64 // mass in counts[i:end]
	for _, c := range counts[levels:end] {
		beyond += c
	}
	p := make([]float64, end)
	q := make([]float64, end)
	best, bestI := math.Inf(1), end
	for i := levels; i <= end; i++ {
		if i > levels {
			beyond -= counts[i-1]
		}
		kl := klCandidate(counts[:i], beyond, levels, p[:i], q[:i])
		if kl < best {
			best, bestI = kl, i
		}
	}
	return bestI
}

// klCandidate returns KL(P‖Q) for the candidate that keeps the bins of
// sliced and folds beyond into the last one, using p and q as scratch.
func klCandidate(sliced []uint64, beyond uint64, levels int, p, q []float64) float64 {
	n := len(sliced)
	for j, c := range sliced {
		p[j] = float64(c)
		q[j] = 0
	}
	p[n-1] += float64(beyond)
	for g := range levels {
		start, stop := g*n/levels, (g+1)*n/levels
		var total float64
		nonzero := 0
		for j := start; j < stop; j++ {
			total += float64(sliced[j])
			if p[j] != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			continue
		}
		share := total / float64(nonzero)
		for j := start; j < stop; j++ {
			if p[j] != 0 {
				q[j] = share
			}
		}
	}
	if !smoothDistribution(p) || !smoothDistribution(q) {
		return math.Inf(1)
	}
	var sp, sq float64
	for j := range p {
		sp += p[j]
		sq += q[j]
	}
	var kl float64
	for j := range p {
		pj := p[j] / sp
		kl += pj * math.Log(pj/(q[j]/sq))
	}
	return kl
}

// smoothDistribution gives every zero bin of d a count of 1e-4, taking the
// same total evenly from the non-zero bins (never leaving one below 1e-4),
// so that KL divergence is finite. It reports false when d has no non-zero
// bin.
func smoothDistribution(d []float64) bool {
	const eps = 1e-4
	zeros := 0
	for _, v := range d {
		if v == 0 {
			zeros++
		}
	}
	nonzeros := len(d) - zeros
	if nonzeros == 0 {
		return false
	}
	take := eps * float64(zeros) / float64(nonzeros)
	for j, v := range d {
		if v == 0 {
			d[j] = eps
		} else {
			d[j] = max(v-take, eps)
		}
	}
	return true
}
