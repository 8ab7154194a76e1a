package quant

import (
	"runtime"
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
)

// Integer matrix products with zero points and int32 accumulation, as ONNX
// MatMulInteger defines them. All matrices are row-major and dense.
//
// Three paths compute the same integers. The VNNI path (gemm_vnni.go)
// runs on processors with AVX-512 VNNI for products of depth k >= 32 and
// one zero point for A: VPDPBUSD multiplies unsigned A' (A + 128) by
// signed B (B' - 128) four bytes at a time, 12×32 register tiles (4×64
// for at most 4 rows), and the offsets come back exactly through a
// per-column starting value and, for asymmetric weights, the row sums of
// A'. Otherwise the pair path (gemm_pair.go) runs where its
// micro-kernels are in assembly (amd64 with AVX2, see gemm_amd64.s): zero
// points are subtracted while packing, so every operand is an int16 (in [-255, 255] for zero points within the type's
// range), B is packed in panels of 16 columns holding k in pairs, and a
// 6×16 register tile multiplies pairs with VPMADDWD (exact, unlike the
// saturating VPMADDUBSW) into int32. It needs no correction terms. Zero
// points for which a difference leaves int16 (shifted to unsigned as
// below, outside [-32512, 32767]), machines without AVX2 and builds with
// the noasm tag use the lane path below, which is pure Go and the oracle
// of the tests. The package variables useVNNI and usePairs select the
// path; GEMMKernel names it.
//
// How the lane path goes fast without SIMD:
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
// B can be packed once (PackB, PackBT) and reused by GemmIntPacked, as a
// quantized layer does with its constant weights; GemmInt and GemmIntNT
// pack on every call.
//
// Results are exact whenever the true value fits in int32 (intermediate
// sums wrap modulo 2³² and the corrections undo it), which holds for any
// realistic k: |Σ| <= k·2¹⁶. Both paths compute modulo 2³², so they agree
// bit for bit even beyond.
//
// Lengths that do not match the dimensions are programming errors: the
// kernels panic with an error wrapping ErrShape.

// GemmInt computes c (m×n) = (a - aZero)(b - bZero) for a m×k and b k×n.
// aZero holds one zero point, or one per row of a (len m); bZero one, or
// one per column of b (len n, per output channel). c is overwritten.
func GemmInt[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, c []int32) {
	checkGemm("gemm", m, n, k, len(a), len(aZero), len(b), len(bZero), len(c))
	GemmIntPacked(m, a, aZero, PackB(n, k, b, bZero), c)
}

// GemmIntNT computes c (m×n) = (a - aZero)(b - bZero)ᵀ for a m×k and b
// n×k: the layout of Linear weights, [out, in], so that row j of b is
// output channel j. Zero points are as in GemmInt. c is overwritten.
func GemmIntNT[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, c []int32) {
	checkGemm("gemm NT", m, n, k, len(a), len(aZero), len(b), len(bZero), len(c))
	GemmIntPacked(m, a, aZero, PackBT(n, k, b, bZero), c)
}

// GemmIntPacked computes c (m×n) = (a - aZero)(B - bZero) for a m×k and a
// B packed once by PackB or PackBT: what a quantized layer uses, since its
// weights do not change between calls. aZero holds one zero point or m.
// Products of more than parallelWork multiply-adds are split by rows over
// GOMAXPROCS goroutines.
func GemmIntPacked[A int8 | uint8](m int, a []A, aZero []int32, b *PackedB, c []int32) {
	GemmIntPackedWorkers(m, a, aZero, b, c, runtime.GOMAXPROCS(0))
}

// GemmIntPackedWorkers is GemmIntPacked on at most workers goroutines:
// with workers <= 1 it runs on the calling goroutine only, which is what a
// caller that already splits its work (a batch over goroutines) wants.
// The result does not depend on workers. In steady state it allocates
// nothing: its working copies of A are recycled between calls.
func GemmIntPackedWorkers[A int8 | uint8](m int, a []A, aZero []int32, b *PackedB, c []int32, workers int) {
	n, k := b.n, b.k
	checkGemm("gemm packed", m, n, k, len(a), len(aZero), k*n, len(b.zb), len(c))
	if k == 0 || m == 0 || n == 0 {
		clear(c)
		return
	}
	if m*n*k < parallelWork {
		workers = 1
	}
	if useVNNI && k >= vnniMinK && vnniZerosFit(aZero, offset[A]()) {
		if vp := b.vnniLayout(); vp != nil {
			gemmVNNI(m, a, aZero, vp, c, workers)
			return
		}
	}
	if usePairs && pairZerosFit(aZero, offset[A]()) {
		if pp := b.pairLayout(); pp != nil {
			gemmPairs(m, a, aZero, pp, c, workers)
			return
		}
	}
	gemmLanes(m, a, aZero, b.laneLayout(), c, workers)
}

