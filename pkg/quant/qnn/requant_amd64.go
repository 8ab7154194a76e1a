//go:build !noasm

package qnn

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

// asmRequantKernels returns the AVX2 kernels and whether the CPU runs
// them.
func asmRequantKernels() (requantKernels, bool) {
	k := requantKernels{block: requantAVX2, planes: requantPlanesAVX2}
	if cpu.HasAVX512VNNI {
		k.rows = requantRowsAVX512
	}
	return k, cpu.HasAVX2
}

// requantRowsAVX512 is requantAVX2 with rowStride channels and chanStride
// 1 (the channels-last layout: codes in the order of the accumulators),
// for channels a multiple of 16 and codes within int8, sixteen channels
// per instruction (VRNDSCALEPS rounds to nearest even as VROUNDPS does;
// VPMOVDB stores the codes). Reference:
//
//	for i := range rows {
//		for c := range channels {
//			out[i*channels+c] = int8(quant.RequantizeValue(acc[i*channels+c]+bias[c], mult[c], zero, qmin, qmax))
//		}
//	}
//
//go:noescape
func requantRowsAVX512(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, zero, qmin, qmax int32)

// requantAVX2 requantizes rows×channels accumulators, four channels per
// instruction, in float32 as quant.RequantizeValue does (VCVTDQ2PS,
// VMULPS, VMAXPS and VMINPS to the bounds float32(qmin-zero) and
// float32(qmax-zero), VROUNDPS to nearest even, VCVTTPS2DQ: exact, the
// values are integers), the last channels one by one with the scalar
// forms. It needs finite multipliers and the lengths requantize checks.
// Reference:
//
//	for i := range rows {
//		for c := range channels {
//			out[i*rowStride+c*chanStride] = int8(quant.RequantizeValue(acc[i*channels+c]+bias[c], mult[c], zero, qmin, qmax))
//		}
//	}
//
//go:noescape
func requantAVX2(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, rowStride, chanStride int, zero, qmin, qmax int32)

// requantPlanesAVX2 is requantAVX2 with rowStride 1 and chanStride plane,
// the layout of Conv2D, for rows a multiple of 4 and codes within int8
// (min(qmin, qmax) >= -128, qmax <= 127): it transposes 4×4 blocks of
// codes in registers so that each store writes four codes of one channel
// plane. Reference:
//
//	for i := range rows {
//		for c := range channels {
//			out[i+c*plane] = int8(quant.RequantizeValue(acc[i*channels+c]+bias[c], mult[c], zero, qmin, qmax))
//		}
//	}
//
//go:noescape
func requantPlanesAVX2(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, plane int, zero, qmin, qmax int32)
