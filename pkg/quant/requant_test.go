package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequantizeValue(t *testing.T) {
	cases := []struct {
		name           string
		acc            int32
		mult           float32
		zp, qmin, qmax int32
		want           int32
	}{
		{"exact", 100, 0.5, 0, -128, 127, 50},
		{"tie to even down", 5, 0.5, 0, -128, 127, 2},
		{"tie to even up", 7, 0.5, 0, -128, 127, 4},
		{"negative tie", -5, 0.5, 0, -128, 127, -2},
		{"zero point", 10, 0.25, -128, -128, 127, -126}, // 2.5 -> 2
		{"saturate high", 1 << 30, 1, 0, -128, 127, 127},
		{"saturate low", -1 << 30, 1, 10, 0, 255, 0},
		{"reduce range", 1000, 1, 0, 0, 127, 127},
		// float32(16777217) is 16777216 (ties to even), so the product is
		// exactly 8388608 where exact arithmetic gives 8388608.5 -> 8388608
		// too; with multiplier 2^-24 the float32 product is exactly 1.
		{"float32 accumulator", 16777217, 1.0 / (1 << 24), 0, -128, 127, 1},
		// 3·(1/3 in float32) is 1.00000003 in float64 but rounds to 1 in
		// float32; both round to 1: the float32 product is what counts.
		{"float32 product", 3, 1.0 / 3, 0, -128, 127, 1},
		{"min above max gives max", 0, 1, 0, 10, -10, -10},
		{"huge product clamps", math.MaxInt32, math.MaxFloat32, 0, -128, 127, 127},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, RequantizeValue(c.acc, c.mult, c.zp, c.qmin, c.qmax))
		})
	}
}

// TestRequantizeValueIsFloat32 checks RequantizeValue against its
// definition written with explicit float32 steps, on random accumulators
// and multipliers, including the accumulators beyond 2^24 where float32(acc)
// rounds.
func TestRequantizeValueIsFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for range 20000 {
		acc := int32(r.Uint32())
		if r.IntN(2) == 0 {
			acc >>= r.IntN(31)
		}
		m := float32(math.Pow(2, -40+40*r.Float64()))
		zp := int32(r.IntN(256) - 128)
		p := float32(acc) * m
		p = min(max(p, float32(-128-zp)), float32(127-zp))
		want := int32(math.RoundToEven(float64(p))) + zp
		require.Equal(t, want, RequantizeValue(acc, m, zp, -128, 127), "acc %d, multiplier %g, zero point %d", acc, m, zp)
	}
}

func TestRequantMultiplier(t *testing.T) {
	cases := []struct {
		name          string
		in, w, out    float32
		want          float32
		wantNonFinite bool
	}{
		{"exact", 0.5, 0.25, 0.125, 1, false},
		// In float32 0.1·0.2 rounds to 0.020000001, then /0.3 to
		// 0.06666667; the float64 product and quotient rounded once give
		// the same here, but see the random test below.
		{"rounded twice", 0.1, 0.2, 0.3, float32(float32(float32(0.1)*float32(0.2)) / float32(0.3)), false},
		{"zero output scale", 1, 1, 0, float32(math.Inf(1)), true},
		{"NaN weight scale", 1, float32(math.NaN()), 1, float32(math.NaN()), true},
		{"overflow", 1e30, 1e30, 1e-30, float32(math.Inf(1)), true},
		{"underflow is zero, allowed", 1e-30, 1e-30, 1e30, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := RequantMultiplier(c.in, c.w, c.out)
			if math.IsNaN(float64(c.want)) {
				assert.True(t, math.IsNaN(float64(got)), "got %v, want NaN", got)
			} else {
				assert.Equal(t, c.want, got)
			}
			m, err := RequantScale(c.in, []float32{1, c.w}, c.out)
			if c.wantNonFinite {
				require.ErrorIs(t, err, ErrNonFinite)
				assert.Contains(t, err.Error(), "requantization multiplier")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []float32{RequantMultiplier(c.in, 1, c.out), got}, m)
		})
	}
}

// TestRequantMultiplierRoundsInFloat32 checks the two float32 roundings on
// random scales, and that they differ from rounding the float64 quotient
// once often enough for the choice to matter (the arithmetic qnn used
// before one requantization: about a quarter of the multipliers).
func TestRequantMultiplierRoundsInFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const n = 100000
	differ := 0
	for range n {
		in := float32(math.Pow(10, -4+3*r.Float64()))
		w := float32(math.Pow(10, -4+3*r.Float64()))
		out := float32(math.Pow(10, -3+3*r.Float64()))
		got := RequantMultiplier(in, w, out)
		p := in * w // float32
		require.Equal(t, p/out, got, "%v·%v/%v", in, w, out)
		if got != float32(float64(in)*float64(w)/float64(out)) {
			differ++
		}
	}
	assert.InDelta(t, 0.25, float64(differ)/n, 0.1, "%d of %d multipliers differ from the float64 quotient", differ, n)
}

