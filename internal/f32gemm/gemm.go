package f32gemm

import (
	"fmt"
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
)

// microKernel computes one mr×nr tile of C from packed operands.
type microKernel struct {
	name   string
	mr, nr int
	// run sets the tile c (rows ldc apart) to a·b over k steps, added to the
	// tile's current values when load is set and to zero otherwise. Row r
	// of the A strip at step p is a[r·ars + p·aps] (ars = 1, aps = mr in a
	// packed strip; ars = lda, aps = 1 for a row-major A read in place); b
	// holds k rows of nr values, ldb apart (nr in a packed strip).
	run func(k int, a []float32, ars, aps int, b []float32, ldb int, c []float32, ldc int, load bool)
	// runOff is run with row p of B at b[boff[p]:], rows anywhere in b.
	runOff func(k int, a []float32, ars, aps int, b []float32, boff []int, c []float32, ldc int, load bool)
	// peak, where the kernel has one, runs iters times peakMACs
	// register-only multiply-adds with the kernel's instructions.
	peak     func(iters int)
	peakMACs int
}

// active is the micro-kernel Gemm uses; see kernels_*.go.
var active = bestKernel()

// Kernel returns the name of the micro-kernel in use: "avx512", "avx2" or
// "go".
func Kernel() string { return active.name }

// Block sizes: kc values of k per packed block, mc rows of A per block
// (mcStrips strips of mr) and nc columns of B per panel (ncStrips strips of
// nr). A packed A block (mc×kc) stays in L2, a B strip (kc×nr) in L1. They
// are variables only so that tests can shrink them to cover many blocks
// with small products; they do not change any result.
var (
	kc       = 256
	mcStrips = 16
	ncStrips = 16
)

