package f32gemm

import "time"

// PeakGFLOPS measures the float32 peak of one core with the active
// kernel's instructions: a loop of independent fused multiply-adds on
// registers only, no memory, run for about d (at least one pass). It counts
// two FLOPs per multiply-add, as GEMM rates do, and returns 0 for the Go
// kernel, which has no such loop.
func PeakGFLOPS(d time.Duration) float64 {
	return peakGFLOPS(active, d)
}

func peakGFLOPS(kern *microKernel, d time.Duration) float64 {
	if kern.peak == nil {
		return 0
	}
	kern.peak(1000) // warm up: wake the vector units
	iters := 1 << 12
	for {
		t := time.Now()
		kern.peak(iters)
		el := time.Since(t)
		if el >= d || iters >= 1<<34 {
			return 2 * float64(iters) * float64(kern.peakMACs) / el.Seconds() / 1e9
		}
		if el < d/16 {
			iters *= 16
		} else {
			iters *= 2
		}
	}
}