// An int8 Linear computed with GemmIntNT + bias + Requantize matches the
// float computation on the dequantized operands to within one output step.
func TestRequantizedLinearMatchesFloat(t *testing.T) {
	const m, n, k = 5, 7, 33
	r := rand.New(rand.NewPCG(9, 9))
	a := randInts[int8](r, m*k)
	w := randInts[int8](r, n*k)
	for i := range w {
		w[i] = max(w[i], -127) // restricted symmetric weights
	}
	const sa, za = float32(0.02), int32(-5)
	sw := make([]float32, n)
	bias := make([]float32, n)
	for j := range n {
		sw[j] = 0.001 * float32(j+1)
		bias[j] = float32(r.NormFloat64())
	}
	const sy, zy = float32(0.05), int32(3)
	qb, err := QuantizeBias(bias, sa, sw)
	require.NoError(t, err)
	acc := make([]int32, m*n)
	GemmIntNT(m, n, k, a, []int32{za}, w, []int32{0}, acc)
	out := make([]int8, m*n)
	mult, err := RequantScale(sa, sw, sy)
	require.NoError(t, err)
	Requantize(m, n, acc, qb, mult, zy, -128, 127, out)
	for i := range m {
		for j := range n {
			var y float64
			for p := range k {
				y += float64(DequantizeValue(int32(a[i*k+p]), sa, za)) * float64(DequantizeValue(int32(w[j*k+p]), sw[j], 0))
			}
			y += float64(bias[j])
			want := math.Max(-128, math.Min(127, math.RoundToEven(y/float64(sy))+float64(zy)))
			require.InDelta(t, want, float64(out[i*n+j]), 1, "y[%d,%d], float reference %v", i, j, want)
		}
	}
}

func TestQuantizeBias(t *testing.T) {
	cases := []struct {
		name string
		bias []float32
		in   float32
		ws   []float32
		want []int32
	}{
		{"per tensor", []float32{1, -0.5, 0.25, 0.375}, 0.5, []float32{0.5}, []int32{4, -2, 1, 2}}, // 1.5 -> 2
		{"per channel", []float32{1, 1}, 0.5, []float32{1, 0.25}, []int32{2, 8}},
		{"int32 limits", []float32{-2147483648, 2147483520}, 1, []float32{1}, []int32{math.MinInt32, 2147483520}},
		// The scale is the float32 product: 0.1·0.3 = 0.030000001 in
		// float32; 3/0.030000001 = 99.99999666 -> 100 in float64.
		{"float32 scale, float64 quotient", []float32{3}, 0.1, []float32{0.3}, []int32{100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := QuantizeBias(c.bias, c.in, c.ws)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	bad := []struct {
		name    string
		bias    []float32
		in      float32
		ws      []float32
		wantErr error
	}{
		{"scales do not match", []float32{1, 2, 3}, 1, []float32{1, 1}, ErrShape},
		{"NaN bias", []float32{float32(math.NaN())}, 1, []float32{1}, ErrNonFinite},
		{"beyond int32", []float32{1, 3e9}, 0.5, []float32{0.5}, ErrNonFinite},
		{"zero input scale", []float32{1}, 0, []float32{1}, ErrInvalidParams},
		{"infinite weight scale", []float32{1}, 1, []float32{float32(math.Inf(1))}, ErrInvalidParams},
		{"underflowing product", []float32{1}, 1e-30, []float32{1e-30}, ErrInvalidParams},
		{"overflowing product", []float32{1}, 1e30, []float32{1e30}, ErrInvalidParams},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := QuantizeBias(c.bias, c.in, c.ws)
			assert.ErrorIs(t, err, c.wantErr)
		})
	}
}

// TestQuantizeBiasMatchesORTRule checks random biases against the rule of
// ONNX Runtime's quantizer written out: float32 scale, float64 quotient,
// round half to even.
func TestQuantizeBiasMatchesORTRule(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for range 10000 {
		b := float32(r.NormFloat64() * 10)
		in, w := float32(math.Pow(10, -4+3*r.Float64())), float32(math.Pow(10, -4+3*r.Float64()))
		got, err := QuantizeBias([]float32{b}, in, []float32{w})
		require.NoError(t, err)
		scale := in * w
		assert.Equal(t, int32(math.RoundToEven(float64(b)/float64(scale))), got[0], "bias %v, scales %v·%v", b, in, w)
	}
}

func TestRequantizePanicsOnShape(t *testing.T) {
	assert.PanicsWithError(t, "quant: requantize: 1 biases, want n = 2: quant: shape mismatch", func() {
		Requantize(2, 2, make([]int32, 4), []int32{1}, []float32{1}, 0, -128, 127, make([]int8, 4))
	})
}
