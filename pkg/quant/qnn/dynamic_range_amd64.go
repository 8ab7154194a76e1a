//go:build !noasm

package qnn

import "github.com/ptqspec/ptqspec/pkg/quant/internal/cpu"

// asmRangeKernel returns the AVX-512 range kernel and whether the CPU
// runs it.
func asmRangeKernel() (func(x []float32) (lo, hi float32, finite bool), bool) {
	return range16Go, cpu.HasAVX512VNNI
}

// range16Go runs range16AVX512 on the first len(x) &^ 15 values of x
// and reduces its lanes.
func range16Go(x []float32) (lo, hi float32, finite bool) {
	var acc [48]float32
	range16AVX512(x, &acc)
	return rangeLanes(&acc)
}

// range16AVX512 scans the first len(x) &^ 15 values of x sixteen per
// step and leaves, per lane j, min(0, values) in acc[j], max(0, values)
// in acc[16+j] and the sum of v - v (zero while all are finite) in
// acc[32+j]. Reference (rangeGo on those values, lane by lane):
//
//	for i, v := range x[:len(x)&^15] {
//		j := i % 16
//		acc[j], acc[16+j] = minNum(acc[j], v), maxNum(acc[16+j], v)
//		acc[32+j] += v - v
//	}
//
//go:noescape
func range16AVX512(x []float32, acc *[48]float32)

// dequantRowAsm is dequantRowGo with groups of 8 on dequantRowAVX512.
func dequantRowAsm(y []float32, acc []int32, sIn float64, ws []float64, bias []float32) {
	body := len(y) &^ 7
	acc, ws = acc[:len(y)], ws[:len(y)]
	var bb, bt []float32
	if bias != nil {
		bias = bias[:len(y)]
		bb, bt = bias[:body], bias[body:]
	}
	dequantRowAVX512(y[:body], acc[:body], sIn, ws[:body], bb)
	dequantRowGo(y[body:], acc[body:], sIn, ws[body:], bt)
}

// dequantRowAVX512 is dequantRowGo on the first len(y) &^ 7 values, eight
// per step (VCVTDQ2PD, VMULPD by sIn then by ws, VCVTPD2PS, VADDPS of the
// bias when bias is not empty). It needs acc and ws as long as y, and
// bias empty or as long.
//
//go:noescape
func dequantRowAVX512(y []float32, acc []int32, sIn float64, ws []float64, bias []float32)

// dequantPlanesAsm is dequantPlanesAll with each group of eight channels
// over the first pos &^ 7 positions on dequantBlock8AVX512, the rest
// (channels past the last group of eight, positions past pos &^ 7) on
// dequantPlanesGo.
func dequantPlanesAsm(out []float32, acc []int32, c, pos int, scale []float64, bias []float32) {
	out, acc, scale, bias = out[:c*pos], acc[:c*pos], scale[:c], bias[:c]
	body, groups := pos&^7, c&^7
	for c0 := 0; c0 < groups && body > 0; c0 += 8 {
		dequantBlock8AVX512(out, acc, c, pos, scale, bias, c0)
	}
	if groups < c {
		dequantPlanesGo(out, acc, c, pos, scale, bias, groups, c, 0, pos)
	}
	if body < pos {
		dequantPlanesGo(out, acc, c, pos, scale, bias, 0, groups, body, pos)
	}
}

// dequantBlock8AVX512 is dequantPlanesGo on channels [c0, c0+8) and
// positions [0, pos &^ 7), eight positions per step: eight rows of eight
// accumulators transposed in registers, then VCVTDQ2PD, VMULPD by the
// channel's scale, VCVTPD2PS, VADDPS of its bias, stored to its plane. It
// needs c0+8 <= c, len(acc) and len(out) >= c·pos, len(scale) and
// len(bias) >= c.
//
//go:noescape
func dequantBlock8AVX512(out []float32, acc []int32, c, pos int, scale []float64, bias []float32, c0 int)
