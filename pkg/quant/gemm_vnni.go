package quant

import (
	"encoding/binary"
	"sync"
	"time"
	"unsafe"

	"github.com/ptqspec/ptqspec/internal/workpool"
)

// The VNNI path of the integer products (see gemm.go for the others),
// for processors with AVX-512 VNNI.
//
// VPDPBUSD multiplies 4 unsigned bytes by 4 signed bytes and adds the 4
// products to an int32 lane, without saturation (VPDPBUSDS would
// saturate; the sum wraps modulo 2³² like the other paths). The operands
// are therefore moved so that A is unsigned and B signed:
//
//   - A' = A shifted to [0, 255] (int8 v becomes v+128, its zero point
//     za' too), packed per call in tiles of 12 rows: for each group q of
//     4 consecutive k, the 12 rows' 4 bytes, so that the kernel
//     broadcasts one row's group with one load.
//   - Bs = B' - 128 in [-128, 127], where B' is the operand shifted to
//     [0, 255] as PackedB keeps it, with zero point zbs = zb' - 128 (0
//     for symmetric int8 weights); packed once in panels of 16 columns
//     holding, for each group q, the 16 columns' 4 bytes: one ZMM
//     register.
//   - Σ_p (A' - za')(Bs - zbs) = Σ A'·Bs + za'·(k·zbs_j - Σ_p Bs_pj)
//     - zbs_j·Σ_p A'_ip. The middle term depends on the column only
//     (one zero point for A, which this path requires): it is the
//     starting value of the accumulators. The last one vanishes for
//     symmetric weights; otherwise the row sums of A' are computed while
//     packing and subtracted at the end of the tile.
//   - The micro-kernel keeps a 12×32 tile of c in 24 ZMM registers; for
//     each group it loads two panel registers and, per row, broadcasts
//     the row's group and does two VPDPBUSD: 1536 multiply-adds per 14
//     loads. A last odd panel runs a 12×16 kernel.
//   - Padding (k to a multiple of 4, n to 16 columns) is zero in B, so
//     that it adds nothing whatever A' holds there; rows past m in the
//     last tile are computed into a scratch tile and dropped.

const (
	vnniRows = 12 // rows of A per register tile
	vnniCols = 16 // columns of B per panel: one ZMM register of int32
)

var (
	// vnniMinK is the depth below which the pair path runs instead: with
	// fewer than 8 groups per tile, packing A and the 12-row tiles cost
	// more than they save (SmallCNN's first convolution, k = 9, ran at
	// 10.7 G MAC/s on VNNI against 22.3 on pairs; its second, k = 144, at
	// 110 against 71). Tests lower it to run every depth on VNNI.
	vnniMinK = 32
)

// vnniZerosFit reports whether the zero points of A allow the VNNI
// path: one value, or the same value for every row.
func vnniZerosFit(zs []int32, _ int32) bool {
	for _, z := range zs[1:] {
		if z != zs[0] {
			return false
		}
	}
	return len(zs) > 0
}

// vnniPack is the layout of the VNNI kernels.
type vnniPack struct {
	n, k   int
	quads  int // ceil(k/4)
	panels int // ceil(n/16)
	// w holds, for panel s, group q, column j < 16 and byte h < 4,
	// w[(s·quads + q)·64 + 4j + h] = B'[4q+h, 16s+j] - 128, and 0 beyond
	// k or n.
	w []int8
	// zbs is zb' - 128 per column and d is k·zbs_j - Σ_p Bs_pj, both
	// padded with zeros to panels·16 columns.
	zbs, d []int32
	// asym is set when some zbs is not zero: the row sums of A' are
	// needed.
	asym bool
}

// newVNNIPack packs b for the VNNI kernels.
func newVNNIPack(b *PackedB) *vnniPack {
	n, k := b.n, b.k
	vp := &vnniPack{n: n, k: k, quads: (k + 3) / 4, panels: (n + vnniCols - 1) / vnniCols}
	width := vp.panels * vnniCols
	vp.w = make([]int8, vp.panels*vp.quads*4*vnniCols)
	vp.zbs, vp.d = make([]int32, width), make([]int32, width)
	if k == 0 {
		return vp // nothing to pack: every product is empty
	}
	for j := range n {
		panel := vp.w[(j/vnniCols)*vp.quads*4*vnniCols+4*(j%vnniCols):]
		var sum int32
		for p, u := range b.bt[j*k : j*k+k] {
			v := int8(u ^ 0x80) // u - 128
			panel[(p/4)*4*vnniCols+p%4] = v
			sum += int32(v)
		}
		vp.zbs[j] = b.zb[j] - 128
		vp.d[j] = int32(k)*vp.zbs[j] - sum
		vp.asym = vp.asym || vp.zbs[j] != 0
	}
	return vp
}

