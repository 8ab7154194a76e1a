package f32gemm

import "fmt"

// GemmOffsetB sets C = A·B' + beta·C on the calling goroutine, for C m×n
// (rows ldc apart), A m×k row-major (rows lda apart) and B' the k×n matrix
// whose row p is b[boff[p] : boff[p]+n]: rows anywhere in b, in any order,
// possibly overlapping. A convolution with stride 1 reads its im2col
// matrix this way straight from the zero-padded image (row (c, ky, kx)
// starts at c·Hp·Wp + ky·Wp + kx and spans the output rows at the padded
// width), so the matrix is never built. Every element of C is the same
// FMA chain as Gemm's on the materialised B', bit for bit.
//
// GemmOffsetB panics if a size is negative, len(boff) != k, an offset is
// negative or leaves fewer than n values of b, or A or C is too short.
func GemmOffsetB(m, n, k int, a []float32, lda int, b []float32, boff []int, beta float32, c []float32, ldc int) {
	checkOffsets(m, n, k, a, lda, b, boff, c, ldc)
	gemmOffsets(active, m, n, k, a, lda, b, boff, beta, c, ldc)
}

// GemmOffsetBParallel is GemmOffsetB spread over up to w goroutines, each
// computing its own columns of C; the same bits for any w. Products below
// a quarter of a million multiply-adds run on the calling goroutine.
func GemmOffsetBParallel(w int, m, n, k int, a []float32, lda int, b []float32, boff []int, beta float32, c []float32, ldc int) {
	checkOffsets(m, n, k, a, lda, b, boff, c, ldc)
	kern := active
	units := (n + kern.nr - 1) / kern.nr
	w = min(w, units)
	if w <= 1 || m*n*k < parallelWork {
		gemmOffsets(kern, m, n, k, a, lda, b, boff, beta, c, ldc)
		return
	}
	parts := make([]func(), 0, w)
	for p := range w {
		lo, hi := units*p/w*kern.nr, min(n, units*(p+1)/w*kern.nr)
		if lo < hi {
			// Columns lo.. of B' are b[boff[p]+lo:]: the same offsets into b[lo:].
			parts = append(parts, func() { gemmOffsets(kern, m, hi-lo, k, a, lda, b[lo:], boff, beta, c[lo:], ldc) })
		}
	}
	runParts(parts)
}

func gemmOffsets(kern *microKernel, m, n, k int, a []float32, lda int, b []float32, boff []int, beta float32, c []float32, ldc int) {
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
	mc := mcStrips * mr
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		offs := boff[pc : pc+kb]
		load := beta != 0 || pc > 0
		// The right-edge strip, narrower than nr, is packed (zero padded).
		edge := n % nr
		if edge != 0 {
			j0 := n - edge
			for p, off := range offs {
				d := ws.b[p*nr : p*nr+nr]
				copy(d, b[off+j0:off+n])
				clear(d[edge:])
			}
		}
		for ic := 0; ic < m; ic += mc {
			mb := min(mc, m-ic)
			if e := mb % mr; e != 0 {
				packA(ws.a, false, a, lda, ic+mb-e, e, pc, kb, mr)
			}
			for jr := 0; jr < n; jr += nr {
				nj := min(nr, n-jr)
				for ir := 0; ir < mb; ir += mr {
					mi := min(mr, mb-ir)
					as, ars, aps := ws.a[:mr*kb], 1, mr
					if mi == mr {
						off := (ic+ir)*lda + pc
						as, ars, aps = a[off:off+(mr-1)*lda+kb], lda, 1
					}
					ci := (ic+ir)*ldc + jr
					switch {
					case nj < nr:
						edgeTile(kern, ws.t, kb, as, ars, aps, ws.b[:nr*kb], nr, c[ci:], ldc, mi, nj, load)
					case mi < mr:
						t := ws.t
						if load {
							for r := range mi {
								copy(t[r*nr:r*nr+nr], c[ci+r*ldc:ci+r*ldc+nr])
							}
						}
						kern.runOff(kb, as, ars, aps, b[jr:], offs, t, nr, load)
						for r := range mi {
							copy(c[ci+r*ldc:ci+r*ldc+nr], t[r*nr:r*nr+nr])
						}
					default:
						kern.runOff(kb, as, ars, aps, b[jr:], offs, c[ci:ci+(mr-1)*ldc+nr], ldc, load)
					}
				}
			}
		}
	}
}

// checkOffsets panics unless GemmOffsetB's arguments fit.
func checkOffsets(m, n, k int, a []float32, lda int, b []float32, boff []int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("f32gemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	checkOperand("A", false, m, k, a, lda)
	checkOperand("C", false, m, n, c, ldc)
	if len(boff) != k {
		panic(fmt.Sprintf("f32gemm: %d row offsets of B for k = %d", len(boff), k))
	}
	for p, off := range boff {
		if off < 0 || off+n > len(b) {
			panic(fmt.Sprintf("f32gemm: row %d of B at offset %d needs %d values, b has %d", p, off, off+n, len(b)))
		}
	}
}
