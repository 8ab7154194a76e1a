//go:build noasm || !amd64

package qnn

// asmPoolKernel reports that this build has no assembly pooling kernel.
func asmPoolKernel() (func(dst, acc []int32, c, ow, ph, pw int), bool) {
	return maxPool2x2AccGo, false
}
