package f32gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestGemmOffsetB checks every kernel's GemmOffsetB against the reference
// on the materialised B' (tolerance zero: the same FMA chains), with the
// offsets of a 3×3 convolution over a padded image (overlapping rows) and
// with random offsets, edge tiles in both directions, beta 0, 1 and 0.5,
// the real and small block sizes, and 1 and 3 goroutines.
func TestGemmOffsetB(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	type offCase struct {
		name    string
		m, n    int
		beta    float32
		offsets func() (b []float32, boff []int)
	}
	conv := func(c, hp, wp int) func() ([]float32, []int) {
		return func() ([]float32, []int) {
			b := randSlice(rng, c*hp*wp+2) // +2: the last row's wide span
			var boff []int
			for ci := range c {
				for ky := range 3 {
					for kx := range 3 {
						boff = append(boff, ci*hp*wp+ky*wp+kx)
					}
				}
			}
			return b, boff
		}
	}
	random := func(k, n, size int) func() ([]float32, []int) {
		return func() ([]float32, []int) {
			b := randSlice(rng, size)
			boff := make([]int, k)
			for p := range boff {
				boff[p] = rng.IntN(size - n + 1)
			}
			return b, boff
		}
	}
	cases := []offCase{
		{"conv 1->16 28x28 (wide rows of 30)", 16, 28 * 30, 0, conv(1, 30, 30)},
		{"conv 16->32 14x14, accumulate", 32, 14 * 16, 1, conv(16, 16, 16)},
		{"odd sizes, beta 0.5", 13, 37, 0.5, conv(3, 7, 9)},
		{"random offsets, k over a block", 9, 70, 0, random(300, 70, 1000)},
	}
	for _, blocks := range []string{"real blocks", "small blocks"} {
		for _, c := range cases {
			b, boff := c.offsets()
			k := len(boff)
			a := randSlice(rng, c.m*k)
			c0 := randSlice(rng, c.m*c.n)
			dense := make([]float32, k*c.n)
			for p, off := range boff {
				copy(dense[p*c.n:(p+1)*c.n], b[off:off+c.n])
			}
			want := slices.Clone(c0)
			refGemm(false, false, c.m, c.n, k, a, k, dense, c.n, c.beta, want, c.n)
			for _, kern := range kernels() {
				t.Run(blocks+"/"+kern.name+"/"+c.name, func(t *testing.T) {
					if blocks == "small blocks" {
						defer func(k, m, n int) { kc, mcStrips, ncStrips = k, m, n }(kc, mcStrips, ncStrips)
						kc, mcStrips, ncStrips = 16, 2, 2
					}
					defer func(k *microKernel) { active = k }(active)
					active = kern
					for _, w := range []int{1, 3} {
						got := slices.Clone(c0)
						GemmOffsetBParallel(w, c.m, c.n, k, a, k, b, boff, c.beta, got, c.n)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%d goroutines: C[%d] = %g, want %g", w, i, got[i], want[i])
							}
						}
					}
				})
			}
		}
	}
}

// TestGemmOffsetBPanics checks that offsets that do not fit b panic with an
// f32gemm message.
func TestGemmOffsetBPanics(t *testing.T) {
	cases := []struct {
		name string
		boff []int
		want string
	}{
		{"too few offsets", []int{0}, "1 row offsets of B for k = 2"},
		{"negative offset", []int{0, -1}, "row 1 of B at offset -1"},
		{"offset past the end", []int{0, 7}, "row 1 of B at offset 7 needs 10 values, b has 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "f32gemm: ") || !strings.Contains(msg, c.want) {
					t.Fatalf("panic %q, want an f32gemm message containing %q", msg, c.want)
				}
			}()
			GemmOffsetB(2, 3, 2, make([]float32, 4), 2, make([]float32, 9), c.boff, 0, make([]float32, 6), 3)
		})
	}
}
