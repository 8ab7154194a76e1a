package quant

import (
	"encoding/binary"
	"slices"
)

// Products whose rows are windows of an image, read in place (an
// implicit-GEMM convolution on the VNNI path).
//
// A stride-1 convolution of a channels-last image [H', W', C] (the
// padding already in place) has, for the output position whose window
// starts at pixel p = y·W' + x, the window row ky at byte (p + ky·W')·C:
// KW·C consecutive codes. Numbering the output positions over the whole
// padded width (W' per output row instead of OW, the last W' - OW of each
// row being garbage that the caller drops), row i of the im2row matrix is
// the KH runs a[i·C + ky·W'·C:][:KW·C]: a fixed stride between rows and
// fixed offsets between runs, which the micro-kernel reads directly, with
// no im2row copy and no packing of A. The image is stored already shifted
// to unsigned (int8 code + 128), as the VNNI path needs it; B is packed
// once with each run padded to a multiple of 4 codes by weights equal to
// their zero point, so that whatever the image holds past a run adds
// nothing.

// WindowTileRows is the number of rows the windowed product computes at
// a time: c must hold m rounded up to a multiple of it, and a must hold
// the windows of those rows (WindowsLen).
const WindowTileRows = vnniRows

// WindowsFast reports whether GemmIntWindows runs on this machine for b
// read as runs windows of b.k/runs codes each: the VNNI kernels are in
// use, b has a multiple of 16 columns and symmetric weights (every zero
// point 0 for int8 weights, 128 for uint8), and each run is a whole
// number of groups of 4. Callers that get false use GemmIntPacked.
func WindowsFast(b *PackedB, runs int) bool {
	if !useVNNI || runs < 1 || b.n%vnniCols != 0 || b.n == 0 || b.k%runs != 0 || (b.k/runs)%4 != 0 {
		return false
	}
	vp := b.vnniLayout()
	return vp != nil && !vp.asym
}

// WindowsLen returns the length a must have for GemmIntWindows of m rows
// with row stride rs and run offsets offs over b: the windows of the rows
// up to m rounded up to WindowTileRows.
func WindowsLen(m, rs int, offs []int, b *PackedB) int {
	if m == 0 || len(offs) == 0 {
		return 0
	}
	rows := (m + vnniRows - 1) / vnniRows * vnniRows
	return (rows-1)*rs + slices.Max(offs) + b.k/len(offs)
}

// GemmIntWindows computes, for i < m and j < n (b is k×n, packed by PackB
// or PackBT, and WindowsFast(b, len(offs)) must hold), with seg =
// k/len(offs):
//
//	c[i·ldc + j] = Σ_s Σ_{t<seg} (a[i·rs + offs[s] + t] - aZero)·(B[s·seg + t, j] - zb_j)
//
// where a holds unsigned codes (int8 codes + 128, and aZero likewise).
// Rows from m up to m rounded to WindowTileRows are computed too (from
// whatever a holds there): c must hold them, with ldc >= n, and a must
// hold WindowsLen(m, rs, offs, b) codes. The sums are exact, as
// GemmIntPacked's: the same integers whatever the path. It runs on the
// calling goroutine and allocates nothing in steady state.
func GemmIntWindows(m int, a []uint8, aZero int32, rs int, offs []int, b *PackedB, c []int32, ldc int) {
	if !WindowsFast(b, len(offs)) {
		shapePanic("gemm windows: %d×%d operand in %d runs does not fit the VNNI windows kernels", b.k, b.n, len(offs))
	}
	if m == 0 {
		return
	}
	tiles := (m + vnniRows - 1) / vnniRows
	for _, o := range offs {
		if o < 0 {
			shapePanic("gemm windows: run offset %d", o)
		}
	}
	if rs < 0 || ldc < b.n || len(a) < WindowsLen(m, rs, offs, b) || len(c) < (tiles*vnniRows-1)*ldc+b.n {
		shapePanic("gemm windows: %d rows of stride %d over %d codes into %d accumulators (ldc %d, %d columns)",
			m, rs, len(a), len(c), ldc, b.n)
	}
	vp := b.vnniLayout()
	buf, _ := vnniBuffers.Get().(*vnniBuffer)
	if buf == nil {
		buf = new(vnniBuffer)
	}
	buf.init = grow(buf.init, len(vp.d))
	for j, d := range vp.d {
		buf.init[j] = aZero * d
	}
	seg4 := b.k / len(offs) / 4
	panelLen := vp.quads * 4 * vnniCols
	p := 0
	for ; p+2 <= vp.panels; p += 2 {
		windowKernelsInUse.tile32(a, vp.w[p*panelLen:], offs, seg4, rs, tiles, buf.init[p*vnniCols:], c[p*vnniCols:], ldc)
	}
	if p < vp.panels {
		windowKernelsInUse.tile16(a, vp.w[p*panelLen:], offs, seg4, rs, tiles, buf.init[p*vnniCols:], c[p*vnniCols:], ldc)
	}
	vnniBuffers.Put(buf)
}

