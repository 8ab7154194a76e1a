package qnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requantKernelSets lists the kernels this build and CPU can run.
func requantKernelSets() map[string]requantKernels {
	ks := map[string]requantKernels{"go": goRequantKernels}
	if haveAsmRequant {
		ks["asm"] = asmRequant
	}
	return ks
}

// useRequantKernels selects kernels until the end of the test.
func useRequantKernels(t *testing.T, k requantKernels) {
	saved := requantKernelsInUse
	requantKernelsInUse = k
	t.Cleanup(func() { requantKernelsInUse = saved })
}

// randMultiplier draws a float32 multiplier: log-uniform over many decades,
// or one that makes exact ties (x.5) frequent, or an edge value.
func randMultiplier(r *rand.Rand) float32 {
	switch r.IntN(4) {
	case 0:
		return []float32{0.5, 0.25, 1.5, 0.125, 1, 2, 0.0625}[r.IntN(7)]
	case 1:
		return []float32{0, math.SmallestNonzeroFloat32, math.MaxFloat32, 1e-12, 1e6}[r.IntN(5)]
	}
	return float32(math.Pow(10, -9+12*r.Float64()))
}

// randAccumulator draws an int32: small, near the int32 limits, or any.
func randAccumulator(r *rand.Rand) int32 {
	switch r.IntN(4) {
	case 0:
		return int32(r.IntN(2001) - 1000)
	case 1:
		return []int32{math.MinInt32, math.MaxInt32, math.MinInt32 + 1, math.MaxInt32 - 1, 0, 1, -1}[r.IntN(7)]
	}
	return int32(r.Uint32())
}

// TestRequantizeMatchesApply compares the block requantization, with each
// kernel and in both output layouts, with apply element by element, on
// random accumulators, multipliers, biases (whose addition may wrap),
// zero points and bounds, including a fused ReLU.
func TestRequantizeMatchesApply(t *testing.T) {
	bounds := []struct {
		name           string
		zero, min, max int32
	}{
		{"int8", -3, -128, 127},
		{"restricted", 0, -127, 127},
		{"relu", 17, 17, 127},
		{"uint8 stored shifted", -128, -128, 127},
		{"single code", 5, 5, 5},
		{"beyond int8 (codes truncate)", 0, -300, 300},
	}
	r := rand.New(rand.NewPCG(11, 12))
	for kname, kern := range requantKernelSets() {
		for _, bd := range bounds {
			for trial := range 12 {
				rows, channels := 1+r.IntN(20), 1+r.IntN(40)
				name := fmt.Sprintf("%s/%s/%d/%dx%d", kname, bd.name, trial, rows, channels)
				t.Run(name, func(t *testing.T) {
					useRequantKernels(t, kern)
					rq := Requantizer{Mult: []float32{randMultiplier(r)}, Zero: bd.zero, Min: bd.min, Max: bd.max}
					if trial%2 == 0 {
						rq.Mult = make([]float32, channels)
						for c := range rq.Mult {
							rq.Mult[c] = randMultiplier(r)
						}
					}
					if trial%3 != 0 {
						rq.Bias = make([]int32, channels)
						for c := range rq.Bias {
							rq.Bias[c] = randAccumulator(r)
						}
					}
					if trial%4 == 0 {
						rq.mult32, rq.bias32 = rq.expand(channels) // as newRequantizer leaves them
					}
					acc := make([]int32, rows*channels)
					for i := range acc {
						acc[i] = randAccumulator(r)
					}
					checkRequantize(t, &rq, acc, rows, channels)
				})
			}
		}
	}
}

// checkRequantize compares requantize with apply in the layouts of Linear
// (rows kept) and Conv2D (channel planes).
func checkRequantize(t *testing.T, rq *Requantizer, acc []int32, rows, channels int) {
	t.Helper()
	rowsOut := make([]int8, rows*channels)
	planes := make([]int8, rows*channels)
	wantRows := make([]int8, rows*channels)
	wantPlanes := make([]int8, rows*channels)
	for i := range rows {
		for c := range channels {
			v := rq.apply(acc[i*channels+c], c)
			wantRows[i*channels+c] = v
			wantPlanes[c*rows+i] = v
		}
	}
	rq.requantize(acc, rows, channels, rowsOut, channels, 1)
	rq.requantize(acc, rows, channels, planes, 1, rows)
	require.Equal(t, wantRows, rowsOut, "rows layout: mult %v bias %v", rq.Mult, rq.Bias)
	require.Equal(t, wantPlanes, planes, "planes layout: mult %v bias %v", rq.Mult, rq.Bias)
}

// TestRequantizeChannelsLastRows checks the channels-last rows kernel
// (16, 32 or 48 channels, codes in the order of the accumulators) with
// each kernel set against apply, on random accumulators, multipliers and
// biases, with the bounds of TestRequantizeMatchesApply and exact ties.
func TestRequantizeChannelsLastRows(t *testing.T) {
	bounds := []struct {
		name           string
		zero, min, max int32
	}{
		{"int8", -3, -128, 127},
		{"relu", 17, 17, 127},
		{"single code", 5, 5, 5},
		{"beyond int8 (block kernel)", 0, -300, 300},
	}
	r := rand.New(rand.NewPCG(13, 14))
	for kname, kern := range requantKernelSets() {
		for _, bd := range bounds {
			for trial := range 6 {
				rows, channels := 1+r.IntN(30), 16*(1+r.IntN(3))
				t.Run(fmt.Sprintf("%s/%s/%d/%dx%d", kname, bd.name, trial, rows, channels), func(t *testing.T) {
					useRequantKernels(t, kern)
					rq := Requantizer{Mult: make([]float32, channels), Bias: make([]int32, channels), Zero: bd.zero, Min: bd.min, Max: bd.max}
					for c := range channels {
						rq.Mult[c], rq.Bias[c] = randMultiplier(r), randAccumulator(r)
						if trial%2 == 0 {
							rq.Mult[c], rq.Bias[c] = 0.5, int32(r.IntN(5)-2) // ties
						}
					}
					rq.mult32, rq.bias32 = rq.expand(channels)
					acc := make([]int32, rows*channels)
					for i := range acc {
						acc[i] = randAccumulator(r)
						if trial%2 == 0 {
							acc[i] = int32(r.IntN(601) - 300)
						}
					}
					checkRequantize(t, &rq, acc, rows, channels)
				})
			}
		}
	}
}

