//go:build !noasm

package quant

import (
	"encoding/binary"

	"github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"
)

// asmKernels returns the AVX2 kernels of the pair path, and whether the
// CPU runs them.
func asmKernels() (pairKernels, bool) {
	return pairKernels{tile: tile6x16AVX2, widenInt8: widenInt8AVX2, widenUint8: widenUint8AVX2}, cpu.HasAVX2
}

// tile6x16AVX2 computes 6×16 tiles of c from 6 rows of a and tiles
// consecutive panels of b (see gemm_pair.go for the layouts). It needs
// pairs >= 1, tiles >= 1 and the lengths tile6x16 checks. Reference:
//
//	for t := range tiles {
//		for r := range 6 {
//			for j := range 16 {
//				var s int32
//				for q := range pairs {
//					x := a[r*lda+2*q : r*lda+2*q+2]
//					y := b[(t*pairs+q)*32+2*j : (t*pairs+q)*32+2*j+2]
//					s += int32(x[0])*int32(y[0]) + int32(x[1])*int32(y[1])
//				}
//				c[r*ldc+16*t+j] = s
//			}
//		}
//	}
//
//go:noescape
func tile6x16AVX2(a []int16, lda int, b []int16, pairs, tiles int, c []int32, ldc int)

// widenInt8AVX2 writes rows of k int8 values less their zero point as rows
// of lda int16, zero-padded. It needs k >= 1, lda >= k, len(za) 1 or
// rows and every difference within int16. Reference:
//
//	for i := range rows {
//		z := za[min(i, len(za)-1)]
//		for p := range k {
//			dst[i*lda+p] = int16(int32(src[i*k+p]) - z)
//		}
//		clear(dst[i*lda+k : (i+1)*lda])
//	}
//
//go:noescape
func widenInt8AVX2(dst []int16, lda int, src []int8, k, rows int, za []int32)

// widenUint8AVX2 is widenInt8AVX2 for uint8 values. Reference:
//
//	for i := range rows {
//		z := za[min(i, len(za)-1)]
//		for p := range k {
//			dst[i*lda+p] = int16(int32(src[i*k+p]) - z)
//		}
//		clear(dst[i*lda+k : (i+1)*lda])
//	}
//
//go:noescape
func widenUint8AVX2(dst []int16, lda int, src []uint8, k, rows int, za []int32)

// asmVNNI returns the AVX-512 VNNI kernels, and whether the CPU runs them.
func asmVNNI() (vnniKernels, bool) {
	return vnniKernels{tile32: vnniTile12x32, tile16: vnniTile12x16, tile4x64: vnniTile4x64, pack: packQuadsVec}, cpu.HasAVX512VNNI
}

// peakLoop returns the register-only loop of the kernel in use and the
// multiply-adds of one of its iterations.
func peakLoop() (func(iters int), int) {
	switch {
	case useVNNI:
		return peakVNNI, 24 * 64
	case usePairs:
		return peakAVX2, 12 * 16
	}
	return nil, 0
}

// vnniTile12x32 is the AVX-512 VNNI micro-kernel of 12×32 tiles (two
// panels per block); vnniTileGo(2, ...) is its reference. It needs
// quads >= 1, blocks >= 1 and the lengths vnniTile checks.
//
//go:noescape
func vnniTile12x32(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)

// vnniTile12x16 is the AVX-512 VNNI micro-kernel of 12×16 tiles (one
// panel per block); vnniTileGo(1, ...) is its reference.
//
//go:noescape
func vnniTile12x16(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)

// peakVNNI runs iters times 24 VPDPBUSD on ZMM registers into 24
// independent accumulators (24·64 multiply-adds), nothing else.
//
//go:noescape
func peakVNNI(iters int)

// peakAVX2 runs iters times 12 VPMADDWD and 12 VPADDD on YMM registers
// into 12 independent accumulators (12·16 multiply-adds), nothing else.
//
//go:noescape
func peakAVX2(iters int)

// packQuadsAsm is the scalar assembly twin of packQuadsGo, which is its
// reference; it needs the lengths packVNNI checks.
//
//go:noescape
func packQuadsAsm(dst, src []byte, rows, k, quads int, flip uint32)

// vnniTile4x64 is the AVX-512 VNNI micro-kernel of 4×64 tiles (the first
// 4 rows of a 12-row tile of A', four panels per block), for products of
// at most 4 rows; vnniTileGo(4, 4, ...) is its reference.
//
//go:noescape
func vnniTile4x64(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)

// packQuadsVec packs with packQuads4x4Asm the rows in groups of 4 and
// their groups of 4 codes in blocks of 4, and in Go what is left: the
// last groups of those rows, and the rows past the last multiple of 4.
func packQuadsVec(dst, src []byte, rows, k, quads int, flip uint32) {
	rows4, blocks := rows&^3, (k/4)&^3
	if blocks == 0 {
		rows4 = 0
	}
	if rows4 > 0 {
		packQuads4x4Asm(dst, src, rows4, k, quads, flip)
	}
	packQuadsRange(dst, src, 0, rows4, blocks, k, quads, flip)
	packQuadsRange(dst, src, rows4, rows, 0, k, quads, flip)
}

// packQuadsRange is packQuadsGo for rows [i0, i1) and groups q0.. of
// each.
func packQuadsRange(dst, src []byte, i0, i1, q0, k, quads int, flip uint32) {
	tileLen := quads * 4 * vnniRows
	for i := i0; i < i1; i++ {
		tile := dst[(i/vnniRows)*tileLen : (i/vnniRows+1)*tileLen]
		row := src[i*k : i*k+k]
		r := i % vnniRows
		for q := q0; q < k/4; q++ {
			binary.LittleEndian.PutUint32(tile[(q*vnniRows+r)*4:], binary.LittleEndian.Uint32(row[4*q:])^flip)
		}
	}
}

// packQuads4x4Asm is packQuadsGo for rows a multiple of 4 and the first
// (k/4)&^3 groups of each row, 4×4 groups at a time (see the assembly).
//
//go:noescape
func packQuads4x4Asm(dst, src []byte, rows, k, quads int, flip uint32)

// asmWindows returns the AVX-512 VNNI window kernels (GemmIntWindows
// calls them only where useVNNI holds).
func asmWindows() windowKernels {
	return windowKernels{tile32: windowTile12x32, tile16: windowTile12x16}
}

// windowTile12x32 is the AVX-512 VNNI window kernel of 12×32 tiles (two
// panels); windowTileGo(2, ...) is its reference. It needs tiles >= 1,
// seg4 >= 1, len(offs) >= 1 and the lengths GemmIntWindows checks.
//
//go:noescape
func windowTile12x32(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int)

// windowTile12x16 is the window kernel of 12×16 tiles (one panel);
// windowTileGo(1, ...) is its reference.
//
//go:noescape
func windowTile12x16(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int)
