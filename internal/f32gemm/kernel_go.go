package f32gemm

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
	const mr, nr = 4, 8
	a = a[:(mr-1)*ars+(k-1)*aps+1]
	for r := range mr {
		row := c[r*ldc : r*ldc+nr]
		var acc [nr]float32
		if load {
			copy(acc[:], row)
		}
		for p := range k {
			av := a[r*ars+p*aps]
			bp := b[p*ldb : p*ldb+nr]
			for j := range acc {
				acc[j] = fma32(av, bp[j], acc[j])
			}
		}
		copy(row, acc[:])
	}
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
			av := a[r*ars+p*aps]
			bp := b[off : off+nr]
			for j := range acc {
				acc[j] = fma32(av, bp[j], acc[j])
			}
		}
		copy(row, acc[:])
	}
}