// windowKernels are the micro-kernels of GemmIntWindows: tiles tiles of
// 12 rows by 32 (tile32) or 16 (tile16) columns; see windowTileGo.
type windowKernels struct {
	tile32, tile16 func(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int)
}

// goWindowKernels are the pure-Go twins of the window kernels.
var goWindowKernels = windowKernels{
	tile32: func(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int) {
		windowTileGo(2, a, b, offs, seg4, rs, tiles, init, c, ldc)
	},
	tile16: func(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int) {
		windowTileGo(1, a, b, offs, seg4, rs, tiles, init, c, ldc)
	},
}

var (
	// asmWindowKernels are the assembly window kernels (the Go twins in a
	// build without them).
	asmWindowKernels = asmWindows()
	// windowKernelsInUse are the kernels GemmIntWindows calls: assembly
	// wherever useVNNI holds outside tests. Tests set it to run either.
	windowKernelsInUse = chooseWindowKernels()
)

func chooseWindowKernels() windowKernels {
	if haveAsmVNNI {
		return asmWindowKernels
	}
	return goWindowKernels
}

// windowTileGo is the Go twin of the window micro-kernels, for width =
// 16·panels columns of the panels of b (seg4·len(offs) groups of 64
// bytes each): for each tile t < tiles, row r < 12 (i = 12t + r) and
// column j < width,
//
//	c[i·ldc + j] = init[j] + Σ_s Σ_q Σ_h a[i·rs + offs[s] + 4q + h]·b[panel j/16, group s·seg4 + q, column j%16, byte h]
//
// computed modulo 2³².
func windowTileGo(panels int, a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int) {
	quads := seg4 * len(offs)
	width := panels * vnniCols
	for i := range tiles * vnniRows {
		for j := range width {
			panel := b[(j/vnniCols)*quads*4*vnniCols:]
			s := init[j]
			for si, o := range offs {
				row := a[i*rs+o:]
				for q := range seg4 {
					x := row[4*q : 4*q+4]
					y := panel[(si*seg4+q)*4*vnniCols+4*(j%vnniCols):][:4]
					s += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1]) + int32(x[2])*int32(y[2]) + int32(x[3])*int32(y[3])
				}
			}
			c[i*ldc+j] = s
		}
	}
}

// flip80 is the xor that shifts 8 int8 codes to unsigned.
const flip80 = 0x8080808080808080

// ShiftToUnsigned writes the int8 codes of src, plus 128, to dst (as
// uint8: the codes GemmIntWindows reads), 8 at a time.
func ShiftToUnsigned(dst []uint8, src []int8) {
	dst = dst[:len(src)]
	s := bytesOf(src)
	n := len(s) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(s[i:])^flip80)
	}
	for i := n; i < len(s); i++ {
		dst[i] = s[i] ^ 0x80
	}
}
