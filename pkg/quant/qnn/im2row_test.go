package qnn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// im2rowRef is the definition im2row is tested against: one code at a
// time, every read bounds-tested, padding reading padv.
func im2rowRef(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, rows []int8) {
	k := c * kh * kw
	for oy := range oh {
		for ox := range ow {
			i := (oy*ow + ox) * k
			for ch := range c {
				for ky := range kh {
					for kx := range kw {
						iy, ix := oy*stride+ky-pad, ox*stride+kx-pad
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							rows[i] = padv
						} else {
							rows[i] = x[(ch*h+iy)*w+ix]
						}
						i++
					}
				}
			}
		}
	}
}

// im2rowCase is one sample shape and convolution geometry.
type im2rowCase struct {
	c, h, w, kh, kw, stride, pad int
}

func (g im2rowCase) String() string {
	return fmt.Sprintf("c%d %dx%d k%dx%d s%d p%d", g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad)
}

// out returns the output height and width, as Conv2D.Forward computes
// them.
func (g im2rowCase) out() (oh, ow int) {
	return (g.h+2*g.pad-g.kh)/g.stride + 1, (g.w+2*g.pad-g.kw)/g.stride + 1
}

// run lays x out with im2row into buffers prefilled with a canary, so
// that a code left unwritten shows.
func (g im2rowCase) run(x []int8, padv int8) []int8 {
	oh, ow := g.out()
	rows := make([]int8, oh*ow*g.c*g.kh*g.kw)
	fill(rows, 0x5a)
	var padded []int8
	if g.pad > 0 {
		padded = make([]int8, g.c*(g.h+2*g.pad)*(g.w+2*g.pad))
		fill(padded, 0x5a)
	}
	im2row(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, padv, rows, padded)
	return rows
}

func TestIm2rowMatchesReference(t *testing.T) {
	// Every combination of padding 0, 1, 2, stride 1, 2, 3 and square
	// kernels 1, 3, 5 on a non-square sample, plus non-square kernels and
	// edge shapes. Codes must match exactly (tolerance 0).
	var cases []im2rowCase
	for _, k := range []int{1, 3, 5} {
		for _, stride := range []int{1, 2, 3} {
			for _, pad := range []int{0, 1, 2} {
				cases = append(cases, im2rowCase{c: 2, h: 7, w: 11, kh: k, kw: k, stride: stride, pad: pad})
			}
		}
	}
	cases = append(cases,
		im2rowCase{c: 3, h: 9, w: 5, kh: 3, kw: 5, stride: 1, pad: 2},  // taller than wide, wide kernel
		im2rowCase{c: 1, h: 6, w: 13, kh: 5, kw: 1, stride: 2, pad: 1}, // tall kernel
		im2rowCase{c: 4, h: 5, w: 5, kh: 5, kw: 5, stride: 1, pad: 0},  // one output position
		im2rowCase{c: 1, h: 1, w: 1, kh: 3, kw: 3, stride: 1, pad: 1},  // all padding but the centre
		im2rowCase{c: 2, h: 4, w: 6, kh: 2, kw: 4, stride: 3, pad: 2},  // even kernel, stride beyond kernel height
		im2rowCase{c: 16, h: 14, w: 14, kh: 3, kw: 3, stride: 1, pad: 1},
	)
	r := rand.New(rand.NewPCG(11, 13))
	for _, g := range cases {
		t.Run(g.String(), func(t *testing.T) {
			oh, ow := g.out()
			if oh < 1 || ow < 1 {
				t.Fatalf("output %dx%d: the case does not fit", oh, ow)
			}
			x := make([]int8, g.c*g.h*g.w)
			for i := range x {
				x[i] = int8(r.IntN(256) - 128)
			}
			padv := int8(r.IntN(256) - 128)
			want := make([]int8, oh*ow*g.c*g.kh*g.kw)
			im2rowRef(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, padv, want)
			if got := g.run(x, padv); !slices.Equal(got, want) {
				i := firstDiff(got, want)
				k := g.c * g.kh * g.kw
				t.Fatalf("code %d (output position %d, window element %d) = %d, want %d (pad value %d)", i, i/k, i%k, got[i], want[i], padv)
			}
		})
	}
}

// firstDiff returns the first index where a and b (of equal length)
// differ, or -1.
func firstDiff(a, b []int8) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

var benchSinkRows []int8

// benchIm2row times im2row, or its one-code-at-a-time reference, on one
// sample of the given geometry.
func benchIm2row(b *testing.B, ref bool, g im2rowCase) {
	r := rand.New(rand.NewPCG(42, 7))
	x := make([]int8, g.c*g.h*g.w)
	for i := range x {
		x[i] = int8(r.IntN(256) - 128)
	}
	oh, ow := g.out()
	rows := make([]int8, oh*ow*g.c*g.kh*g.kw)
	padded := make([]int8, g.c*(g.h+2*g.pad)*(g.w+2*g.pad))
	for b.Loop() {
		if ref {
			im2rowRef(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, 3, rows)
		} else {
			im2row(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, 3, rows, padded)
		}
	}
	benchSinkRows = rows
}

// One sample at the geometry of models.SmallCNN's convolutions (as in
// the Conv2D benchmarks), im2row beside its reference:
//
//	go test -run '^$' -bench 'Im2row' -count 5 ./pkg/quant/qnn
var (
	im2rowConv1 = im2rowCase{c: 1, h: 28, w: 28, kh: 3, kw: 3, stride: 1, pad: 1}
	im2rowConv2 = im2rowCase{c: 16, h: 14, w: 14, kh: 3, kw: 3, stride: 1, pad: 1}
)

func BenchmarkIm2rowSmallCNNConv1(b *testing.B)    { benchIm2row(b, false, im2rowConv1) }
func BenchmarkIm2rowRefSmallCNNConv1(b *testing.B) { benchIm2row(b, true, im2rowConv1) }
func BenchmarkIm2rowSmallCNNConv2(b *testing.B)    { benchIm2row(b, false, im2rowConv2) }
func BenchmarkIm2rowRefSmallCNNConv2(b *testing.B) { benchIm2row(b, true, im2rowConv2) }
