package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestGemm checks nn's products against a float64 loop (relative
// tolerance 1e-5 of the sum of absolute products) for every transpose the
// layers use, and that GOMAXPROCS 1, 2 and 3 give the same bits.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	cases := []struct {
		name           string
		m, n, k        int
		transA, transB bool
		beta           float32
	}{
		{"small", 20, 30, 7, false, false, 0},
		{"spread over goroutines", 150, 400, 100, false, false, 0},
		{"transposed A (input gradient of Conv2D)", 150, 400, 33, true, false, 0},
		{"transposed B (Linear forward)", 64, 300, 200, false, true, 0},
		{"accumulate into C (weight gradient)", 70, 200, 50, true, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := randTensorIn(rng, -1, 1, c.m*c.k).Data()
			b := randTensorIn(rng, -1, 1, c.k*c.n).Data()
			c0 := randTensorIn(rng, -1, 1, c.m*c.n).Data()
			lda, ldb := c.k, c.n
			if c.transA {
				lda = c.m
			}
			if c.transB {
				ldb = c.k
			}
			var got []float32
			for _, procs := range []int{1, 2, 3} {
				func() {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					y := slices.Clone(c0)
					gemm(c.transA, c.transB, c.m, c.n, c.k, a, lda, b, ldb, c.beta, y, c.n)
					if got == nil {
						got = y
					} else if !slices.Equal(y, got) {
						t.Fatalf("GOMAXPROCS %d gives different bits from GOMAXPROCS 1", procs)
					}
				}()
			}
			for i := range c.m {
				for j := range c.n {
					s, mag := float64(c.beta)*float64(c0[i*c.n+j]), math.Abs(float64(c.beta)*float64(c0[i*c.n+j]))
					for l := range c.k {
						ai, bi := i*lda+l, l*ldb+j
						if c.transA {
							ai = l*lda + i
						}
						if c.transB {
							bi = j*ldb + l
						}
						av, bv := a[ai], b[bi]
						s += float64(av) * float64(bv)
						mag += math.Abs(float64(av) * float64(bv))
					}
					if d := math.Abs(float64(got[i*c.n+j]) - s); d > 1e-5*mag {
						t.Fatalf("C[%d,%d] = %g, want %g (|error| %g > 1e-5 × %g)", i, j, got[i*c.n+j], s, d, mag)
					}
				}
			}
		})
	}
}
