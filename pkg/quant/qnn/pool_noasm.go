//go:build noasm || !amd64

package qnn

// asmPoolKernel reports that this build has no assembly pooling kernel.
func asmPoolKernel() (func(dst, acc []int32, c, ow, ph, pw int), bool) {
	return maxPool2x2AccGo, false
}

// asmIm2rowKernel reports that this build has no assembly im2row kernel.
func asmIm2rowKernel() (func(rows, src []int8, oh, ow, wp int), bool) {
	return im2row3x3Go, false
}