// laneBuffers recycles the packed copies of A of the lane path.
var laneBuffers sync.Pool // of *laneBuffer

// laneBuffer is the per-call working memory of the lane path.
type laneBuffer struct {
	a2         []uint8
	rowSum, za []int32
}

// gemmLanes computes c = (a - aZero)(B - zb) on the lane path.
func gemmLanes[A int8 | uint8](m int, a []A, aZero []int32, lp *lanePack, c []int32, workers int) {
	buf, _ := laneBuffers.Get().(*laneBuffer)
	if buf == nil {
		buf = new(laneBuffer)
	}
	g := gemmOperands{lanePack: lp, m: m, c: c}
	packA(&g, buf, a, aZero)
	pairs := (m + 1) / 2
	if workers = min(workers, pairs); workers < 2 {
		g.rows(0, pairs)
	} else {
		gp := new(gemmOperands)
		*gp = g
		workpool.For(workers, workers, func(_, w int) { gp.rows(pairs*w/workers, pairs*(w+1)/workers) })
	}
	laneBuffers.Put(buf)
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

// PackedB is the right-hand operand of an integer product (k×n, n output
// channels), packed once for GemmIntPacked. It keeps the operand shifted
// to unsigned (one byte per element, column by column) and the per-column
// zero points, and builds from them the layout of whichever kernel runs:
// three columns to a 64-bit word for the pure-Go path (8·k·ceil(n/3)
// bytes), or zero-point-free int16 pairs in panels of 16 columns for the
// assembly path (2·16·ceil(k/2)·ceil(n/16) bytes). PackB and PackBT build
// the layout of the selected kernel; the other one is built on first use.
// A PackedB is immutable and safe for concurrent use.
type PackedB struct {
	n, k int
	bt   []uint8 // B' = B shifted to [0, 255], n×k: row j is column j of B
	zb   []int32 // shifted zero point per column

	lanesOnce sync.Once
	lanes     *lanePack
	pairsOnce sync.Once
	pairs     *pairPack // nil when a zero point leaves int16
	vnniOnce  sync.Once
	vnni      *vnniPack
}

// Dims returns n (columns, output channels) and k (the reduced dimension).
func (b *PackedB) Dims() (n, k int) { return b.n, b.k }

// newPackedB allocates the packing of an n-column, depth-k operand.
func newPackedB(n, k int, bZero []int32, off int32) *PackedB {
	if n < 0 || k < 0 {
		shapePanic("pack: negative dimension n=%d k=%d", n, k)
	}
	if len(bZero) != 1 && len(bZero) != n {
		shapePanic("pack: %d zero points, want 1 or n = %d", len(bZero), n)
	}
	pb := &PackedB{n: n, k: k, bt: make([]uint8, n*k), zb: make([]int32, n)}
	for j := range n {
		pb.zb[j] = bZero[min(j, len(bZero)-1)] + off
	}
	return pb
}

// laneLayout returns the packing of the pure-Go kernels, building it on
// first use.
func (b *PackedB) laneLayout() *lanePack {
	b.lanesOnce.Do(func() { b.lanes = newLanePack(b) })
	return b.lanes
}

// pairLayout returns the packing of the pair kernels, building it on first
// use; nil when a zero point does not allow it.
func (b *PackedB) pairLayout() *pairPack {
	b.pairsOnce.Do(func() { b.pairs = newPairPack(b) })
	return b.pairs
}

// prepare builds the layout the selected kernel will use, so that the
// first product does not pay for it.
func (b *PackedB) prepare() *PackedB {
	if useVNNI {
		b.vnniLayout()
	}
	if usePairs && b.pairLayout() != nil {
		return b
	}
	b.laneLayout()
	return b
}

// PackB packs b, k×n row-major (as GemmInt takes it), with zero points
// bZero (one, or one per column).
func PackB[B int8 | uint8](n, k int, b []B, bZero []int32) *PackedB {
	if len(b) != k*n {
		shapePanic("pack: b has %d elements, want k·n = %d·%d", len(b), k, n)
	}
	off := offset[B]()
	pb := newPackedB(n, k, bZero, off)
	flip := uint8(off) // v ^ 0x80 is v+128 for int8
	for p := range k {
		for j, v := range b[p*n : p*n+n] {
			pb.bt[j*k+p] = uint8(v) ^ flip
		}
	}
	return pb.prepare()
}

// PackBT packs b, n×k row-major (as GemmIntNT takes it: Linear weights
// [out, in]), with zero points bZero (one, or one per row of b).
func PackBT[B int8 | uint8](n, k int, b []B, bZero []int32) *PackedB {
	if len(b) != k*n {
		shapePanic("pack: b has %d elements, want n·k = %d·%d", len(b), n, k)
	}
	off := offset[B]()
	pb := newPackedB(n, k, bZero, off)
	flip := uint8(off)
	bt := pb.bt[:len(b)]
	for i, v := range b {
		bt[i] = uint8(v) ^ flip
	}
	return pb.prepare()
}

// lanePack is the layout of the pure-Go kernels: three columns to a 64-bit
// word in 21-bit lanes, with column sums and zero points.
type lanePack struct {
	n, k int
	// words holds the column sextets, for each p the word of columns
	// 6s..6s+2 then the word of 6s+3..6s+5, then, when 1 to 3 columns are
	// left over, one word per p for them. 4 or 5 left-over columns make a
	// last, partly filled sextet. Missing columns are zero lanes.
	words   []uint64
	sextets int
	lone    bool
	colSum  []int32 // Σ_p B'[p, j] of the shifted values
	zb      []int32 // shifted zero point per column
}

// newLanePack packs the shifted operand of b into lanes.
func newLanePack(b *PackedB) *lanePack {
	n, k := b.n, b.k
	lp := &lanePack{n: n, k: k, sextets: n / 6, colSum: make([]int32, n), zb: b.zb}
	rest := n - 6*lp.sextets
	if rest > 3 {
		lp.sextets++
		rest = 0
	}
	lp.lone = rest > 0
	words := 2 * lp.sextets * k
	if lp.lone {
		words += k
	}
	lp.words = make([]uint64, words)
	if k == 0 {
		return lp // nothing to pack: every product is empty
	}
	for j := range n {
		base, stride, shift := lp.column(j)
		w := lp.words[base:]
		var sum int32
		for p, u := range b.bt[j*k : j*k+k] {
			w[p*stride] |= uint64(u) << shift
			sum += int32(u)
		}
		lp.colSum[j] = sum
	}
	return lp
}

// column returns where column j's lanes live: the word of p is
// words[base + p·stride], at bit shift.
func (b *lanePack) column(j int) (base, stride int, shift uint) {
	shift = uint(laneBits * (j % 3))
	if s := j / 6; s < b.sextets {
		return s*2*b.k + (j%6)/3, 2, shift
	}
	return 2 * b.sextets * b.k, 1, shift
}

// gemmOperands is what the row kernels share.
type gemmOperands struct {
	*lanePack
	m      int
	a2     []uint8 // row pairs of A, interleaved: a2[q·2k + 2p + r] = A'[2q+r, p]
	za     []int32 // shifted zero point per row
	rowSum []int32 // Σ_p A'[i, p]
	c      []int32
}

// packA shifts A to unsigned, interleaves its rows in pairs (a zero row
// pads an odd m) and records row sums and per-row zero points, in the
// memory of buf.
func packA[A int8 | uint8](g *gemmOperands, buf *laneBuffer, a []A, aZero []int32) {
	m, k := g.m, g.k
	off := offset[A]()
	flip := uint8(off)
	pairs := (m + 1) / 2
	buf.a2 = grow(buf.a2, pairs*2*k)
	buf.rowSum = grow(buf.rowSum, m)
	buf.za = grow(buf.za, m)
	g.a2, g.rowSum, g.za = buf.a2, buf.rowSum, buf.za
	if m%2 == 1 {
		clear(g.a2[(pairs-1)*2*k:])
	}
	for i := range m {
		dst := g.a2[(i/2)*2*k+i%2:]
		dst = dst[:2*k-1]
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

// grow returns s resliced to n elements, reallocated when its capacity is
// short; the contents are not kept.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
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
				dot2x6(a2, g.words[s*2*k:(s+1)*2*k], &acc)
				g.store(2*q, 6*s, &acc)
			}
		}
	}
	if g.lone {
		tail := g.words[2*g.sextets*k:]
		for q := q0; q < q1; q++ {
			var acc3 [6]int32
			dot2x3(g.a2[q*2*k:(q+1)*2*k], tail, &acc3)
			acc = [12]int32{}
			copy(acc[0:3], acc3[0:3])
			copy(acc[6:9], acc3[3:6])
			g.store(2*q, 6*g.sextets, &acc)
		}
	}
}

// store writes the raw products of rows i, i+1 and columns j..j+5 (acc
// holds row i's six, then row i+1's), skipping padding rows and columns
// and applying the zero-point corrections:
// c = acc - zb·(rowSum - k·za) - za·colSum.
func (g *gemmOperands) store(i, j int, acc *[12]int32) {
	width := min(6, g.n-j)
	colSum := g.colSum[j : j+width]
	zb := g.zb[j : j+width]
	for r := range min(2, g.m-i) {
		row := i + r
		za := g.za[row]
		rsk := g.rowSum[row] - int32(g.k)*za
		out := g.c[row*g.n+j : row*g.n+j+width]
		tile := acc[6*r : 6*r+6]
		for l := range out {
			out[l] = tile[l] - zb[l]*rsk - za*colSum[l]
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
