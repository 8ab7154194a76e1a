//go:build !noasm

package qnn

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

// asmQuantizeKernel returns the AVX2 quantization kernel and whether the
// CPU runs it.
func asmQuantizeKernel() (func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool, bool) {
	if cpu.HasAVX512VNNI {
		return quantize16AVX512, true
	}
	return quantize8AVX2, cpu.HasAVX2
}

// asmQuantizeKernelSet returns every assembly quantization kernel the CPU
// runs, by name, for tests.
func asmQuantizeKernelSet() map[string]func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool {
	set := map[string]func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool{}
	if cpu.HasAVX2 {
		set["avx2"] = quantize8AVX2
	}
	if cpu.HasAVX512VNNI {
		set["avx512"] = quantize16AVX512
	}
	return set
}

// quantize16AVX512 is quantize8AVX2 sixteen values per step on ZMM
// registers (VRNDSCALEPS rounds to nearest even as VROUNDPS does,
// VPMOVSDB narrows with the signed saturation of VPACKSSDW/VPACKSSWB, a
// blend under the NaN mask replaces VPBLENDVB), for the same first
// len(src) &^ 7 values and the same codes.
//
//go:noescape
func quantize16AVX512(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool

// quantize8AVX2 quantizes the first len(src) &^ 7 values of src, eight
// per step (VDIVPS, VROUNDPS to nearest even, VMAXPS/VMINPS against flo
// and fhi, VCVTPS2DQ, + zero, NaN lanes replaced by nan, packed to
// int8), and reports whether all of them were finite. It needs len(dst)
// >= len(src). Reference (quantizeGo on those values):
//
//	for i, v := range src[:len(src)&^7] {
//		finite = finite && v-v == 0
//		r := float32(math.RoundToEven(float64(v / scale)))
//		if r != r {
//			dst[i] = nan
//			continue
//		}
//		dst[i] = int8(int32(min(max(r, flo), fhi)) + zero)
//	}
//
//go:noescape
func quantize8AVX2(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool
