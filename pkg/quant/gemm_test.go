package quant

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gemmNaive is the textbook definition: per-element zero-point subtraction.
func gemmNaive[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, transB bool) []int32 {
	c := make([]int32, m*n)
	for i := range m {
		za := aZero[0]
		if len(aZero) > 1 {
			za = aZero[i]
		}
		for j := range n {
			zb := bZero[0]
			if len(bZero) > 1 {
				zb = bZero[j]
			}
			var s int32
			for p := range k {
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += (int32(a[i*k+p]) - za) * (int32(bv) - zb)
			}
			c[i*n+j] = s
		}
	}
	return c
}

// randInts fills n values, a quarter of them at the type's extremes.
func randInts[T int8 | uint8](r *rand.Rand, n int) []T {
	v := make([]T, n)
	var zero T
	lo, hi := 0, 255
	if zero-1 < 0 {
		lo, hi = -128, 127
	}
	for i := range v {
		x := lo + r.IntN(256)
		switch r.IntN(8) {
		case 0:
			x = lo
		case 1:
			x = hi
		}
		v[i] = T(x)
	}
	return v
}

func zeroPoints(r *rand.Rand, n int, signed bool) []int32 {
	z := make([]int32, n)
	for i := range z {
		z[i] = int32(r.IntN(256))
		if signed {
			z[i] -= 128
		}
	}
	return z
}

func checkGemmCase[A, B int8 | uint8](t *testing.T, r *rand.Rand, m, n, k int, perRow, perCol bool) {
	var za A
	var zb B
	aSigned, bSigned := za-1 < 0, zb-1 < 0
	a := randInts[A](r, m*k)
	b := randInts[B](r, k*n)
	az := zeroPoints(r, 1, aSigned)
	if perRow {
		az = zeroPoints(r, max(m, 1), aSigned)[:m]
		if m == 1 {
			az = az[:1]
		}
	}
	bz := zeroPoints(r, 1, bSigned)
	if perCol && n > 0 {
		bz = zeroPoints(r, n, bSigned)
	}
	if len(az) == 0 {
		az = []int32{0}
	}
	c := make([]int32, m*n)
	for i := range c {
		c[i] = 12345 // must be overwritten
	}
	GemmInt(m, n, k, a, az, b, bz, c)
	if want := gemmNaive(m, n, k, a, az, b, bz, false); !slices.Equal(c, want) {
		t.Fatalf("GemmInt differs from the naive product")
	}
	bt := make([]B, n*k)
	for p := range k {
		for j := range n {
			bt[j*k+p] = b[p*n+j]
		}
	}
	GemmIntNT(m, n, k, a, az, bt, bz, c)
	want := gemmNaive(m, n, k, a, az, bt, bz, true)
	if !slices.Equal(c, want) {
		t.Fatalf("GemmIntNT differs from the naive product")
	}
	// A packed operand is reusable and safe to share between goroutines.
	pb := PackBT(n, k, bt, bz)
	if pn, pk := pb.Dims(); pn != n || pk != k {
		t.Fatalf("packed dims %d, %d", pn, pk)
	}
	done := make(chan []int32)
	for range 2 {
		go func() {
			c := make([]int32, m*n)
			GemmIntPacked(m, a, az, pb, c)
			done <- c
		}()
	}
	for range 2 {
		if got := <-done; !slices.Equal(got, want) {
			t.Fatalf("GemmIntPacked differs from the naive product")
		}
	}
}

// gemmPath is one way of computing the products: the lane path, the
// pair path or the VNNI path, with the Go twins of its kernels or with
// the assembly ones.
type gemmPath struct {
	name        string
	pairs, vnni bool
	kernels     pairKernels
	vnniKernels vnniKernels
}

// gemmPaths lists the paths this build and CPU can run.
func gemmPaths() []gemmPath {
	paths := []gemmPath{
		{name: "lanes", kernels: goPairKernels, vnniKernels: goVNNIKernels},
		{name: "pairs-go", pairs: true, kernels: goPairKernels, vnniKernels: goVNNIKernels},
		{name: "vnni-go", vnni: true, kernels: goPairKernels, vnniKernels: goVNNIKernels},
	}
	if haveAsmPairKernels {
		paths = append(paths, gemmPath{name: "pairs-asm", pairs: true, kernels: asmPairKernels, vnniKernels: goVNNIKernels})
	}
	if haveAsmVNNI {
		paths = append(paths, gemmPath{name: "vnni-asm", vnni: true, pairs: haveAsmPairKernels, kernels: asmPairKernels, vnniKernels: asmVNNIKernels})
	}
	return paths
}

