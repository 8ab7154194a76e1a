package quant

import "math"

// Error metrics between a reference signal and its approximation (for
// example FP32 outputs and the outputs of a quantized model). All
// accumulate in float64. Slices of different lengths are a caller's
// mistake the metrics cannot judge: they return NaN.

// SQNR returns the signal-to-quantization-noise ratio in decibels:
// 10·log10(Σ ref² / Σ (ref-approx)²). Identical inputs (including two
// empty slices and two all-zero slices) give +Inf; an all-zero reference
// with non-zero noise gives -Inf.
func SQNR(ref, approx []float32) float64 {
	if len(ref) != len(approx) {
		return math.NaN()
	}
	var sig, noise float64
	for i, r := range ref {
		d := float64(r) - float64(approx[i])
		sig += float64(r) * float64(r)
		noise += d * d
	}
	switch {
	case noise == 0:
		return math.Inf(1)
	case sig == 0:
		return math.Inf(-1)
	}
	return 10 * math.Log10(sig/noise)
}

// MSE returns the mean squared error Σ (ref-approx)² / n; 0 for empty
// slices.
func MSE(ref, approx []float32) float64 {
	if len(ref) != len(approx) {
		return math.NaN()
	}
	if len(ref) == 0 {
		return 0
	}
	var s float64
	for i, r := range ref {
		d := float64(r) - float64(approx[i])
		s += d * d
	}
	return s / float64(len(ref))
}

// MaxAbsError returns max |ref-approx|; 0 for empty slices.
func MaxAbsError(ref, approx []float32) float64 {
	if len(ref) != len(approx) {
		return math.NaN()
	}
	var m float64
	for i, r := range ref {
		m = max(m, math.Abs(float64(r)-float64(approx[i])))
	}
	return m
}

// CosineSimilarity returns ref·approx / (|ref| |approx|), in [-1, 1]. Two
// zero vectors (or two empty slices) are identical and give 1; a zero
// vector against a non-zero one gives 0.
func CosineSimilarity(ref, approx []float32) float64 {
	if len(ref) != len(approx) {
		return math.NaN()
	}
	var dot, nr, na float64
	for i, r := range ref {
		a := float64(approx[i])
		dot += float64(r) * a
		nr += float64(r) * float64(r)
		na += a * a
	}
	switch {
	case nr == 0 && na == 0:
		return 1
	case nr == 0 || na == 0:
		return 0
	}
	return max(-1, min(1, dot/(math.Sqrt(nr)*math.Sqrt(na))))
}