// vnniLayout returns the packing of the VNNI kernels, building it on
// first use.
func (b *PackedB) vnniLayout() *vnniPack {
	b.vnniOnce.Do(func() { b.vnni = newVNNIPack(b) })
	return b.vnni
}

// vnniKernels are the routines the VNNI path calls: assembly where the
// CPU runs it, else their Go twins (which only tests select).
type vnniKernels struct {
	// tile32 computes blocks consecutive 12×32 tiles, tile16 tiles
	// consecutive 12×16 ones; see vnniTileGo.
	tile32, tile16 func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)
	// tile4x64 computes the first 4 rows of 12-row tiles against blocks
	// of 4 panels, for products of at most 4 rows (a batch of one).
	tile4x64 func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)
	// pack writes the whole groups of 4 codes of rows rows of src (k
	// codes each) into the tiles of dst, flipped; see packQuadsGo.
	pack func(dst, src []byte, rows, k, quads int, flip uint32)
}

// goVNNIKernels are the pure-Go twins of the VNNI kernels.
var goVNNIKernels = vnniKernels{
	tile32: func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int) {
		vnniTileGo(vnniRows, 2, a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	},
	tile16: func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int) {
		vnniTileGo(vnniRows, 1, a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	},
	tile4x64: func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int) {
		vnniTileGo(4, 4, a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	},
	pack: packQuadsGo,
}

// packQuadsGo is the Go twin of the packing kernel: for each row i and
// whole group q < k/4, the 4 codes src[i·k+4q:], as a uint32 xor flip,
// go to the tile layout of dst (tiles of quads·48 bytes, row i%12 of tile
// i/12, group q).
func packQuadsGo(dst, src []byte, rows, k, quads int, flip uint32) {
	tileLen := quads * 4 * vnniRows
	for i := range rows {
		tile := dst[(i/vnniRows)*tileLen : (i/vnniRows+1)*tileLen]
		row := src[i*k : i*k+k]
		r := i % vnniRows
		for q := range k / 4 {
			binary.LittleEndian.PutUint32(tile[(q*vnniRows+r)*4:], binary.LittleEndian.Uint32(row[4*q:])^flip)
		}
	}
}

var (
	// asmVNNIKernels are the assembly kernels; haveAsmVNNI says whether
	// this build and CPU run them.
	asmVNNIKernels, haveAsmVNNI = asmVNNI()
	// vnniKernelsInUse are the kernels the VNNI path calls.
	vnniKernelsInUse = chooseVNNIKernels()
	// useVNNI selects the VNNI path for every product whose zero points
	// allow it, where the kernels are in assembly. Tests set it (and
	// vnniKernelsInUse) to run any path.
	useVNNI = haveAsmVNNI
)

func chooseVNNIKernels() vnniKernels {
	if haveAsmVNNI {
		return asmVNNIKernels
	}
	return goVNNIKernels
}

// vnniTileGo is the Go twin of the VNNI micro-kernels, for the first
// rows rows of 12-row tiles of A' and width = 16·panels columns. For each
// block t < blocks it reads the panels t·panels.. of b (quads·64 bytes
// each) and writes, for r < rows and j < width,
//
//	c[r·ldc + width·t + j] = init[width·t + j] + Σ_q Σ_h a[(q·12 + r)·4 + h]·b[panel, q, j, h]
//	                         - (rowSum[r]·zbs[width·t + j] when rowSum is not empty)
//
// computed modulo 2³².
func vnniTileGo(rows, panels int, a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int) {
	width := panels * vnniCols
	for t := range blocks {
		for r := range rows {
			for j := range width {
				col := width*t + j
				panel := b[(t*panels+j/vnniCols)*quads*4*vnniCols:]
				s := init[col]
				for q := range quads {
					x := a[(q*vnniRows+r)*4 : (q*vnniRows+r)*4+4]
					y := panel[q*4*vnniCols+4*(j%vnniCols):][:4]
					s += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1]) + int32(x[2])*int32(y[2]) + int32(x[3])*int32(y[3])
				}
				if len(rowSum) > 0 {
					s -= rowSum[r] * zbs[col]
				}
				c[r*ldc+col] = s
			}
		}
	}
}