// use selects the path until the end of the test.
func (p gemmPath) use(t *testing.T) {
	savedPairs, savedKernels := usePairs, pairKernelsInUse
	savedVNNI, savedVNNIKernels, savedMinK := useVNNI, vnniKernelsInUse, vnniMinK
	usePairs, pairKernelsInUse = p.pairs, p.kernels
	useVNNI, vnniKernelsInUse = p.vnni, p.vnniKernels
	if p.vnni {
		vnniMinK = 1 // every depth on the VNNI path
	}
	t.Cleanup(func() {
		usePairs, pairKernelsInUse = savedPairs, savedKernels
		useVNNI, vnniKernelsInUse, vnniMinK = savedVNNI, savedVNNIKernels, savedMinK
	})
}

func TestGemmIntMatchesNaive(t *testing.T) {
	dims := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 7, 5}, {3, 1, 4}, {2, 3, 0}, {5, 5, 5}, {4, 6, 8}, {7, 9, 33},
		{64, 10, 256}, {17, 31, 9}, {130, 129, 131}, // the last one runs in parallel
		// Pair tiles: every m mod 6 and n mod 16, k odd and even, around
		// the vector width of the widening (16).
		{6, 16, 2}, {11, 17, 15}, {12, 32, 16}, {13, 47, 17}, {18, 48, 31}, {23, 63, 32}, {24, 64, 33}, {9, 40, 1},
		// More than one block of panels (k = 2048: 64 KiB a panel).
		{7, 65, 2048},
		// VNNI tiles: m mod 12, n mod 32 and mod 16, k mod 4; 6 panels
		// of k = 2800 (44 KiB each, 4 to a cache block) span two blocks.
		{12, 32, 4}, {25, 48, 7}, {36, 96, 12}, {35, 80, 130}, {12, 96, 2800},
		// At most 4 rows (a batch of one): 4-row kernel over 4-panel
		// blocks, then 2 and 1 panels.
		{1, 100, 40}, {4, 130, 64}, {3, 64, 9}, {2, 16, 33},
	}
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			path.use(t)
			r := rand.New(rand.NewPCG(1, 2))
			for _, d := range dims {
				zps := []struct{ row, col bool }{{false, false}, {true, true}, {false, true}}
				if strings.HasSuffix(path.name, "-go") && d.m*d.n*d.k > 1<<16 {
					continue // the Go twins run the same drivers as the assembly: small cases cover them
				}
				if d.m*d.n*d.k > 1<<19 {
					zps = zps[2:] // large: one setting (one zero point for A, so that VNNI runs) keeps the test fast under -race
				}
				for _, zp := range zps {
					name := fmt.Sprintf("%dx%dx%d/rowzp=%v/colzp=%v", d.m, d.n, d.k, zp.row, zp.col)
					t.Run(name, func(t *testing.T) {
						checkGemmCase[int8, int8](t, r, d.m, d.n, d.k, zp.row, zp.col)
						if d.m*d.n*d.k > 1<<19 {
							return // large: one type pair; the small shapes cover the others
						}
						checkGemmCase[uint8, int8](t, r, d.m, d.n, d.k, zp.row, zp.col)
						checkGemmCase[uint8, uint8](t, r, d.m, d.n, d.k, zp.row, zp.col)
						checkGemmCase[int8, uint8](t, r, d.m, d.n, d.k, zp.row, zp.col)
					})
				}
			}
		})
	}
}

