package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
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

// TestIm2ColMatchesDefinition compares Im2Col with the element-by-element
// definition (x[ci, oy·stride + ky - pad, ox·stride + kx - pad], 0 in the
// padding) for strides 1 to 3, paddings 0 to 2, kernels 1 to 5 and
// non-square inputs and kernels; the values are copies, so the tolerance
// is zero.
func TestIm2ColMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name                     string
		c, h, w, kh, kw, st, pad int
	}{
		{"1x1 kernel", 2, 5, 6, 1, 1, 1, 0},
		{"3x3 pad 1", 3, 7, 7, 3, 3, 1, 1},
		{"3x3 stride 2 pad 1", 2, 8, 9, 3, 3, 2, 1},
		{"5x5 stride 3 pad 2", 1, 11, 10, 5, 5, 3, 2},
		{"2x4 kernel stride 2", 2, 6, 9, 2, 4, 2, 1},
		{"kernel as wide as the input", 1, 4, 3, 3, 3, 1, 0},
		{"pad 2 with a 3x3 kernel", 1, 3, 3, 3, 3, 1, 2},
		{"one-column input, stride 2 pad 1", 2, 5, 1, 3, 3, 2, 1},
		{"one-row input, stride 3 pad 2", 1, 1, 4, 3, 5, 3, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oh, ow := ConvOutputSize(c.h, c.kh, c.st, c.pad), ConvOutputSize(c.w, c.kw, c.st, c.pad)
			x := randTensorIn(rng, -1, 1, c.c*c.h*c.w).Data()
			col := make([]float32, c.c*c.kh*c.kw*oh*ow)
			for i := range col {
				col[i] = float32(math.NaN()) // every element must be written
			}
			Im2Col(x, c.c, c.h, c.w, c.kh, c.kw, c.st, c.pad, col)
			for ci := range c.c {
				for ky := range c.kh {
					for kx := range c.kw {
						r := (ci*c.kh+ky)*c.kw + kx
						for oy := range oh {
							for ox := range ow {
								iy, ix := oy*c.st+ky-c.pad, ox*c.st+kx-c.pad
								var want float32
								if iy >= 0 && iy < c.h && ix >= 0 && ix < c.w {
									want = x[(ci*c.h+iy)*c.w+ix]
								}
								if got := col[r*oh*ow+oy*ow+ox]; got != want {
									t.Fatalf("row %d (ci %d ky %d kx %d), output (%d, %d) = %g, want %g", r, ci, ky, kx, oy, ox, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestConv2DPaddedMatchesIm2Col checks that the stride-1 forward, which
// multiplies straight from the padded image, gives the bits of Im2Col and
// one matrix product per sample plus the bias (tolerance zero), for
// paddings 0 to 2, square and non-square kernels and inputs, one and
// several channels, on 1 and 3 goroutines.
func TestConv2DPaddedMatchesIm2Col(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		name                            string
		n, inC, outC, h, w, kh, kw, pad int
	}{
		{"conv1 of SmallCNN", 3, 1, 16, 28, 28, 3, 3, 1},
		{"conv2 of SmallCNN", 2, 16, 32, 14, 14, 3, 3, 1},
		{"no padding", 2, 3, 5, 9, 7, 3, 3, 0},
		{"5x5 pad 2", 2, 2, 9, 8, 11, 5, 5, 2},
		{"2x4 kernel pad 1", 4, 3, 7, 6, 9, 2, 4, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := &Conv2D{InC: c.inC, OutC: c.outC, KH: c.kh, KW: c.kw, Stride: 1, Pad: c.pad,
				Weight: newParam("weight", c.outC, c.inC, c.kh, c.kw), Bias: newParam("bias", c.outC)}
			copy(l.Weight.Value.Data(), randTensorIn(rng, -1, 1, l.Weight.Value.Len()).Data())
			copy(l.Bias.Value.Data(), randTensorIn(rng, -1, 1, c.outC).Data())
			x := randTensorIn(rng, -1, 1, c.n, c.inC, c.h, c.w)
			oh, ow := ConvOutputSize(c.h, c.kh, 1, c.pad), ConvOutputSize(c.w, c.kw, 1, c.pad)
			k, ohw, chw := c.inC*c.kh*c.kw, oh*ow, c.inC*c.h*c.w
			want := make([]float32, c.n*c.outC*ohw)
			col := make([]float32, k*ohw)
			for i := range c.n {
				Im2Col(x.Data()[i*chw:(i+1)*chw], c.inC, c.h, c.w, c.kh, c.kw, 1, c.pad, col)
				yi := want[i*c.outC*ohw : (i+1)*c.outC*ohw]
				gemmSerial(false, false, c.outC, ohw, k, l.Weight.Value.Data(), k, col, ohw, 0, yi, ohw)
				for o, b := range l.Bias.Value.Data() {
					for j := range ohw {
						yi[o*ohw+j] += b
					}
				}
			}
			for _, procs := range []int{1, 3} {
				func() {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					y, err := l.Forward([]*tensor.Tensor{x}, Eval)
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range y.Data() {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("GOMAXPROCS %d: output %d = %g, want %g (im2col)", procs, i, v, want[i])
						}
					}
				}()
			}
		})
	}
}
