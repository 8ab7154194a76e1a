package f32gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// refGemm is the definition every kernel must match bit for bit: per
// element, one chain of float32 FMAs over k in order.
func refGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float32
			switch beta {
			case 0:
			case 1:
				s = c[i*ldc+j]
			default:
				s = beta * c[i*ldc+j]
			}
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s = fma32(av, bv, s)
			}
			c[i*ldc+j] = s
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// gemmCase is one product of TestGemmBitIdentical.
type gemmCase struct {
	name             string
	m, n, k          int
	transA, transB   bool
	beta             float32
	padA, padB, padC int
}

// TestGemmBitIdentical runs every micro-kernel this machine has (the
// assembly ones and the Go twin) on shapes with edge tiles in both
// directions, k over one packed block, every transpose, beta 0, 1 and 0.5,
// padded leading dimensions, B read in place and packed, and 1 and 3
// goroutines, and wants the reference's bits exactly (tolerance zero). A
// NaN planted in C must not leak into a beta = 0 product. The products run
// with the real block sizes and again with blocks of 16 values of k, 2
// strips of rows and 2 of columns, so that small products cross many
// blocks and panels.
func TestGemmBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []gemmCase{
		{"one value", 1, 1, 1, false, false, 0, 0, 0, 0},
		{"k zero, beta 0", 3, 5, 0, false, false, 0, 0, 0, 0},
		{"k zero, beta 0.5", 3, 5, 0, false, false, 0.5, 0, 0, 0},
		{"edges everywhere", 13, 37, 11, false, false, 0, 0, 0, 0},
		{"transposed A", 13, 37, 11, true, false, 0, 0, 0, 0},
		{"transposed B", 13, 37, 11, false, true, 0, 0, 0, 0},
		{"both transposed, accumulate", 13, 37, 11, true, true, 1, 0, 0, 0},
		{"k over one block, beta 0.5", 20, 50, 300, false, false, 0.5, 0, 0, 0},
		{"transposed B, k over one block", 17, 40, 300, false, true, 0, 0, 0, 0},
		{"B packed (over 64 rows)", 70, 45, 20, false, false, 1, 0, 0, 0},
		{"several column panels", 9, 600, 10, false, false, 0, 0, 0, 0},
		{"conv1 shape", 16, 784, 9, false, false, 0, 0, 0, 0},
		{"weight gradient shape", 32, 144, 30, false, true, 1, 0, 0, 0},
		{"padded leading dimensions", 9, 40, 17, true, false, 1, 3, 5, 7},
	}
	small := []gemmCase{
		{"small blocks, both packed", 70, 150, 50, false, false, 0, 0, 0, 0},
		{"small blocks, B in place", 30, 150, 50, false, false, 1, 0, 0, 0},
		{"small blocks, transposed", 50, 90, 40, true, true, 0.5, 0, 0, 0},
	}
	run := func(t *testing.T, cases []gemmCase) {
		for _, c := range cases {
			ra, ca := c.m, c.k
			if c.transA {
				ra, ca = ca, ra
			}
			rb, cb := c.k, c.n
			if c.transB {
				rb, cb = cb, rb
			}
			lda, ldb, ldc := ca+c.padA, cb+c.padB, c.n+c.padC
			a := randSlice(rng, max(0, ra*lda))
			b := randSlice(rng, max(0, rb*ldb))
			c0 := randSlice(rng, c.m*ldc)
			if c.beta == 0 && len(c0) > 0 {
				c0[0] = float32(math.NaN())
			}
			want := slices.Clone(c0)
			refGemm(c.transA, c.transB, c.m, c.n, c.k, a, lda, b, ldb, c.beta, want, ldc)
			for _, kern := range kernels() {
				t.Run(kern.name+"/"+c.name, func(t *testing.T) {
					for _, w := range []int{1, 3} {
						got := slices.Clone(c0)
						gemmParallel(kern, w, c.transA, c.transB, c.m, c.n, c.k, a, lda, b, ldb, c.beta, got, ldc)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%d goroutines: C[%d] = %g, want %g (bits %#08x, %#08x)",
									w, i, got[i], want[i], math.Float32bits(got[i]), math.Float32bits(want[i]))
							}
						}
					}
				})
			}
		}
	}
	t.Run("real blocks", func(t *testing.T) { run(t, cases) })
	t.Run("small blocks", func(t *testing.T) {
		defer func(k, m, n int) { kc, mcStrips, ncStrips = k, m, n }(kc, mcStrips, ncStrips)
		kc, mcStrips, ncStrips = 16, 2, 2
		run(t, small)
	})
}

