package quant

import (
	"runtime"
	"sync"
)

// Integer matrix products with zero points and int32 accumulation, as ONNX
// MatMulInteger defines them. All matrices are row-major and dense.
//
// The kernels are pure Go and are the reference for any faster twin. How
// they go fast without SIMD:
//
//   - Operands are moved to the unsigned domain (int8 v becomes v+128, its
//     zero point too), so every product is in [0, 65025] < 2²¹.
//   - Three columns of B share one uint64, in 21-bit lanes: b_j + b_j+1·2²¹
//     + b_j+2·2⁴². One 64-bit multiply-add by a_ip accumulates all three
//     columns; 32 steps cannot carry out of a lane (32·65025 < 2²¹), so the
//     lanes are flushed into int32 accumulators every 32 steps.
//   - A register tile of 2 rows × 6 columns (4 multiplies per step for 12
//     products), with the row pair and the column sextet interleaved in
//     memory so the inner loop walks two slices.
//   - Zero points, and the +128 shift, are applied once per output through
//     row and column sums:
//     Σ_p (a_ip - za_i)(b_pj - zb_j) = Σ a·b - zb_j·Σ_p a_ip - za_i·Σ_p b_pj + k·za_i·zb_j.
//   - Packed B is walked in panels that stay in cache while every row pair
//     streams past, and large products are split by rows over GOMAXPROCS
//     goroutines.
//
// Results are exact whenever the true value fits in int32 (intermediate
// sums wrap modulo 2³² and the corrections undo it), which holds for any
// realistic k: |Σ| <= k·2¹⁶.
//
// Lengths that do not match the dimensions are programming errors: the
// kernels panic with an error wrapping ErrShape.

// GemmInt computes c (m×n) = (a - aZero)(b - bZero) for a m×k and b k×n.
// aZero holds one zero point, or one per row of a (len m); bZero one, or
// one per column of b (len n, per output channel). c is overwritten.
func GemmInt[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, c []int32) {
	checkGemm("gemm", m, n, k, len(a), len(aZero), len(b), len(bZero), len(c))
	gemm(m, n, k, a, aZero, bZero, c, func(j, p int) B { return b[p*n+j] })
}

// GemmIntNT computes c (m×n) = (a - aZero)(b - bZero)ᵀ for a m×k and b
// n×k: the layout of Linear weights, [out, in], so that row j of b is
// output channel j. Zero points are as in GemmInt. c is overwritten.
func GemmIntNT[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, c []int32) {
	checkGemm("gemm NT", m, n, k, len(a), len(aZero), len(b), len(bZero), len(c))
	gemm(m, n, k, a, aZero, bZero, c, func(j, p int) B { return b[j*k+p] })
}

func checkGemm(op string, m, n, k, la, laz, lb, lbz, lc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		shapePanic("%s: negative dimension m=%d n=%d k=%d", op, m, n, k)
	case la != m*k:
		shapePanic("%s: a has %d elements, want m·k = %d·%d", op, la, m, k)
	case lb != k*n:
		shapePanic("%s: b has %d elements, want k·n = %d·%d", op, lb, k, n)
	case lc != m*n:
		shapePanic("%s: c has %d elements, want m·n = %d·%d", op, lc, m, n)
	case laz != 1 && laz != m:
		shapePanic("%s: %d zero points for a, want 1 or m = %d", op, laz, m)
	case lbz != 1 && lbz != n:
		shapePanic("%s: %d zero points for b, want 1 or n = %d", op, lbz, n)
	}
}

const (
	laneBits = 21
	laneMask = 1<<laneBits - 1
	// flushSteps is how many products of at most 255·255 a 21-bit lane
	// holds without carrying: 32·65025 < 2²¹.
	flushSteps = 32
	// panelBytes is the size of the packed-B panel kept hot in cache.
	panelBytes = 96 << 10
	// parallelWork is the number of multiply-adds above which a product is
	// split over goroutines.
	parallelWork = 1 << 21
)

