//go:build !noasm

package qnn

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

// asmPoolKernel returns the AVX2 accumulator pooling kernel and whether
// the CPU runs it.
func asmPoolKernel() (func(dst, acc []int32, c, ow, ph, pw int), bool) {
	return maxPool2x2AccAVX2, cpu.HasAVX2
}

// maxPool2x2AccAVX2 is the 2×2, stride 2 max pooling of accumulators
// [positions, c] (rows of ow positions) into dst [ph·pw, c], eight
// channels per VPMAXSD. It needs c a positive multiple of 8, ph, pw >= 1
// and the lengths maxPoolAcc checks. Reference:
//
//	for py := range ph {
//		for px := range pw {
//			for j := range c {
//				p := (2*py*ow + 2*px) * c
//				dst[(py*pw+px)*c+j] = max(acc[p+j], acc[p+c+j], acc[p+ow*c+j], acc[p+ow*c+c+j])
//			}
//		}
//	}
//
//go:noescape
func maxPool2x2AccAVX2(dst, acc []int32, c, ow, ph, pw int)

// asmIm2rowKernel returns the one-channel 3×3 im2row kernel and whether
// the CPU runs it (it needs no vector extension).
func asmIm2rowKernel() (func(rows, src []int8, oh, ow, wp int), bool) {
	return im2row3x3Asm, true
}

// im2row3x3Asm is im2row3x3Go with 4-byte moves: per output position,
// three 4-byte loads of the window's rows and three 4-byte stores at
// 9p, 9p+3 and 9p+6 (the fourth byte of each is overwritten by the next
// store, the last one lands in the slack). It needs the lengths
// im2rowInto checks.
//
//go:noescape
func im2row3x3Asm(rows, src []int8, oh, ow, wp int)
