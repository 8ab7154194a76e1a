package bench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"
)

// Options control Measure.
type Options struct {
	// Rounds is how many times every case is timed (default 9).
	Rounds int
	// MinTime is how long one timing of one case runs at least (default
	// 100 ms).
	MinTime time.Duration
	// Slowdown repeats a case's work: Slowdown["name"] = 2 runs it twice
	// per iteration. It exists to show that Compare catches a slowdown.
	Slowdown map[string]int
}

// Result is the outcome of Measure.
type Result struct {
	// ReferenceNs is the median time of one Reference iteration.
	ReferenceNs float64
	Cases       []CaseResult
}

// CaseResult is the median and the fastest time of one case's iteration
// over the rounds, and the median over the rounds of its ratio to the
// reference (their calls interleaved within a round).
type CaseResult struct {
	Name  string
	Kind  string
	NsOp  float64
	MinNs float64
	Ratio float64
}

// Measure times every case Rounds times, with GOMAXPROCS 1; within a
// round the case's calls alternate with calls of the Reference, and the
// round's ratio is the case's time over the reference's.
func Measure(cases []Case, o Options) (*Result, error) {
	if o.Rounds <= 0 {
		o.Rounds = 9
	}
	if o.MinTime <= 0 {
		o.MinTime = 150 * time.Millisecond
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	// Fewer, larger collections: the garbage of one case is then less
	// often collected while another is timed.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	ref := Reference()
	all := append([]Case{ref}, cases...)
	fns := make([]func() error, len(all))
	for i, c := range all {
		fn, err := c.Setup()
		if err != nil {
			return nil, fmt.Errorf("bench: setting up %s: %w", c.Name, err)
		}
		if n := o.Slowdown[c.Name]; n > 1 {
			inner := fn
			fn = func() error {
				for range n {
					if err := inner(); err != nil {
						return err
					}
				}
				return nil
			}
		}
		fns[i] = fn
	}
	var refNs []float64
	ns := make([][]float64, len(cases))
	ratios := make([][]float64, len(cases))
	for range o.Rounds {
		for i, c := range cases {
			refMean, caseMean, err := timePair(fns[0], fns[i+1], o.MinTime)
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", c.Name, err)
			}
			refNs = append(refNs, refMean)
			ns[i] = append(ns[i], caseMean)
			ratios[i] = append(ratios[i], caseMean/refMean)
		}
	}
	r := &Result{ReferenceNs: median(refNs)}
	for i, c := range cases {
		r.Cases = append(r.Cases, CaseResult{Name: c.Name, Kind: c.Kind, NsOp: median(ns[i]), MinNs: slices.Min(ns[i]), Ratio: median(ratios[i])})
	}
	return r, nil
}

// timePair calls ref and fn in turn, one call each, until they have run
// for minTime together, after one warm-up call of each, and returns the
// mean nanoseconds of a call of each, in CPU time of the process (see
// cpuClock). Interleaving them makes what load remains (caches shared with
// other programs) fall on both alike.
func timePair(ref, fn func() error, minTime time.Duration) (refMean, fnMean float64, err error) {
	if err := ref(); err != nil {
		return 0, 0, err
	}
	if err := fn(); err != nil {
		return 0, 0, err
	}
	runtime.GC()
	var tRef, tFn time.Duration
	n := 0
	for tRef+tFn < minTime || n < 3 {
		t0 := cpuClock()
		if err := ref(); err != nil {
			return 0, 0, err
		}
		t1 := cpuClock()
		if err := fn(); err != nil {
			return 0, 0, err
		}
		tRef += t1 - t0
		tFn += cpuClock() - t1
		n++
	}
	return float64(tRef.Nanoseconds()) / float64(n), float64(tFn.Nanoseconds()) / float64(n), nil
}

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