// offset returns 128 for a signed 8-bit type and 0 for an unsigned one: the
// shift that moves its values into [0, 255].
func offset[T int8 | uint8]() int32 {
	var z T
	if z-1 < 0 {
		return 128
	}
	return 0
}

// gemmOperands is everything the row kernels share.
type gemmOperands struct {
	m, n, k int
	a2      []uint8  // row pairs of A, interleaved: a2[q·2k + 2p + r] = A'[2q+r, p]
	b       []uint64 // column sextets, interleaved pairs of triples, then a lone triple
	sextets int      // number of 6-column groups in b
	lone    bool     // whether a last group of 1..3 columns follows the sextets
	za, zb  []int32  // shifted zero points per row / per column
	rowSum  []int32  // Σ_p A'[i, p]
	colSum  []int32  // Σ_p B'[p, j]
	c       []int32
}

func gemm[A, B int8 | uint8](m, n, k int, a []A, aZero, bZero []int32, c []int32, bAt func(j, p int) B) {
	if k == 0 || m == 0 || n == 0 {
		clear(c)
		return
	}
	g := &gemmOperands{m: m, n: n, k: k, c: c}
	packA(g, a, aZero)
	packB(g, bZero, bAt)
	workers := runtime.GOMAXPROCS(0)
	pairs := (m + 1) / 2
	if m*n*k < parallelWork || workers < 2 || pairs < 2 {
		g.rows(0, pairs)
		return
	}
	workers = min(workers, pairs)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := pairs*w/workers, pairs*(w+1)/workers
		wg.Go(func() { g.rows(lo, hi) })
	}
	wg.Wait()
}

// packA shifts A to unsigned, interleaves its rows in pairs (a zero row
// pads an odd m) and records row sums and per-row zero points.
func packA[A int8 | uint8](g *gemmOperands, a []A, aZero []int32) {
	m, k := g.m, g.k
	off := offset[A]()
	flip := uint8(off) // 0x80 or 0: x + 128 mod 256 for int8
	pairs := (m + 1) / 2
	g.a2 = make([]uint8, pairs*2*k)
	g.rowSum = make([]int32, m)
	g.za = make([]int32, m)
	for i := range m {
		dst := g.a2[(i/2)*2*k+i%2:]
		var s int32
		for p, v := range a[i*k : i*k+k] {
			u := uint8(v) ^ flip
			dst[2*p] = u
			s += int32(u)
		}
		g.rowSum[i] = s
		g.za[i] = aZero[min(i, len(aZero)-1)] + off
	}
}

// packB shifts B to unsigned and packs its columns three to a word:
// column sextets first (for each p, the word of columns 6s..6s+2 then the
// word of 6s+3..6s+5), then, when 1 to 3 columns are left over, one word
// per p for them. 4 or 5 left-over columns make a last, partly filled
// sextet. Missing columns are zero lanes. It records column sums and
// per-column zero points.
func packB[B int8 | uint8](g *gemmOperands, bZero []int32, at func(j, p int) B) {
	n, k := g.n, g.k
	off := offset[B]()
	flip := uint8(off)
	g.sextets = n / 6
	rest := n - 6*g.sextets
	if rest > 3 {
		g.sextets++ // a partly filled sextet
		rest = 0
	}
	g.lone = rest > 0
	words := 2 * g.sextets * k
	if g.lone {
		words += k
	}
	g.b = make([]uint64, words)
	g.colSum = make([]int32, n)
	g.zb = make([]int32, n)
	for j := range n {
		var word []uint64
		var stride int
		s := j / 6
		if s < g.sextets {
			word = g.b[s*2*k+(j%6)/3:]
			stride = 2
		} else {
			word = g.b[2*g.sextets*k:]
			stride = 1
		}
		shift := uint(laneBits * (j % 3))
		var sum int32
		for p := range k {
			u := uint8(at(j, p)) ^ flip
			word[p*stride] |= uint64(u) << shift
			sum += int32(u)
		}
		g.colSum[j] = sum
		g.zb[j] = bZero[min(j, len(bZero)-1)] + off
	}
}

