//go:build !noasm

package quant

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

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