// TestRequantizeRoundsTiesToEven checks the rounding on exact ties with
// every kernel: acc·0.5 for odd acc, with the expected codes written out.
func TestRequantizeRoundsTiesToEven(t *testing.T) {
	acc := []int32{1, 3, 5, -1, -3, -5, 253, 255, 257, -255, -257, -259}
	want := []int8{0, 2, 2, 0, -2, -2, 126, 127, 127, -128, -128, -128}
	for kname, kern := range requantKernelSets() {
		t.Run(kname, func(t *testing.T) {
			useRequantKernels(t, kern)
			rq := Requantizer{Mult: []float32{0.5}, Zero: 0, Min: -128, Max: 127}
			got := make([]int8, len(acc))
			rq.requantize(acc, len(acc), 1, got, 1, 0)
			assert.Equal(t, want, got)
		})
	}
}

// TestRequantizeOddRequantizers checks the requantizers the block kernels
// do not take (a non-finite multiplier, Min above Max): requantize still
// equals apply.
func TestRequantizeOddRequantizers(t *testing.T) {
	cases := []struct {
		name string
		rq   Requantizer
	}{
		{"infinite multiplier", Requantizer{Mult: []float32{float32(math.Inf(1)), 0.5}, Zero: 1, Min: -128, Max: 127}},
		{"NaN multiplier", Requantizer{Mult: []float32{float32(math.NaN()), 0.5}, Zero: 1, Min: -128, Max: 127}},
		{"min above max", Requantizer{Mult: []float32{0.01}, Bias: []int32{5, -5}, Zero: 0, Min: 10, Max: -10}},
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const rows, channels = 7, 2
			acc := make([]int32, rows*channels)
			for i := range acc {
				acc[i] = randAccumulator(r)
			}
			acc[0] = 0 // 0·Inf is NaN
			checkRequantize(t, &tc.rq, acc, rows, channels)
		})
	}
}

// TestRequantizePanicsOnShape checks that lengths which do not fit the
// block are refused before any kernel runs.
func TestRequantizePanicsOnShape(t *testing.T) {
	rq := Requantizer{Mult: []float32{1}, Min: -128, Max: 127}
	assert.Panics(t, func() { rq.requantize(make([]int32, 8), 2, 4, make([]int8, 7), 4, 1) },
		"a block larger than its output")
}

// requantSink keeps the benchmarks' results alive.
var requantSink int8

// benchRequantize requantizes rows×channels random accumulators of a
// requantizer built as the layers build theirs, with kernels k, into
// Conv2D's channel planes or Linear's rows.
func benchRequantize(b *testing.B, k requantKernels, rows, channels int, planes bool) {
	r := rand.New(rand.NewPCG(1, 2))
	in := Act{Scale: 0.02, Zero: -3, Min: -128, Max: 127}
	out := Act{Scale: 0.05, Zero: 5, Min: -128, Max: 127}
	w := Weights{Scale: make([]float32, channels), Zero: make([]int32, channels)}
	bias := make([]float32, channels)
	for c := range channels {
		w.Scale[c] = float32(0.001 + 0.01*r.Float64())
		bias[c] = float32(r.NormFloat64())
	}
	rq, err := newRequantizer(in, w, out, bias, channels, false)
	if err != nil {
		b.Fatal(err)
	}
	acc := make([]int32, rows*channels)
	for i := range acc {
		acc[i] = int32(r.IntN(100001) - 50000)
	}
	dst := make([]int8, rows*channels)
	saved := requantKernelsInUse
	requantKernelsInUse = k
	b.Cleanup(func() { requantKernelsInUse = saved })
	b.SetBytes(int64(4 * len(acc)))
	for b.Loop() {
		if planes {
			rq.requantize(acc, rows, channels, dst, 1, rows)
		} else {
			rq.requantize(acc, rows, channels, dst, channels, 1)
		}
	}
	requantSink = dst[len(dst)-1]
}

// The SmallCNN conv2 layer's block (14×14 positions, 32 channels) and an
// MNIST FC1 batch (64 rows, 256 channels), with the assembly kernels
// (their Go twins where the CPU or the build has none) beside the Go
// baseline.
func BenchmarkRequantizePlanesAsmConv2(b *testing.B) { benchRequantize(b, asmRequant, 196, 32, true) }
func BenchmarkRequantizePlanesGoConv2(b *testing.B) {
	benchRequantize(b, goRequantKernels, 196, 32, true)
}
func BenchmarkRequantizeRowsAsmFC1(b *testing.B) { benchRequantize(b, asmRequant, 64, 256, false) }
func BenchmarkRequantizeRowsGoFC1(b *testing.B)  { benchRequantize(b, goRequantKernels, 64, 256, false) }
