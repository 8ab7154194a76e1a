package f32gemm

import "math"

// goKernel is the pure-Go micro-kernel: the reference every assembly
// kernel must match bit for bit. Its tile shape is free; 4×8 keeps edge
// tiles small.
var goKernel = &microKernel{name: "go", mr: 4, nr: 8, run: kernelGo4x8, runOff: kernelGo4x8Off}

// kernelGo4x8 is the reference micro-kernel:
//
//	for r := range mr {
//		for j := range nr {
//			s := 0 (or c[r*ldc+j] with load)
//			for p := range k {
//				s = fma32(a[r*ars+p*aps], b[p*ldb+j], s)
//			}
//			c[r*ldc+j] = s
//		}
//	}
func kernelGo4x8(k int, a []float32, ars, aps int, b []float32, ldb int, c []float32, ldc int, load bool) {
	const mr = 4
	a = a[:(mr-1)*ars+(k-1)*aps+1]
	for r := range mr {
		row := c[r*ldc : r*ldc+8]
		var acc [8]float32
		if load {
			copy(acc[:], row)
		}
		for p := range k {
			bp := b[p*ldb : p*ldb+8]
			fma8(&acc, a[r*ars+p*aps], (*[8]float32)(bp))
		}
		copy(row, acc[:])
	}
}

// fma8 sets acc[j] = fma32(av, bp[j], acc[j]) for the 8 columns of a tile
// row, with fma32's common case written out so that the 8 chains stay in
// registers; an ambiguous rounding takes fma32Slow.
func fma8(acc *[8]float32, av float32, bp *[8]float32) {
	x := float64(av)
	a0, a1, a2, a3 := acc[0], acc[1], acc[2], acc[3]
	a4, a5, a6, a7 := acc[4], acc[5], acc[6], acc[7]
	s0, s1 := x*float64(bp[0])+float64(a0), x*float64(bp[1])+float64(a1)
	s2, s3 := x*float64(bp[2])+float64(a2), x*float64(bp[3])+float64(a3)
	s4, s5 := x*float64(bp[4])+float64(a4), x*float64(bp[5])+float64(a5)
	s6, s7 := x*float64(bp[6])+float64(a6), x*float64(bp[7])+float64(a7)
	acc[0], acc[1], acc[2], acc[3] = float32(s0), float32(s1), float32(s2), float32(s3)
	acc[4], acc[5], acc[6], acc[7] = float32(s4), float32(s5), float32(s6), float32(s7)
	if ambiguous(s0) || ambiguous(s1) || ambiguous(s2) || ambiguous(s3) ||
		ambiguous(s4) || ambiguous(s5) || ambiguous(s6) || ambiguous(s7) {
		acc[0], acc[1], acc[2], acc[3] = fma32(av, bp[0], a0), fma32(av, bp[1], a1), fma32(av, bp[2], a2), fma32(av, bp[3], a3)
		acc[4], acc[5], acc[6], acc[7] = fma32(av, bp[4], a4), fma32(av, bp[5], a5), fma32(av, bp[6], a6), fma32(av, bp[7], a7)
	}
}

// ambiguous reports that rounding the float64 sum s to float32 may differ
// from rounding the exact sum: fma32Fast's test.
func ambiguous(s float64) bool {
	bits := math.Float64bits(s)
	return bits&(1<<29-1) == 1<<28 || (bits>>52)&0x7ff-(1023-126) >= 254
}

// kernelGo4x8Off is kernelGo4x8 with row p of B at b[boff[p]:]:
//
//	s = fma32(a[r*ars+p*aps], b[boff[p]+j], s)
func kernelGo4x8Off(k int, a []float32, ars, aps int, b []float32, boff []int, c []float32, ldc int, load bool) {
	const mr, nr = 4, 8
	a = a[:(mr-1)*ars+(k-1)*aps+1]
	boff = boff[:k]
	for r := range mr {
		row := c[r*ldc : r*ldc+nr]
		var acc [nr]float32
		if load {
			copy(acc[:], row)
		}
		for p, off := range boff {
			fma8(&acc, a[r*ars+p*aps], (*[8]float32)(b[off:off+nr]))
		}
		copy(row, acc[:])
	}
}
