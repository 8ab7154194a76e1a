//go:build !noasm

package f32gemm

import "golang.org/x/sys/cpu"

// epilogueAsm selects the AVX-512 kernels of Epilogue.Apply and
// MaxPool2x2 where the processor has AVX-512F; they give the Go loops'
// bits. Tests switch it off to compare the two.
var epilogueAsm = cpu.X86.HasAVX512F

// epilogue512 is Epilogue.applyGo over rows×cols values, 16 at a time in
// ZMM registers (the last ones of a row under a mask); flags has 1 for
// the bias, 2 for the affine step and 4 for the ReLU.
//
//go:noescape
func epilogue512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias float32, scale, shift float64, flags int)

// epilogueRows512 is epilogue512 with row r's constants at bias[r],
// scale[r] and shift[r] (read only where flags has their step; the
// pointers are nil otherwise).
//
//go:noescape
func epilogueRows512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias *float32, scale, shift *float64, flags int)

// maxPool2x2AVX512 is maxPool2x2Go: 16 outputs at a time, the even and
// odd columns of two input rows separated by VPERMI2PS and folded in
// window order, by VMAXPS when the block holds no NaN (its "src1 > src2 ?
// src1 : src2" keeps the earlier value on ties, -0 and +0 included) and by
// explicit compares under masks otherwise.
//
//go:noescape
func maxPool2x2AVX512(dst, src *float32, oh, ow, w int)