// workspace is the packing memory of one goroutine's Gemm.
type workspace struct {
	a, b, t []float32
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

func (w *workspace) fit(kern *microKernel) {
	if na := mcStrips * kern.mr * kc; len(w.a) < na {
		w.a = make([]float32, na)
	}
	if nb := ncStrips * kern.nr * kc; len(w.b) < nb {
		w.b = make([]float32, nb)
	}
	if nt := kern.mr * kern.nr; len(w.t) < nt {
		w.t = make([]float32, nt)
	}
}

// Gemm sets C = op(A)·op(B) + beta·C on the calling goroutine, where C is
// m×n with rows ldc apart, op(A) is m×k and op(B) is k×n. Without transA, A
// is m×k with rows lda apart; with it A is k×m and op(A) = Aᵀ. B likewise
// (k×n, or n×k with transB). With beta = 0, C is not read.
//
// Gemm panics if a size is negative, a leading dimension is smaller than
// its row or a slice is too short for the sizes given.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	gemm(active, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// GemmParallel is Gemm spread over up to w goroutines (the caller's among
// them), each computing its own columns (or rows) of C. It gives the same
// bits as Gemm for any w; w <= 1, and products below a quarter of a million
// multiply-adds, run on the calling goroutine.
func GemmParallel(w int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	gemmParallel(active, w, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// parallelWork is the number of multiply-adds below which GemmParallel
// stays on one goroutine: starting one costs about a microsecond.
const parallelWork = 1 << 18

func gemmParallel(kern *microKernel, w int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if w <= 1 || m*n*k < parallelWork {
		gemm(kern, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Each part packs the operand it shares with the others again: splitting
	// the columns repeats A (m×k), splitting the rows repeats B (k×n).
	byCols := n >= m && n >= 2*kern.nr || m < 2*kern.mr
	size, unit := m, kern.mr
	if byCols {
		size, unit = n, kern.nr
	}
	units := (size + unit - 1) / unit
	w = min(w, units)
	if w <= 1 {
		gemm(kern, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Part p of w computes units [units·p/w, units·(p+1)/w).
	part := func(p int) {
		lo, hi := units*p/w*unit, min(size, units*(p+1)/w*unit)
		if lo >= hi {
			return
		}
		if byCols {
			bOff := lo
			if transB {
				bOff = lo * ldb
			}
			gemm(kern, transA, transB, m, hi-lo, k, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
			return
		}
		aOff := lo * lda
		if transA {
			aOff = lo
		}
		gemm(kern, transA, transB, hi-lo, n, k, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
	}
	workpool.For(w, w, func(_, p int) { part(p) })
}

// gemm is Gemm with the micro-kernel given and the arguments checked.
func gemm(kern *microKernel, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if prepareC(m, n, k, beta, c, ldc) {
		return
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	ws.fit(kern)
	mr, nr := kern.mr, kern.nr
	mc, nc := mcStrips*mr, ncStrips*nr
	// With few rows, each B strip serves only a few A strips: the kernel
	// then reads a row-major B in place rather than after a copy. Only
	// strips narrower than nr (the right edge) are packed. A row-major A is
	// always read in place (its mr rows stay in L1 while the B strips pass);
	// only a strip of fewer than mr rows (the bottom edge) is packed.
	direct := !transB && m <= directRows*mr
	aInPlace := !transA
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			load := beta != 0 || pc > 0
			if !direct {
				packB(ws.b, transB, b, ldb, pc, kb, jc, nb, nr)
			} else if edge := nb % nr; edge != 0 {
				packB(ws.b, false, b, ldb, pc, kb, jc+nb-edge, edge, nr)
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				if !aInPlace {
					packA(ws.a, transA, a, lda, ic, mb, pc, kb, mr)
				} else if edge := mb % mr; edge != 0 {
					packA(ws.a, false, a, lda, ic+mb-edge, edge, pc, kb, mr)
				}
				for jr := 0; jr < nb; jr += nr {
					nj := min(nr, nb-jr)
					var bs []float32
					bstride := nr
					switch {
					case !direct:
						bs = ws.b[jr*kb : (jr+nr)*kb]
					case nj < nr:
						bs = ws.b[:nr*kb]
					default:
						off := pc*ldb + jc + jr
						bs, bstride = b[off:off+(kb-1)*ldb+nr], ldb
					}
					for ir := 0; ir < mb; ir += mr {
						mi := min(mr, mb-ir)
						as, ars, aps := ws.a[ir*kb:(ir+mr)*kb], 1, mr
						switch {
						case !aInPlace:
						case mi < mr:
							as = ws.a[:mr*kb]
						default:
							off := (ic+ir)*lda + pc
							as, ars, aps = a[off:off+(mr-1)*lda+kb], lda, 1
						}
						ci := (ic+ir)*ldc + jc + jr
						if mi == mr && nj == nr {
							kern.run(kb, as, ars, aps, bs, bstride, c[ci:ci+(mr-1)*ldc+nr], ldc, load)
							continue
						}
						edgeTile(kern, ws.t, kb, as, ars, aps, bs, bstride, c[ci:], ldc, mi, nj, load)
					}
				}
			}
		}
	}
}

// directRows is the most A strips (of mr rows) for which gemm reads a
// row-major B in place instead of packing it.
const directRows = 8

// prepareC applies beta to C before the products: it zeroes C when beta
// is 0 and k is 0, scales it by any beta other than 0 and 1, and reports
// whether the product is already done (k = 0).
func prepareC(m, n, k int, beta float32, c []float32, ldc int) bool {
	switch {
	case beta == 0 && k == 0:
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
	case beta != 0 && beta != 1:
		for i := range m {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	return k == 0
}

// runParts runs the parts of a split product on the worker pool.
func runParts(parts []func()) {
	workpool.For(len(parts), len(parts), func(_, i int) { parts[i]() })
}

// edgeTile runs the micro-kernel on an mi×nj corner of a full tile through
// the scratch tile t: the padded rows and columns of the packed strips are
// zero and their results are dropped.
func edgeTile(kern *microKernel, t []float32, kb int, as []float32, ars, aps int, bs []float32, ldb int, c []float32, ldc, mi, nj int, load bool) {
	nr := kern.nr
	if load {
		for r := range mi {
			copy(t[r*nr:r*nr+nj], c[r*ldc:r*ldc+nj])
		}
	}
	kern.run(kb, as, ars, aps, bs, ldb, t, nr, load)
	for r := range mi {
		copy(c[r*ldc:r*ldc+nj], t[r*nr:r*nr+nj])
	}
}

// packA copies rows [i0, i0+mb) and columns [p0, p0+kb) of op(A) into dst
// as strips of mr rows: strip s holds, for each p, the mr values of rows
// i0+s·mr ... of column p0+p, zero past row i0+mb.
func packA(dst []float32, trans bool, a []float32, lda, i0, mb, p0, kb, mr int) {
	for s := 0; s < mb; s += mr {
		strip := dst[s*kb : (s+mr)*kb]
		rows := min(mr, mb-s)
		if trans {
			// A is k×m: the values of one p are contiguous.
			for p := range kb {
				src := a[(p0+p)*lda+i0+s:]
				d := strip[p*mr : p*mr+mr]
				copy(d, src[:rows])
				clear(d[rows:])
			}
			continue
		}
		if rows == 8 && mr == 8 {
			// Eight rows at a time: each step writes 8 adjacent values.
			base := (i0+s)*lda + p0
			s0, s1 := a[base:base+kb], a[base+lda:base+lda+kb]
			s2, s3 := a[base+2*lda:base+2*lda+kb], a[base+3*lda:base+3*lda+kb]
			s4, s5 := a[base+4*lda:base+4*lda+kb], a[base+5*lda:base+5*lda+kb]
			s6, s7 := a[base+6*lda:base+6*lda+kb], a[base+7*lda:base+7*lda+kb]
			for p := range kb {
				d := strip[p*8 : p*8+8 : p*8+8]
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
			}
			continue
		}
		for r := range rows {
			src := a[(i0+s+r)*lda+p0:]
			src = src[:kb]
			for p, v := range src {
				strip[p*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for p := range kb {
				strip[p*mr+r] = 0
			}
		}
	}
}

// packB copies rows [p0, p0+kb) and columns [j0, j0+nb) of op(B) into dst
// as strips of nr columns: strip s holds, for each p, the nr values of row
// p0+p in columns j0+s·nr ..., zero past column j0+nb.
func packB(dst []float32, trans bool, b []float32, ldb, p0, kb, j0, nb, nr int) {
	for s := 0; s < nb; s += nr {
		strip := dst[s*kb : (s+nr)*kb]
		cols := min(nr, nb-s)
		if !trans {
			for p := range kb {
				src := b[(p0+p)*ldb+j0+s:]
				d := strip[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// B is n×k: column j of op(B) is row j of B. Eight rows at a time,
		// so that each step writes 8 adjacent values of the strip.
		j := 0
		for ; j+8 <= cols; j += 8 {
			base := (j0+s+j)*ldb + p0
			s0, s1 := b[base:base+kb], b[base+ldb:base+ldb+kb]
			s2, s3 := b[base+2*ldb:base+2*ldb+kb], b[base+3*ldb:base+3*ldb+kb]
			s4, s5 := b[base+4*ldb:base+4*ldb+kb], b[base+5*ldb:base+5*ldb+kb]
			s6, s7 := b[base+6*ldb:base+6*ldb+kb], b[base+7*ldb:base+7*ldb+kb]
			for p := range kb {
				d := strip[p*nr+j : p*nr+j+8 : p*nr+j+8]
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
			}
		}
		for ; j < cols; j++ {
			src := b[(j0+s+j)*ldb+p0:]
			src = src[:kb]
			for p, v := range src {
				strip[p*nr+j] = v
			}
		}
		// Zero past the last column, one contiguous run per row of the
		// strip (a column at a time, nr values apart, cost a Linear with
		// 10 outputs more than its copy).
		if cols < nr {
			for p := range kb {
				clear(strip[p*nr+cols : (p+1)*nr])
			}
		}
	}
}

// check panics unless the sizes, leading dimensions and slice lengths fit.
func check(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("f32gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	checkOperand("A", transA, m, k, a, lda)
	checkOperand("B", transB, k, n, b, ldb)
	checkOperand("C", false, m, n, c, ldc)
}

// checkOperand panics unless op(x), rows×cols with leading dimension ld,
// fits in x.
func checkOperand(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("f32gemm: %s is %d×%d with leading dimension %d < %d", name, rows, cols, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("f32gemm: %s is %d×%d with leading dimension %d, needs %d values, has %d",
			name, rows, cols, ld, (rows-1)*ld+cols, len(x)))
	}
}
