//go:build noasm || !amd64

package f32gemm

// epilogueAsm is false: this build has no assembly kernels.
var epilogueAsm = false

// epilogue512 is never called without the assembly kernels.
func epilogue512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias float32, scale, shift float64, flags int) {
	panic("f32gemm: no AVX-512 epilogue in this build")
}

// epilogueRows512 is never called without the assembly kernels.
func epilogueRows512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias *float32, scale, shift *float64, flags int) {
	panic("f32gemm: no AVX-512 epilogue in this build")
}

// maxPool2x2AVX512 is never called without the assembly kernels.
func maxPool2x2AVX512(dst, src *float32, oh, ow, w int) {
	panic("f32gemm: no AVX-512 max pool in this build")
}
