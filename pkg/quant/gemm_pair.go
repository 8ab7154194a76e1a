package quant

import (
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
)

// The pair path of the integer products (see gemm.go for the lane path).
//
// Zero points are subtracted while packing: A and B become int16 matrices
// of (v - z), in [-255, 255] for zero points inside the type's range, and
// c = A16·B16 needs no correction. k is taken in pairs, so that one 32-bit
// lane holds (x[2q], x[2q+1]) and VPMADDWD computes
// x[2q]·y[2q] + x[2q+1]·y[2q+1] per lane, exactly (two products of at most
// 2¹⁵·2¹⁵ wrap modulo 2³² like the Go twin's int32 sum):
//
//   - B (the weights, packed once) is cut into panels of 16 columns; a
//     panel holds, for each pair q, the 16 columns' (B[2q, j], B[2q+1, j])
//     in 64 bytes, two YMM registers.
//   - A (the activations, widened per call) is row-major int16 with k
//     rounded up to even, in tiles of 6 rows (zero rows pad the last).
//   - The micro-kernel keeps a 6×16 tile of c in 12 YMM registers; for
//     each pair it loads the panel's two registers once, broadcasts each
//     row's pair and does 12 VPMADDWD and 12 VPADDD: 192 multiply-adds
//     per 8 loads.
//   - The tiles of a row block run over a block of panels that stays in
//     the L2 cache; partial tiles (the last rows, the last columns) go
//     through a scratch tile.

const (
	pairRows = 6  // rows of A per register tile
	pairCols = 16 // columns of B per panel: two YMM registers of int32
	// pairBlockBytes bounds the packed-B panels a worker keeps hot in
	// cache while the row tiles stream past.
	pairBlockBytes = 256 << 10
	// pairZeroMin and pairZeroMax bound the shifted zero points z for
	// which every v - z, v in [0, 255], is an int16.
	pairZeroMin = 255 - 32767
	pairZeroMax = 32767
)

// pairZerosFit reports whether every zero point in zs, of a type whose
// shift to unsigned is off, allows the pair path.
func pairZerosFit(zs []int32, off int32) bool {
	for _, z := range zs {
		if s := int64(z) + int64(off); s < pairZeroMin || s > pairZeroMax {
			return false
		}
	}
	return true
}

// pairPack is the layout of the pair kernels.
type pairPack struct {
	n, k   int
	pairs  int // ceil(k/2)
	panels int // ceil(n/16)
	// w holds, for panel s, pair q, column j < 16 and half h < 2,
	// w[(s·pairs + q)·32 + 2j + h] = B[2q+h, 16s+j] - zb[16s+j], and 0
	// beyond k or n.
	w []int16
}

// newPairPack packs b for the pair kernels, or returns nil when a zero
// point of b does not allow it.
func newPairPack(b *PackedB) *pairPack {
	if !pairZerosFit(b.zb, 0) {
		return nil
	}
	n, k := b.n, b.k
	pp := &pairPack{n: n, k: k, pairs: (k + 1) / 2, panels: (n + pairCols - 1) / pairCols}
	pp.w = make([]int16, pp.panels*pp.pairs*2*pairCols)
	if k == 0 {
		return pp // nothing to pack: every product is empty
	}
	for j := range n {
		col := pp.w[(j/pairCols)*pp.pairs*2*pairCols+2*(j%pairCols):]
		z := b.zb[j]
		src := b.bt[j*k : j*k+k]
		for q := range k / 2 {
			x := col[q*2*pairCols : q*2*pairCols+2]
			x[0], x[1] = int16(int32(src[2*q])-z), int16(int32(src[2*q+1])-z)
		}
		if k%2 == 1 {
			col[(k/2)*2*pairCols] = int16(int32(src[k-1]) - z)
		}
	}
	return pp
}

// pairKernels are the routines the pair path calls: assembly where the
// CPU runs it, else their Go twins.
type pairKernels struct {
	tile       func(a []int16, lda int, b []int16, pairs, tiles int, c []int32, ldc int)
	widenInt8  func(dst []int16, lda int, src []int8, k, rows int, za []int32)
	widenUint8 func(dst []int16, lda int, src []uint8, k, rows int, za []int32)
}

// goPairKernels are the pure-Go twins of the assembly kernels, the
// reference their tests compare against.
var goPairKernels = pairKernels{tile: tile6x16Go, widenInt8: widenGo[int8], widenUint8: widenGo[uint8]}

var (
	// asmPairKernels are the assembly kernels; haveAsmPairKernels says
	// whether this build and CPU run them.
	asmPairKernels, haveAsmPairKernels = asmKernels()
	// pairKernelsInUse are the kernels the pair path calls.
	pairKernelsInUse = choosePairKernels()
	// usePairs selects the pair path for every product whose zero points
	// allow it. It is set where the kernels are in assembly: their Go twins
	// are slower than the lane path. Tests set it (and pairKernelsInUse)
	// to run either path.
	usePairs = haveAsmPairKernels
)

func choosePairKernels() pairKernels {
	if haveAsmPairKernels {
		return asmPairKernels
	}
	return goPairKernels
}

// tile6x16Go is the Go twin of the tile micro-kernel: for each of tiles
// panels t (b[t·pairs·32:]), it writes the 6×16 products of 6 rows of a
// (row r at a[r·lda:], 2·pairs values) with the panel to
// c[r·ldc + 16t + j].
func tile6x16Go(a []int16, lda int, b []int16, pairs, tiles int, c []int32, ldc int) {
	for t := range tiles {
		for r := range pairRows {
			for j := range pairCols {
				var s int32
				for q := range pairs {
					x := a[r*lda+2*q : r*lda+2*q+2]
					y := b[(t*pairs+q)*2*pairCols+2*j : (t*pairs+q)*2*pairCols+2*j+2]
					s += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1])
				}
				c[r*ldc+pairCols*t+j] = s
			}
		}
	}
}

