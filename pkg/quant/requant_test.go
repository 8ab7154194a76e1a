package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
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
	}
	for _, c := range cases {
		if got := RequantizeValue(c.acc, c.mult, c.zp, c.qmin, c.qmax); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
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
	if err != nil {
		t.Fatal(err)
	}
	acc := make([]int32, m*n)
	GemmIntNT(m, n, k, a, []int32{za}, w, []int32{0}, acc)
	out := make([]int8, m*n)
	Requantize(m, n, acc, qb, RequantScale(sa, sw, sy), zy, -128, 127, out)
	for i := range m {
		for j := range n {
			var y float64
			for p := range k {
				y += float64(DequantizeValue(int32(a[i*k+p]), sa, za)) * float64(DequantizeValue(int32(w[j*k+p]), sw[j], 0))
			}
			y += float64(bias[j])
			want := math.Max(-128, math.Min(127, math.RoundToEven(y/float64(sy))+float64(zy)))
			if d := math.Abs(float64(out[i*n+j]) - want); d > 1 {
				t.Fatalf("y[%d,%d] = %d, float reference %v", i, j, out[i*n+j], want)
			}
		}
	}
}

func TestQuantizeBias(t *testing.T) {
	got, err := QuantizeBias([]float32{1, -0.5, 0.25, 3e9}, 0.5, []float32{0.5})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{4, -2, 1, math.MaxInt32}; !slices.Equal(got, want) {
		t.Fatalf("per tensor: %v, want %v", got, want)
	}
	got, err = QuantizeBias([]float32{1, 1}, 0.5, []float32{1, 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{2, 8}; !slices.Equal(got, want) {
		t.Fatalf("per channel: %v, want %v", got, want)
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
		{"zero input scale", []float32{1}, 0, []float32{1}, ErrInvalidParams},
		{"underflowing product", []float32{1}, 1e-30, []float32{1e-30}, ErrInvalidParams},
	}
	for _, c := range bad {
		if _, err := QuantizeBias(c.bias, c.in, c.ws); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: %v, want %v", c.name, err, c.wantErr)
		}
	}
}

func TestRequantizePanicsOnShape(t *testing.T) {
	defer func() {
		if err, ok := recover().(error); !ok || !errors.Is(err, ErrShape) {
			t.Fatalf("recovered %v, want ErrShape", err)
		}
	}()
	Requantize(2, 2, make([]int32, 4), []int32{1}, []float32{1}, 0, -128, 127, make([]int8, 4))
}
