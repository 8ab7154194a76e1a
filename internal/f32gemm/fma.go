package f32gemm

import "math"

// fma32 returns a·b + c rounded once to float32 (round to nearest, ties to
// even), the result of the processor's single-precision fused multiply-add
// (VFMADD231PS) for finite operands and results.
//
// The product of two float32 values is exact in float64 (24+24 bits of
// significand fit in 53), so s = a·b + c in float64 is one rounding of the
// exact sum. Converting s to float32 rounds a second time, and the two
// roundings give a different float32 only when s lands exactly on a
// midpoint between two float32 values while the exact sum did not: the
// float64 rounding then hid on which side of the midpoint the exact sum
// lies. fma32 detects that case (a float64 whose bits below the float32
// significand are exactly one half) and recovers the sign of the float64
// rounding error with Knuth's TwoSum, then picks the float32 neighbour on
// that side. Results in the float32 subnormal range and at the overflow
// threshold take the same slow path with the midpoint computed from the two
// float32 neighbours.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact
	s := p + float64(c)
	bits := math.Float64bits(s)
	// Normal float32 range (exponent of s in [-126, 127]) and not a float32
	// midpoint: one rounding to float32 is already correct.
	if e := (bits >> 52) & 0x7ff; e >= 1023-126 && e <= 1023+127 && bits&(1<<29-1) != 1<<28 {
		return float32(s)
	}
	return fma32Slow(p, float64(c), s)
}

// fma32Slow finishes fma32 where the rounding of s to float32 may be
// ambiguous: s = p + c rounded to float64, p exact.
func fma32Slow(p, c, s float64) float32 {
	f := float32(s)
	if float64(f) == s || math.IsNaN(s) || math.IsInf(s, 0) {
		return f
	}
	// g is f's float32 neighbour on the other side of s, and mid the midpoint
	// of f and g (exact in float64). Beyond the largest float32 the
	// neighbour is 2^128, where rounding overflows.
	var lo, hi float64
	if math.IsInf(float64(f), 0) {
		lo = math.Copysign(math.MaxFloat32, s)
		hi = math.Copysign(0x1p128, s)
	} else {
		toward := float32(math.Inf(1))
		if s < float64(f) {
			toward = float32(math.Inf(-1))
		}
		lo, hi = float64(f), float64(math.Nextafter32(f, toward))
	}
	if mid := (lo + hi) / 2; s != mid {
		return f // s is on the same side of the midpoint as the exact sum
	}
	// TwoSum: err is exactly (p + c) - s.
	bv := s - p
	err := (p - (s - bv)) + (c - bv)
	switch {
	case err == 0:
		return f // a true tie: float32(s) rounded it to even
	case (err > 0) == (hi > lo):
		return float32(hi) // the exact sum lies beyond the midpoint, toward hi
	default:
		return float32(lo)
	}
}
