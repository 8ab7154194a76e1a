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
	if f, ok := fma32Fast(a, b, c); ok {
		return f
	}
	return fma32Slow(a, b, c)
}

// fma32Fast is fma32's common case, small enough to inline into the
// kernel loops: it returns float32(a·b + c rounded to float64) and whether
// that is the correctly rounded result, which holds unless the float64 sum
// is a float32 midpoint or outside the normal float32 range (biased float64
// exponent in [1023-126, 1023+127], checked with one unsigned comparison).
func fma32Fast(a, b, c float32) (float32, bool) {
	s := float64(a)*float64(b) + float64(c) // the product is exact
	bits := math.Float64bits(s)
	return float32(s), bits&(1<<29-1) != 1<<28 && (bits>>52)&0x7ff-(1023-126) < 254
}

// fma32Slow finishes fma32 where the rounding of s = a·b + c (in float64)
// to float32 may be ambiguous.
func fma32Slow(a, b, c32 float32) float32 {
	p, c := float64(a)*float64(b), float64(c32)
	s := p + c
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
