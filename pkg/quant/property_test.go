package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// allSpecs returns every valid per-tensor combination of dtype, scheme,
// restricted and reduce-range.
func allSpecs() []Spec {
	var specs []Spec
	for _, dt := range []DType{Int8, UInt8} {
		for _, sc := range []Scheme{Affine, Symmetric} {
			for _, restricted := range []bool{false, true} {
				for _, reduce := range []bool{false, true} {
					s := Spec{DType: dt, Scheme: sc, Restricted: restricted, ReduceRange: reduce}
					if s.Validate() == nil {
						specs = append(specs, s)
					}
				}
			}
		}
	}
	return specs
}

// Inside the grid, the round trip is off by at most half a step; outside,
// values saturate to the ends; every code survives dequantize+quantize.
func TestQuantizationProperties(t *testing.T) {
	specs := allSpecs()
	if len(specs) != 10 {
		t.Fatalf("%d valid specs, want 10", len(specs))
	}
	r := rand.New(rand.NewPCG(3, 4))
	ranges := [][2]float32{{-1, 1}, {0, 6}, {-3, 0.5}, {-0.001, 1000}, {-7e-5, 2e-5}, {2, 9}}
	for _, spec := range specs {
		for _, rg := range ranges {
			t.Run(fmt.Sprintf("%v/[%g,%g]", spec, rg[0], rg[1]), func(t *testing.T) {
				s, z, err := ChooseQParams(rg[0], rg[1], spec)
				require.NoError(t, err)
				qmin, qmax := spec.Bounds()
				if z < qmin || z > qmax {
					t.Fatalf("zero point %d outside [%d, %d]", z, qmin, qmax)
				}
				if got := QuantizeValue(0, s, z, qmin, qmax); DequantizeValue(got, s, z) != 0 {
					t.Fatalf("real 0 is not exactly representable")
				}
				lo := DequantizeValue(qmin, s, z)
				hi := DequantizeValue(qmax, s, z)
				// The grid covers the range (up to the half step the
				// full-range symmetric grid leaves at its top).
				half := float64(s) / 2 * (1 + 1e-5)
				if float64(lo) > float64(min(rg[0], 0))+half || float64(hi) < float64(max(rg[1], 0))-half {
					t.Fatalf("grid [%v, %v] does not cover [%v, %v]", lo, hi, rg[0], rg[1])
				}
				const rel = 1e-5 // float32 division and product rounding
				for range 2000 {
					x := lo + (hi-lo)*r.Float32()
					q := QuantizeValue(x, s, z, qmin, qmax)
					if d := math.Abs(float64(x - DequantizeValue(q, s, z))); d > float64(s)/2*(1+rel) {
						t.Fatalf("x=%v: round-trip error %v > scale/2 = %v", x, d, s/2)
					}
				}
				for _, x := range []float32{hi + s, hi * 10, float32(math.Inf(1))} {
					if x > hi+s/2 {
						if q := QuantizeValue(x, s, z, qmin, qmax); q != qmax {
							t.Fatalf("x=%v above the grid quantizes to %d, want %d", x, q, qmax)
						}
					}
				}
				for _, x := range []float32{lo - s, lo*10 - 1, float32(math.Inf(-1))} {
					if q := QuantizeValue(x, s, z, qmin, qmax); q != qmin {
						t.Fatalf("x=%v below the grid quantizes to %d, want %d", x, q, qmin)
					}
				}
				for q := qmin; q <= qmax; q++ {
					if got := QuantizeValue(DequantizeValue(q, s, z), s, z, qmin, qmax); got != q {
						t.Fatalf("code %d comes back as %d", q, got)
					}
				}
			})
		}
	}
}