// TestGemmParallelSplits forces the parallel split on small products (both
// the column and the row split) and checks the bits against one goroutine.
func TestGemmParallelSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name    string
		m, n, k int
	}{
		{"wide: columns split", 8, 4000, 70},
		{"tall: rows split", 4000, 8, 70},
		{"square", 300, 300, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := randSlice(rng, c.m*c.k), randSlice(rng, c.k*c.n)
			want := make([]float32, c.m*c.n)
			Gemm(false, false, c.m, c.n, c.k, a, c.k, b, c.n, 0, want, c.n)
			for _, w := range []int{2, 3, 5} {
				got := make([]float32, c.m*c.n)
				GemmParallel(w, false, false, c.m, c.n, c.k, a, c.k, b, c.n, 0, got, c.n)
				if !slices.Equal(got, want) {
					t.Fatalf("%d goroutines give different bits from 1", w)
				}
			}
		})
	}
}

// TestKernelsMidpoints feeds every kernel products that land on a float32
// midpoint with a tiny addend, the case where rounding twice differs from
// the one rounding of a fused multiply-add, and wants fma32's bits.
func TestKernelsMidpoints(t *testing.T) {
	const m, n = 9, 33
	mid := float32(1 + 0x1p-23)
	a := make([]float32, m) // k = 1
	b := make([]float32, n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = 3 + float32(i)*4 // odd multiples keep the last significand bit
	}
	for j := range b {
		b[j] = math.Float32frombits(math.Float32bits(mid) + uint32(2*j))
	}
	for i := range c {
		c[i] = float32(1-2*(i%2)) * 0x1p-90
	}
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			got := slices.Clone(c)
			gemm(kern, false, false, m, n, 1, a, 1, b, n, 1, got, n)
			for i := range got {
				want := exactFMA32(a[i/n], b[i%n], c[i])
				if got[i] != want {
					t.Fatalf("C[%d] = %g, want %g", i, got[i], want)
				}
			}
		})
	}
}

// TestGemmPanics checks that sizes that do not fit their slices panic with
// an f32gemm message naming the operand.
func TestGemmPanics(t *testing.T) {
	cases := []struct {
		name string
		run  func()
		want string
	}{
		{"negative size", func() { Gemm(false, false, -1, 1, 1, nil, 1, nil, 1, 0, nil, 1) }, "negative size"},
		{"short A", func() {
			Gemm(false, false, 2, 2, 2, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}, "A is 2×2"},
		{"small ldb", func() {
			Gemm(false, true, 2, 3, 2, make([]float32, 4), 2, make([]float32, 6), 1, 0, make([]float32, 6), 3)
		}, "B is 3×2 with leading dimension 1"},
		{"short C", func() {
			Gemm(false, false, 2, 2, 2, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}, "C is 2×2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "f32gemm: ") || !strings.Contains(msg, c.want) {
					t.Fatalf("panic %v, want an f32gemm message containing %q", r, c.want)
				}
			}()
			c.run()
		})
	}
}

// TestPeakGFLOPS checks that every kernel's register-only loop runs and
// reports a positive rate, and that the Go kernel, which has none, reports
// 0. (Rates themselves are compared in ptq bench, not here: a shared
// machine makes any bound on them flaky.)
func TestPeakGFLOPS(t *testing.T) {
	for _, kern := range kernels() {
		t.Run(kern.name, func(t *testing.T) {
			peak := peakGFLOPS(kern, 5*time.Millisecond)
			if (kern.peak == nil) != (peak == 0) || peak < 0 {
				t.Fatalf("peak %g GFLOP/s, want > 0 exactly when the kernel has a register loop (%v)", peak, kern.peak != nil)
			}
		})
	}
}