// rows computes the row pairs [q0, q1) of c.
func (g *gemmOperands) rows(q0, q1 int) {
	k := g.k
	panel := max(1, panelBytes/(16*k)) // sextets per panel
	var acc [12]int32
	for s0 := 0; s0 < g.sextets; s0 += panel {
		s1 := min(s0+panel, g.sextets)
		for q := q0; q < q1; q++ {
			a2 := g.a2[q*2*k : (q+1)*2*k]
			for s := s0; s < s1; s++ {
				acc = [12]int32{}
				dot2x6(a2, g.b[s*2*k:(s+1)*2*k], &acc)
				g.store(2*q, 6*s, acc[:])
			}
		}
	}
	if g.lone {
		tail := g.b[2*g.sextets*k:]
		for q := q0; q < q1; q++ {
			var acc3 [6]int32
			dot2x3(g.a2[q*2*k:(q+1)*2*k], tail, &acc3)
			g.store(2*q, 6*g.sextets, []int32{acc3[0], acc3[1], acc3[2], 0, 0, 0, acc3[3], acc3[4], acc3[5], 0, 0, 0})
		}
	}
}

// store writes the raw products of rows i, i+1 and columns j..j+5 (acc
// holds row i's six, then row i+1's), skipping padding and applying the
// zero-point corrections.
func (g *gemmOperands) store(i, j int, acc []int32) {
	kk := int32(g.k)
	for r := range 2 {
		row := i + r
		if row >= g.m {
			return
		}
		za, rs := g.za[row], g.rowSum[row]
		out := g.c[row*g.n : (row+1)*g.n]
		for l := range 6 {
			col := j + l
			if col >= g.n {
				break
			}
			zb := g.zb[col]
			out[col] = acc[6*r+l] - zb*rs - za*g.colSum[col] + kk*za*zb
		}
	}
}

// unpack3 adds the three 21-bit lanes of s to acc[0:3].
func unpack3(s uint64, acc []int32) {
	acc[0] += int32(s & laneMask)
	acc[1] += int32(s >> laneBits & laneMask)
	acc[2] += int32(s >> (2 * laneBits))
}

// dot2x6 adds to acc the 12 dot products of a row pair (a2, interleaved,
// 2k bytes) with a column sextet (b2, interleaved pairs of lane words, 2k
// words): acc[0:6] for the first row, acc[6:12] for the second.
func dot2x6(a2 []uint8, b2 []uint64, acc *[12]int32) {
	for p0 := 0; p0 < len(b2); p0 += 2 * flushSteps {
		p1 := min(p0+2*flushSteps, len(b2))
		bb := b2[p0:p1]
		aa := a2[p0:p1]
		aa = aa[:len(bb)]
		var s00, s01, s10, s11 uint64
		for p := 0; p+1 < len(bb); p += 2 {
			x0, x1 := uint64(aa[p]), uint64(aa[p+1])
			y0, y1 := bb[p], bb[p+1]
			s00 += x0 * y0
			s01 += x0 * y1
			s10 += x1 * y0
			s11 += x1 * y1
		}
		unpack3(s00, acc[0:3])
		unpack3(s01, acc[3:6])
		unpack3(s10, acc[6:9])
		unpack3(s11, acc[9:12])
	}
}

// dot2x3 adds to acc the 6 dot products of a row pair (a2, interleaved)
// with one column triple (b, k lane words): acc[0:3] for the first row,
// acc[3:6] for the second.
func dot2x3(a2 []uint8, b []uint64, acc *[6]int32) {
	for p0 := 0; p0 < len(b); p0 += flushSteps {
		p1 := min(p0+flushSteps, len(b))
		bb := b[p0:p1]
		aa := a2[2*p0 : 2*p1]
		aa = aa[:2*len(bb)]
		var s0, s1 uint64
		for p, y := range bb {
			s0 += uint64(aa[2*p]) * y
			s1 += uint64(aa[2*p+1]) * y
		}
		unpack3(s0, acc[0:3])
		unpack3(s1, acc[3:6])
	}
}
