//go:build !noasm

package qnn

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

// asmRequantKernels returns the AVX2 kernels and whether the CPU runs
// them.
func asmRequantKernels() (requantKernels, bool) {
	return requantKernels{block: requantAVX2, planes: requantPlanesAVX2}, cpu.HasAVX2
}

// requantAVX2 requantizes rows×channels accumulators, four channels per
// instruction (VCVTDQ2PD, VMULPD, VROUNDPD to nearest even, VMAXPD,
// VMINPD, VCVTTPD2DQ: exact, the values are integers), the last channels one by one with the scalar forms.
// It needs lo <= hi, finite multipliers and the lengths requantize
// checks. Reference:
//
//	for i := range rows {
//		for c := range channels {
//			v := math.RoundToEven(float64(acc[i*channels+c]+bias[c]) * mult[c])
//			v = min(max(v, lo), hi)
//			out[i*rowStride+c*chanStride] = int8(int32(v) + zero)
//		}
//	}
//
//go:noescape
func requantAVX2(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, rowStride, chanStride int, lo, hi float64, zero int32)

// requantPlanesAVX2 is requantAVX2 with rowStride 1 and chanStride plane,
// the layout of Conv2D, for rows a multiple of 4 and Min, Max within
// int8: it transposes 4×4 blocks of codes in registers so that each store
// writes four codes of one channel plane. Reference:
//
//	for i := range rows {
//		for c := range channels {
//			v := math.RoundToEven(float64(acc[i*channels+c]+bias[c]) * mult[c])
//			v = min(max(v, lo), hi)
//			out[i+c*plane] = int8(int32(v) + zero)
//		}
//	}
//
//go:noescape
func requantPlanesAVX2(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, plane int, lo, hi float64, zero int32)