// vnniTile checks the bounds the micro-kernels rely on and calls the one
// of panels panels per block: 1 or 2 (12 rows), or 4 (the first 4 rows).
func vnniTile(panels int, a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int) {
	width, rows := panels*vnniCols, vnniRows
	if panels == 4 {
		rows = 4
	}
	if quads < 1 || blocks < 1 || ldc < width*blocks || len(a) < quads*vnniRows*4 ||
		len(b) < blocks*panels*quads*4*vnniCols || len(init) < width*blocks || len(zbs) < width*blocks ||
		(len(rowSum) != 0 && len(rowSum) < rows) || len(c) < (rows-1)*ldc+width*blocks {
		shapePanic("gemm vnni tile: panels=%d quads=%d blocks=%d ldc=%d with %d, %d, %d, %d, %d and %d elements",
			panels, quads, blocks, ldc, len(a), len(b), len(init), len(rowSum), len(zbs), len(c))
	}
	switch panels {
	case 4:
		vnniKernelsInUse.tile4x64(a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	case 2:
		vnniKernelsInUse.tile32(a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	default:
		vnniKernelsInUse.tile16(a, b, quads, blocks, init, rowSum, zbs, c, ldc)
	}
}

// rowsSmall computes a product of at most 4 rows: blocks of 4 panels on
// the 4-row kernel, the last panels on the 12-row ones, all through
// scratch (12×32 values).
func (g *vnniOperands) rowsSmall(scratch []int32) {
	n, quads := g.n, g.quads
	panelLen := quads * 4 * vnniCols
	at := g.a[:quads*4*vnniRows]
	var rs []int32
	if g.rowSum != nil {
		rs = g.rowSum[:vnniRows]
	}
	for s := 0; s < g.panels; {
		panels := 4
		switch rest := g.panels - s; {
		case rest >= 4:
		case rest >= 2:
			panels = 2
		default:
			panels = 1
		}
		col := s * vnniCols
		vnniTile(panels, at, g.w[s*panelLen:], quads, 1, g.init[col:], rs, g.zbs[col:], scratch, panels*vnniCols)
		width := min(panels*vnniCols, n-col)
		for r := range g.m {
			copy(g.c[r*n+col:r*n+col+width], scratch[r*panels*vnniCols:])
		}
		s += panels
	}
}

// vnniBuffer is the per-call working memory of the VNNI path.
type vnniBuffer struct {
	a      []uint8 // packed A', tiles of vnniRows rows
	rowSum []int32 // Σ_p A'_ip per row, padded to whole tiles
	init   []int32 // za'·d_j per column
	// scratch receives the tiles that do not fit c (rows past m, columns
	// past n), one per worker.
	scratch [][vnniRows * 2 * vnniCols]int32
}

// vnniBuffers recycles the VNNI path's working memory between calls.
var vnniBuffers sync.Pool // of *vnniBuffer

// vnniOperands is what the row-tile workers share.
type vnniOperands struct {
	*vnniPack
	m      int
	a      []uint8
	rowSum []int32 // empty for symmetric B
	init   []int32
	c      []int32
}

// gemmVNNI computes c = (a - aZero)(B - zb) on the VNNI path, on at most
// workers goroutines.
func gemmVNNI[A int8 | uint8](m int, a []A, aZero []int32, b *vnniPack, c []int32, workers int) {
	buf, _ := vnniBuffers.Get().(*vnniBuffer)
	if buf == nil {
		buf = new(vnniBuffer)
	}
	tiles := (m + vnniRows - 1) / vnniRows
	tileLen := b.quads * 4 * vnniRows
	buf.a = grow(buf.a, tiles*tileLen)
	buf.init = grow(buf.init, len(b.d))
	off := offset[A]()
	za := aZero[0] + off
	for j, d := range b.d {
		buf.init[j] = za * d
	}
	g := vnniOperands{vnniPack: b, m: m, a: buf.a, init: buf.init, c: c}
	if b.asym {
		buf.rowSum = grow(buf.rowSum, tiles*vnniRows)
		g.rowSum = buf.rowSum
	}
	packVNNI(g.a, g.rowSum, m, b.k, b.quads, a, uint8(off))
	workers = max(1, min(workers, tiles))
	buf.scratch = grow(buf.scratch, workers)
	if workers == 1 {
		g.rows(0, tiles, buf.scratch[0][:])
	} else {
		gp, scratch := new(vnniOperands), buf.scratch // not buf: capturing it would move it to the heap
		*gp = g
		workpool.For(workers, workers, func(_, w int) { gp.rows(tiles*w/workers, tiles*(w+1)/workers, scratch[w][:]) })
	}
	vnniBuffers.Put(buf)
}

// packVNNI writes the m×k matrix a, shifted to unsigned by flipping the
// bits of flip, into dst as tiles of vnniRows rows (see gemm_vnni.go),
// zero past k, and, when rowSum is not empty, the row sums of the
// shifted values. Rows past m in the last tile are left as they are. Groups of 4 codes move as
// one uint32.
func packVNNI[A int8 | uint8](dst []uint8, rowSum []int32, m, k, quads int, a []A, flip uint8) {
	tileLen := quads * 4 * vnniRows
	full := k / 4
	flip4 := uint32(flip) * 0x01010101
	src := bytesOf(a)
	if len(dst) < ((m+vnniRows-1)/vnniRows)*tileLen || len(src) != m*k || quads != (k+3)/4 {
		shapePanic("gemm vnni pack: m=%d k=%d quads=%d with %d and %d elements", m, k, quads, len(dst), len(src))
	}
	vnniKernelsInUse.pack(dst, src, m, k, quads, flip4)
	for i := range m {
		t, r := i/vnniRows, i%vnniRows
		tile := dst[t*tileLen : (t+1)*tileLen]
		row := src[i*k : i*k+k]
		if full < quads {
			d := tile[(full*vnniRows+r)*4 : (full*vnniRows+r)*4+4]
			clear(d)
			for h, v := range row[4*full:] {
				d[h] = v ^ flip
			}
		}
		if rowSum != nil {
			var sum int32
			for _, v := range row {
				sum += int32(v ^ flip)
			}
			rowSum[i] = sum
		}
	}
	// The rows past m in the last tile keep whatever they hold: their
	// products land in the scratch tile and are dropped, and no real row
	// reads them.
}

// bytesOf views int8 or uint8 codes as bytes.
func bytesOf[A int8 | uint8](a []A) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
}

// rows computes the row tiles [t0, t1) of c, over blocks of panels that
// stay in the L2 cache while the row tiles stream past; scratch holds
// 12×32 values.
func (g *vnniOperands) rows(t0, t1 int, scratch []int32) {
	if g.m <= 4 {
		g.rowsSmall(scratch)
		return
	}
	n, quads := g.n, g.quads
	panelLen := quads * 4 * vnniCols
	tileLen := quads * 4 * vnniRows
	block := max(2, pairBlockBytes/panelLen) &^ 1 // panels per cache block, even
	fullPairs := n / (2 * vnniCols)               // 32-column blocks whose columns all exist
	for s0 := 0; s0 < g.panels; s0 += block {
		s1 := min(s0+block, g.panels)
		for t := t0; t < t1; t++ {
			i := t * vnniRows
			at := g.a[t*tileLen : (t+1)*tileLen]
			var rs []int32
			if g.rowSum != nil {
				rs = g.rowSum[i : i+vnniRows]
			}
			rows := min(vnniRows, g.m-i)
			s := s0
			if direct := min(s1, 2*fullPairs); rows == vnniRows && direct > s0 {
				blocks := (direct - s0) / 2
				col := s0 * vnniCols
				vnniTile(2, at, g.w[s0*panelLen:], quads, blocks, g.init[col:], rs, g.zbs[col:], g.c[i*n+col:], n)
				s = s0 + 2*blocks
			}
			for s < s1 {
				panels := min(2, s1-s)
				col := s * vnniCols
				vnniTile(panels, at, g.w[s*panelLen:], quads, 1, g.init[col:], rs, g.zbs[col:], scratch, panels*vnniCols)
				width := min(panels*vnniCols, n-col)
				for r := range rows {
					copy(g.c[(i+r)*n+col:(i+r)*n+col+width], scratch[r*panels*vnniCols:])
				}
				s += panels
			}
		}
	}
}

// GEMMKernel names the micro-kernel the integer products run on this
// machine and build: "avx512-vnni" (VPDPBUSD, 12×32 tiles), "avx2"
// (VPMADDWD on int16 pairs, 6×16 tiles) or "go" (the pure-Go lane path).
func GEMMKernel() string {
	switch {
	case useVNNI:
		return "avx512-vnni"
	case usePairs:
		return "avx2"
	}
	return "go"
}

// GEMMPeakGMACs measures, for about d, the multiply-add rate of a loop
// that runs only the multiply-add instructions of the kernel GEMMKernel
// names, on registers, without loads, stores or dependencies between
// successive instructions of one accumulator chain beyond the
// accumulation itself: the ceiling an integer product on this machine can
// approach. It returns billions of int8 multiply-adds per second on the
// calling goroutine (one core), or 0 for the pure-Go path, which has no
// such ceiling.
func GEMMPeakGMACs(d time.Duration) float64 {
	peak, macsPerIter := peakLoop()
	if peak == nil {
		return 0
	}
	const iters = 1 << 16
	peak(1 << 10) // warm up the vector unit
	var total int64
	start := time.Now()
	for time.Since(start) < d || total == 0 {
		peak(iters)
		total += iters
	}
	return float64(total) * float64(macsPerIter) / time.Since(start).Seconds() / 1e9
}
