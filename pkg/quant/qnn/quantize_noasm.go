//go:build noasm || !amd64

package qnn

// asmQuantizeKernel reports that this build has no assembly quantization
// kernel.
func asmQuantizeKernel() (func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool, bool) {
	return quantizeGo, false
}

// asmQuantizeKernelSet has no kernels in a pure-Go build.
func asmQuantizeKernelSet() map[string]func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool {
	return nil
}
