package qnn

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzRequantize checks the block requantization kernels (AVX2 assembly
// where the CPU runs it, and their Go twins) against apply, which is
// quant.RequantizeValue, in both output layouts (Linear's rows, Conv2D's
// channel planes), on fuzzed accumulators, multipliers (any float32 bits:
// subnormals, huge, zero, NaN and Inf take apply's element-wise path),
// biases whose addition wraps, zero points and bounds (including Min above
// Max and bounds beyond int8). Seeds run in plain go test.
func FuzzRequantize(f *testing.F) {
	f.Add(uint16(4), uint16(5), int32(-3), int32(-128), int32(127), []byte{0, 0, 0, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add(uint16(9), uint16(1), int32(0), int32(0), int32(127), []byte{0, 0, 128, 62, 255, 255, 255, 127, 0, 0, 0, 128})
	f.Add(uint16(8), uint16(7), int32(17), int32(10), int32(-10), []byte{0, 0, 0, 0, 1, 1, 1, 1})         // Min above Max
	f.Add(uint16(3), uint16(2), int32(0), int32(-300), int32(300), []byte{0, 0, 192, 127, 9, 9, 9, 9, 9}) // NaN multiplier, wide bounds
	f.Fuzz(func(t *testing.T, rows, channels uint16, zero, lo, hi int32, data []byte) {
		r, c := 1+int(rows%24), 1+int(channels%40)
		word := func(i int) uint32 {
			var b [4]byte
			for j := range b {
				if k := 4*i + j; k < len(data) {
					b[j] = data[k]
				}
			}
			return binary.LittleEndian.Uint32(b[:])
		}
		nm := 1
		if len(data)%2 == 1 {
			nm = c
		}
		rq := Requantizer{Mult: make([]float32, nm), Zero: zero, Min: lo, Max: hi}
		w := 0
		for i := range rq.Mult {
			rq.Mult[i] = math.Float32frombits(word(w))
			w++
		}
		if len(data)%3 == 0 {
			rq.Bias = make([]int32, c)
			for i := range rq.Bias {
				rq.Bias[i] = int32(word(w))
				w++
			}
		}
		if len(data)%5 == 0 {
			rq.mult32, rq.bias32 = rq.expand(c)
		}
		acc := make([]int32, r*c)
		for i := range acc {
			acc[i] = int32(word(w)) >> (word(w+1) % 32)
			w++
		}
		for name, k := range requantKernelSets() {
			t.Run(name, func(t *testing.T) {
				useRequantKernels(t, k)
				checkRequantize(t, &rq, acc, r, c)
			})
		}
	})
}