// TestGemmIntPathsAgree compares the paths with each other on random
// shapes, random zero points anywhere in the pair path's range and beyond
// it (where it falls back to the lane path), and with B packed under one
// path and multiplied under another.
func TestGemmIntPathsAgree(t *testing.T) {
	paths := gemmPaths()
	r := rand.New(rand.NewPCG(3, 4))
	zero := func() int32 {
		switch r.IntN(4) {
		case 0:
			return int32(r.IntN(65536) - 32768) // around the int16 limits
		case 1:
			return []int32{-32640, -32641, 32639, 32640, 32767, -32512, 1 << 20}[r.IntN(7)]
		}
		return int32(r.IntN(512) - 256)
	}
	for trial := range 60 {
		m, n, k := 1+r.IntN(40), 1+r.IntN(50), r.IntN(70)
		a := randInts[int8](r, m*k)
		b := randInts[uint8](r, n*k)
		az := []int32{zero()}
		if r.IntN(2) == 0 {
			az = make([]int32, m)
			for i := range az {
				az[i] = zero()
			}
		}
		bz := []int32{zero()}
		if r.IntN(2) == 0 {
			bz = make([]int32, n)
			for j := range bz {
				bz[j] = zero()
			}
		}
		want := gemmNaive(m, n, k, a, az, b, bz, true)
		for _, packPath := range paths {
			var pb *PackedB
			t.Run(packPath.name, func(t *testing.T) {
				packPath.use(t)
				pb = PackBT(n, k, b, bz)
			})
			for _, runPath := range paths {
				name := fmt.Sprintf("trial%d/%dx%dx%d/packed-%s/run-%s", trial, m, n, k, packPath.name, runPath.name)
				t.Run(name, func(t *testing.T) {
					runPath.use(t)
					c := make([]int32, m*n)
					GemmIntPacked(m, a, az, pb, c)
					if !slices.Equal(c, want) {
						t.Fatalf("differs from the naive product (za=%v zb=%v)", az, bz)
					}
				})
			}
		}
	}
}

func TestGemmIntExtremeAccumulators(t *testing.T) {
	// Every product at its maximum magnitude in both lanes: 16384·k for
	// int8, with opposite signs in neighbouring columns.
	const m, n, k = 3, 4, 4000
	a := make([]int8, m*k)
	b := make([]int8, n*k)
	for i := range a {
		a[i] = -128
	}
	for j := range n {
		for p := range k {
			b[j*k+p] = []int8{-128, 127, -128, -128}[j]
		}
	}
	c := make([]int32, m*n)
	GemmIntNT(m, n, k, a, []int32{0}, b, []int32{0}, c)
	want := []int32{128 * 128 * k, -128 * 127 * k, 128 * 128 * k, 128 * 128 * k}
	for i := range m {
		if !slices.Equal(c[i*n:i*n+n], want) {
			t.Fatalf("row %d = %v, want %v", i, c[i*n:i*n+n], want)
		}
	}
}

func TestGemmIntPanicsOnShape(t *testing.T) {
	cases := []struct {
		name string
		f    func()
	}{
		{"short a", func() { GemmInt(2, 2, 2, make([]int8, 3), []int32{0}, make([]int8, 4), []int32{0}, make([]int32, 4)) }},
		{"short c", func() { GemmIntNT(2, 2, 2, make([]int8, 4), []int32{0}, make([]int8, 4), []int32{0}, make([]int32, 3)) }},
		{"bad zero points", func() {
			GemmIntNT(2, 3, 2, make([]int8, 4), []int32{0, 0, 0}, make([]int8, 6), []int32{0}, make([]int32, 6))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				err, ok := recover().(error)
				if !ok || !errors.Is(err, ErrShape) {
					t.Fatalf("recovered %v, want an error wrapping ErrShape", err)
				}
			}()
			c.f()
		})
	}
}

// TestGemmEmptyInner checks k = 0 for every n, whose lanes span sextets and
// a tail: the result is all zeros and nothing panics.
func TestGemmEmptyInner(t *testing.T) {
	for _, n := range []int{1, 3, 4, 6, 7, 13} {
		const m = 3
		c := make([]int32, m*n)
		for i := range c {
			c[i] = 99
		}
		GemmInt(m, n, 0, []int8{}, []int32{1}, []uint8{}, []int32{2}, c)
		for i, v := range c {
			if v != 0 {
				t.Fatalf("n=%d: c[%d] = %d, want 0", n, i, v)
			}
		}
		GemmIntNT(m, n, 0, []uint8{}, []int32{1}, []int8{}, []int32{2}, c)
	}
}
