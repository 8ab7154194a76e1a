package nn

import (
	"runtime"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
)

// The float32 matrix products of Linear and Conv2D. Both run
// internal/f32gemm, whose every output element is one chain of float32
// fused multiply-adds over k in order: the same bits whatever the kernel
// (AVX-512, AVX2 or the Go twin), the tiling or the number of goroutines,
// and a row of the output does not depend on the other rows of the input.

// gemmFunc is the shape of gemm and gemmSerial.
type gemmFunc func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmSerial sets C = op(A)·op(B) + beta·C on the calling goroutine, for C
// [m,n], op(A) [m,k] (A [m,k], or [k,m] with transA) and op(B) [k,n] (B
// [k,n], or [n,k] with transB), rows lda, ldb and ldc apart.
func gemmSerial(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	f32gemm.Gemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// gemm is gemmSerial spread over GOMAXPROCS goroutines for products large
// enough to pay for them; it gives the same bits.
func gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	f32gemm.GemmParallel(runtime.GOMAXPROCS(0), transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// samplesGemm returns the matrix product for a convolution that computes
// its n samples on separate goroutines: the serial one, unless there are
// fewer samples than processors, when each product spreads over the
// goroutines itself. Both give the same bits.
func samplesGemm(n int) gemmFunc {
	if n < runtime.GOMAXPROCS(0) {
		return gemm
	}
	return gemmSerial
}

// gemmOffsetsSerial sets C [m,n] = A [m,k]·B', row p of B' being
// b[boff[p]:boff[p]+n], on the calling goroutine (f32gemm.GemmOffsetB).
func gemmOffsetsSerial(m, n, k int, a []float32, lda int, b []float32, boff []int, c []float32, ldc int) {
	f32gemm.GemmOffsetB(m, n, k, a, lda, b, boff, 0, c, ldc)
}

// gemmOffsets is gemmOffsetsSerial spread over GOMAXPROCS goroutines; the
// same bits.
func gemmOffsets(m, n, k int, a []float32, lda int, b []float32, boff []int, c []float32, ldc int) {
	f32gemm.GemmOffsetBParallel(runtime.GOMAXPROCS(0), m, n, k, a, lda, b, boff, 0, c, ldc)
}
