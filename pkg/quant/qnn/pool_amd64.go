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