// widenGo is the Go twin of the widening kernels: rows of k values of src
// become rows of lda int16 of dst, less the row's zero point (za holds
// one, or one per row), padded with zeros.
func widenGo[T int8 | uint8](dst []int16, lda int, src []T, k, rows int, za []int32) {
	for i := range rows {
		z := za[min(i, len(za)-1)]
		row := dst[i*lda : (i+1)*lda]
		for p, v := range src[i*k : (i+1)*k] {
			row[p] = int16(int32(v) - z)
		}
		clear(row[k:])
	}
}

// tile6x16 checks the bounds the micro-kernel relies on and calls it.
func tile6x16(a []int16, lda int, b []int16, pairs, tiles int, c []int32, ldc int) {
	if pairs < 1 || tiles < 1 || lda < 2*pairs || ldc < pairCols*tiles ||
		len(a) < (pairRows-1)*lda+2*pairs || len(b) < tiles*pairs*2*pairCols || len(c) < (pairRows-1)*ldc+pairCols*tiles {
		shapePanic("gemm tile: pairs=%d tiles=%d lda=%d ldc=%d with %d, %d and %d elements", pairs, tiles, lda, ldc, len(a), len(b), len(c))
	}
	pairKernelsInUse.tile(a, lda, b, pairs, tiles, c, ldc)
}

// widenA fills dst (rows·lda values, rows a multiple of pairRows) with the
// m×k matrix a less its zero points, zero-padded to lda columns and rows.
func widenA[A int8 | uint8](dst []int16, lda, m, k int, a []A, za []int32) {
	if k < 1 || lda < k || len(dst) < m*lda || len(a) != m*k || (len(za) != 1 && len(za) != m) {
		shapePanic("gemm widen: m=%d k=%d lda=%d with %d, %d and %d elements", m, k, lda, len(dst), len(a), len(za))
	}
	switch a := any(a).(type) {
	case []int8:
		pairKernelsInUse.widenInt8(dst, lda, a, k, m, za)
	case []uint8:
		pairKernelsInUse.widenUint8(dst, lda, a, k, m, za)
	}
	clear(dst[m*lda:])
}

// pairBuffers recycles the widened copies of A between calls.
var pairBuffers sync.Pool // of *pairBuffer

// pairBuffer is the per-call working memory of the pair path.
type pairBuffer struct {
	a []int16 // widened A, tiles of pairRows rows
	// scratch receives the tiles that do not fit c, one per worker.
	scratch [][pairRows * pairCols]int32
}

// pairOperands is what the row-tile workers share.
type pairOperands struct {
	*pairPack
	m   int
	lda int
	a   []int16 // widened A, tiles of pairRows rows
	c   []int32
}

// gemmPairs computes c = (a - aZero)(B - zb) on the pair path, on at most
// workers goroutines.
func gemmPairs[A int8 | uint8](m int, a []A, aZero []int32, b *pairPack, c []int32, workers int) {
	lda := 2 * b.pairs
	tiles := (m + pairRows - 1) / pairRows
	size := tiles * pairRows * lda
	buf, _ := pairBuffers.Get().(*pairBuffer)
	if buf == nil {
		buf = new(pairBuffer)
	}
	buf.a = grow(buf.a, size)
	g := pairOperands{pairPack: b, m: m, lda: lda, a: buf.a, c: c}
	widenA(g.a, lda, m, b.k, a, aZero)
	workers = max(1, min(workers, tiles))
	buf.scratch = grow(buf.scratch, workers)
	if workers == 1 {
		g.rows(0, tiles, buf.scratch[0][:])
	} else {
		gp, scratch := new(pairOperands), buf.scratch // not buf: capturing it would move it to the heap
		*gp = g
		workpool.For(workers, workers, func(_, w int) { gp.rows(tiles*w/workers, tiles*(w+1)/workers, scratch[w][:]) })
	}
	pairBuffers.Put(buf)
}

// rows computes the row tiles [t0, t1) of c; scratch holds 6×16 values.
func (g *pairOperands) rows(t0, t1 int, scratch []int32) {
	n, pairs := g.n, g.pairs
	panelLen := pairs * 2 * pairCols
	full := n / pairCols // panels whose 16 columns all exist
	block := max(1, pairBlockBytes/(2*panelLen))
	for s0 := 0; s0 < g.panels; s0 += block {
		s1 := min(s0+block, g.panels)
		for t := t0; t < t1; t++ {
			i := t * pairRows
			at := g.a[i*g.lda : (i+pairRows)*g.lda]
			rows := min(pairRows, g.m-i)
			s := s0
			if direct := min(s1, full); rows == pairRows && direct > s0 {
				tile6x16(at, g.lda, g.w[s0*panelLen:direct*panelLen], pairs, direct-s0, g.c[i*n+s0*pairCols:], n)
				s = direct
			}
			for ; s < s1; s++ {
				tile6x16(at, g.lda, g.w[s*panelLen:(s+1)*panelLen], pairs, 1, scratch, pairCols)
				j := s * pairCols
				width := min(pairCols, n-j)
				for r := range rows {
					copy(g.c[(i+r)*n+j:(i+r)*n+j+width], scratch[r*pairCols:])
				}
			}
		}
	}
}
