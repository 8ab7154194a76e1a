//go:build !noasm

package f32gemm

import "golang.org/x/sys/cpu"

// kernel6x16 is the AVX2/FMA micro-kernel: mr = 6, nr = 16, the tile in
// twelve YMM accumulators. It computes what kernelGo4x8 does (with mr = 6,
// nr = 16), c and the packed strips passed by their first element:
//
//	for r := range 6 {
//		for j := range 16 {
//			s := 0 (or c[r*ldc+j] with load)
//			for p := range k {
//				s = fma32(a[r*ars+p*aps], b[p*ldb+j], s)
//			}
//			c[r*ldc+j] = s
//		}
//	}
//
//go:noescape
func kernel6x16(k int, a *float32, ars, aps int, b *float32, ldb int, c *float32, ldc int, load bool)

// kernel8x32 is the AVX-512F micro-kernel: mr = 8, nr = 32, the tile in
// sixteen ZMM accumulators, with the reference loop of kernel6x16 for
// 8 rows and 32 columns.
//
//go:noescape
func kernel8x32(k int, a *float32, ars, aps int, b *float32, ldb int, c *float32, ldc int, load bool)

// peakFMA512 runs iters times 24 independent VFMADD231PS on ZMM registers
// (384 float32 multiply-adds): the register-only limit of the AVX-512
// kernel, with no loads or stores.
//
//go:noescape
func peakFMA512(iters int)

// peakFMA256 runs iters times 12 independent VFMADD231PS on YMM registers
// (96 float32 multiply-adds), the limit of the AVX2 kernel.
//
//go:noescape
func peakFMA256(iters int)

// kernel6x16off is kernel6x16 with row p of B at b + boff[p] (in floats).
//
//go:noescape
func kernel6x16off(k int, a *float32, ars, aps int, b *float32, boff *int, c *float32, ldc int, load bool)

// kernel8x32off is kernel8x32 with row p of B at b + boff[p] (in floats).
//
//go:noescape
func kernel8x32off(k int, a *float32, ars, aps int, b *float32, boff *int, c *float32, ldc int, load bool)

var (
	avx2Kernel = &microKernel{name: "avx2", mr: 6, nr: 16, peak: peakFMA256, peakMACs: 96, run: func(k int, a []float32, ars, aps int, b []float32, ldb int, c []float32, ldc int, load bool) {
		_, _, _ = a[5*ars+(k-1)*aps], b[(k-1)*ldb+15], c[5*ldc+15]
		kernel6x16(k, &a[0], ars, aps, &b[0], ldb, &c[0], ldc, load)
	}, runOff: func(k int, a []float32, ars, aps int, b []float32, boff []int, c []float32, ldc int, load bool) {
		_, _, _ = a[5*ars+(k-1)*aps], boff[k-1], c[5*ldc+15]
		kernel6x16off(k, &a[0], ars, aps, &b[0], &boff[0], &c[0], ldc, load)
	}}
	avx512Kernel = &microKernel{name: "avx512", mr: 8, nr: 32, peak: peakFMA512, peakMACs: 384, run: func(k int, a []float32, ars, aps int, b []float32, ldb int, c []float32, ldc int, load bool) {
		_, _, _ = a[7*ars+(k-1)*aps], b[(k-1)*ldb+31], c[7*ldc+31]
		kernel8x32(k, &a[0], ars, aps, &b[0], ldb, &c[0], ldc, load)
	}, runOff: func(k int, a []float32, ars, aps int, b []float32, boff []int, c []float32, ldc int, load bool) {
		_, _, _ = a[7*ars+(k-1)*aps], boff[k-1], c[7*ldc+31]
		kernel8x32off(k, &a[0], ars, aps, &b[0], &boff[0], &c[0], ldc, load)
	}}
)

// kernels lists the micro-kernels this processor can run, fastest first.
func kernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel)
}

func bestKernel() *microKernel { return kernels()[0] }
