//go:build noasm || !amd64

package qnn

// asmRangeKernel reports that this build has no assembly range kernel.
func asmRangeKernel() (func(x []float32) (lo, hi float32, finite bool), bool) {
	return rangeGo, false
}

// dequantRowAsm is dequantRowGo in a pure-Go build.
func dequantRowAsm(y []float32, acc []int32, sIn float64, ws []float64, bias []float32) {
	dequantRowGo(y, acc, sIn, ws, bias)
}

// dequantPlanesAsm is dequantPlanesAll in a pure-Go build.
func dequantPlanesAsm(out []float32, acc []int32, c, pos int, scale []float64, bias []float32) {
	dequantPlanesAll(out, acc, c, pos, scale, bias)
}
