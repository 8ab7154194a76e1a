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

// dequantPlaneAsm is dequantPlaneGo with groups of 8 on
// dequantPlaneAVX512.
func dequantPlaneAsm(plane []float32, acc []int32, stride int, sc float64, b float32) {
	body := len(plane) &^ 7
	if body > 0 {
		_ = acc[(body-1)*stride] // the last accumulator the kernel reads
		var idx [8]int32
		for j := range idx {
			idx[j] = int32(j * stride)
		}
		dequantPlaneAVX512(plane[:body], acc, &idx, 8*stride*4, sc, b)
	}
	if body < len(plane) {
		dequantPlaneGo(plane[body:], acc[body*stride:], stride, sc, b)
	}
}

// dequantRowAVX512 is dequantRowGo on the first len(y) &^ 7 values, eight
// per step (VCVTDQ2PD, VMULPD by sIn then by ws, VCVTPD2PS, VADDPS of the
// bias when bias is not empty). It needs acc and ws as long as y, and
// bias empty or as long.
//
//go:noescape
func dequantRowAVX512(y []float32, acc []int32, sIn float64, ws []float64, bias []float32)

// dequantPlaneAVX512 is dequantPlaneGo on the first len(plane) &^ 7
// positions, eight per step: the accumulators gathered (VPGATHERDD) at
// acc + idx[j]·4 bytes, idx[j] = j·stride, the base moving step =
// 8·stride·4 bytes per step; then VCVTDQ2PD, VMULPD, VCVTPD2PS, VADDPS.
// It needs acc to hold index (len(plane)&^7 - 1)·stride.
//
//go:noescape
func dequantPlaneAVX512(plane []float32, acc []int32, idx *[8]int32, step int, sc float64, b float32)
