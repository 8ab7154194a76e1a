package onnx

// gemmInt computes c[m×n] = Σ_k (a[i,k]-aZero[i or 0])·(b[k,j]-bZero[j or 0])
// in int32, row-major, b k×n. Temporary stand-in until quant.GemmInt lands.
func gemmInt[A, B int8 | uint8](m, n, k int, a []A, aZero []int32, b []B, bZero []int32, c []int32) {
	for i := range m {
		za := aZero[min(i, len(aZero)-1)]
		for j := range n {
			zb := bZero[min(j, len(bZero)-1)]
			var s int32
			for l := range k {
				s += (int32(a[i*k+l]) - za) * (int32(b[l*n+j]) - zb)
			}
			c[i*n+j] = s
		}
	}
}
