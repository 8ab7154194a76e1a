package f32gemm

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactFMA32 is a·b + c computed exactly with math/big and rounded once to
// float32, the reference for fma32.
func exactFMA32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(2000).SetFloat64(float64(a))
	y := new(big.Float).SetPrec(2000).SetFloat64(float64(b))
	z := new(big.Float).SetPrec(2000).SetFloat64(float64(c))
	x.Mul(x, y)
	x.Add(x, z)
	f, _ := x.Float32()
	return f
}

// TestFMA32 compares fma32 with the exactly rounded a·b + c on operands
// built to hit a float32 midpoint after the float64 rounding (where a plain
// float32(math.FMA(...)) double-rounds wrongly), on subnormal and overflow
// boundaries, and on random operands of mixed magnitudes. The tolerance is
// zero: every result must have the same bits.
func TestFMA32(t *testing.T) {
	mid := float32(1 + 0x1p-23) // 3·mid = 3 + 2^-22 + 2^-23, a float32 midpoint
	cases := []struct {
		name    string
		a, b, c float32
	}{
		{"midpoint, tiny negative addend", 3, mid, -0x1p-100},
		{"midpoint, tiny positive addend", 3, mid, 0x1p-100},
		{"midpoint, negative product", -3, mid, 0x1p-100},
		{"midpoint, no addend (true tie)", 3, mid, 0},
		{"exact zero", 2, 0, 0},
		{"cancellation", 1.5, 2, -3},
		{"subnormal result", 0x1p-70, 0x1p-70, 0x1p-149},
		{"subnormal midpoint", 0x1p-75, 0x1.8p-75, -0x1p-200},
		{"overflow threshold", math.MaxFloat32, 1, 0x1p103},
		{"overflow threshold minus tiny", 0x1.fffffep127, 1, 0x1p103 - 0x1p80},
		{"overflow", math.MaxFloat32, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, want := fma32(c.a, c.b, c.c), exactFMA32(c.a, c.b, c.c)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("fma32(%g, %g, %g) = %g (%#08x), want %g (%#08x)",
					c.a, c.b, c.c, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		})
	}
	t.Run("double rounding would differ", func(t *testing.T) {
		// The first case is one where rounding twice is wrong; keep it so.
		naive := float32(math.FMA(3, float64(mid), -0x1p-100))
		if naive == exactFMA32(3, mid, -0x1p-100) {
			t.Fatal("the midpoint case no longer exercises double rounding")
		}
	})
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		random := func() float32 {
			// Random bits over a wide exponent range, finite.
			for {
				f := math.Float32frombits(rng.Uint32())
				if !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
					return f
				}
			}
		}
		for i := range 20000 {
			a, b, c := random(), random(), random()
			if i%2 == 0 {
				// Products near c's magnitude, where rounding matters most.
				a, b = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				c = float32(rng.NormFloat64())
				if i%4 == 0 {
					// Force a midpoint product: b with its last bit set, a = 3.
					a, b = 3, math.Float32frombits(math.Float32bits(b)|1)
					c = float32(rng.NormFloat64()) * 0x1p-60
				}
			}
			got, want := fma32(a, b, c), exactFMA32(a, b, c)
			if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
				t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
			}
		}
	})
}
