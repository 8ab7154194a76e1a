package f32gemm

import "time"

// PeakGFLOPS measures the float32 peak of one core with the active
// kernel's instructions: a loop of independent fused multiply-adds on
// registers only, no memory. It runs chunks of about a millisecond for
// about d in all (at least 8 chunks) and keeps the fastest chunk, so that a
// busy machine's preemptions do not count. It counts two FLOPs per
// multiply-add, as GEMM rates do, and returns 0 for the Go kernel, which
// has no such loop.
func PeakGFLOPS(d time.Duration) float64 {
	return peakGFLOPS(active, d)
}

func peakGFLOPS(kern *microKernel, d time.Duration) float64 {
	if kern.peak == nil {
		return 0
	}
	kern.peak(1000) // warm up: wake the vector units
	iters := 1 << 10
	for {
		t := time.Now()
		kern.peak(iters)
		if time.Since(t) >= time.Millisecond || iters >= 1<<30 {
			break
		}
		iters *= 2
	}
	best := time.Duration(1<<63 - 1)
	var total time.Duration
	for n := 0; n < 8 || total < d; n++ {
		t := time.Now()
		kern.peak(iters)
		el := time.Since(t)
		best, total = min(best, el), total+el
	}
	return 2 * float64(iters) * float64(kern.peakMACs) / best.Seconds() / 1e9
}
