package quant

import (
	"math"
	"testing"
)

func TestMetrics(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name              string
		ref, approx       []float32
		sqnr, mse, maxAbs float64
		cos               float64
	}{
		{"identical", []float32{1, -2, 3}, []float32{1, -2, 3}, inf, 0, 0, 1},
		{"empty", nil, nil, inf, 0, 0, 1},
		{"both zero", []float32{0, 0}, []float32{0, 0}, inf, 0, 0, 1},
		{"zero reference", []float32{0, 0}, []float32{1, 0}, math.Inf(-1), 0.5, 1, 0},
		{"zero approximation", []float32{3, 4}, []float32{0, 0}, 0, 12.5, 4, 0},
		{"10 percent noise", []float32{1, 1, 1, 1}, []float32{1.1, 0.9, 1.1, 0.9}, 20, 0.01, 0.1, 0.995037},
		{"opposite", []float32{1, 2}, []float32{-1, -2}, 10 * math.Log10(5.0/20), 10, 4, -1},
	}
	const tol = 1e-5
	near := func(got, want float64) bool {
		if math.IsInf(want, 0) {
			return got == want
		}
		return math.Abs(got-want) <= tol*max(1, math.Abs(want))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SQNR(c.ref, c.approx); !near(got, c.sqnr) {
				t.Errorf("SQNR = %v, want %v", got, c.sqnr)
			}
			if got := MSE(c.ref, c.approx); !near(got, c.mse) {
				t.Errorf("MSE = %v, want %v", got, c.mse)
			}
			if got := MaxAbsError(c.ref, c.approx); !near(got, c.maxAbs) {
				t.Errorf("MaxAbsError = %v, want %v", got, c.maxAbs)
			}
			if got := CosineSimilarity(c.ref, c.approx); !near(got, c.cos) {
				t.Errorf("CosineSimilarity = %v, want %v", got, c.cos)
			}
		})
	}
	for name, f := range map[string]func(a, b []float32) float64{
		"SQNR": SQNR, "MSE": MSE, "MaxAbsError": MaxAbsError, "CosineSimilarity": CosineSimilarity} {
		if got := f([]float32{1}, []float32{1, 2}); !math.IsNaN(got) {
			t.Errorf("%s of different lengths = %v, want NaN", name, got)
		}
	}
}
