package qnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The dynamic layers' fast path (vectorised range and quantization,
// recycled buffers, dequantization with per-channel float64 scales made
// once) must give the bits of the scalar implementation it replaced. The
// ref* functions below are that implementation, kept as the reference.

// refDynamicParams is the scalar DynamicParams the fast one replaced.
func refDynamicParams(x []float32) (Act, error) {
	lo, hi := float32(0), float32(0)
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Act{}, fmt.Errorf("qnn: dynamic quantization: input element %d is %v: %w", i, v, quant.ErrNonFinite)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.IsInf(float64(hi-lo), 0) {
		return Act{}, fmt.Errorf("qnn: dynamic quantization: input range [%g, %g] is wider than float32 holds: %w", lo, hi, quant.ErrNonFinite)
	}
	scale := (hi - lo) / 255
	if scale == 0 {
		return NewAct(quant.PerTensorParams(quant.UInt8, 1, 0))
	}
	zp := quant.Saturate(int32(quant.RoundHalfEven(-lo/scale)), 0, 255)
	return NewAct(quant.PerTensorParams(quant.UInt8, scale, zp))
}

// refDynamicLinear is the scalar DynamicLinear.Forward it replaced.
func refDynamicLinear(l *DynamicLinear, x *tensor.Tensor) (*tensor.Tensor, error) {
	act, err := refDynamicParams(x.Data())
	if err != nil {
		return nil, err
	}
	n := x.Dim(0)
	q := make([]int8, x.Len())
	act.Quantize(q, x.Data())
	acc := make([]int32, n*l.Out)
	quant.GemmIntPacked(n, q, []int32{act.Zero}, quant.PackBT(l.Out, l.In, l.W.Data, l.W.Zero), acc)
	y := tensor.New(n, l.Out)
	yd := y.Data()
	for i := range n {
		for c := range l.Out {
			v := float32(float64(acc[i*l.Out+c]) * float64(act.Scale) * float64(l.W.Scale[l.W.channel(c)]))
			if l.Bias != nil {
				v += l.Bias[c]
			}
			yd[i*l.Out+c] = v
		}
	}
	return y, nil
}

// refDynamicConv2D is the scalar DynamicConv2D.Forward it replaced.
func refDynamicConv2D(l *DynamicConv2D, x *tensor.Tensor) (*tensor.Tensor, error) {
	shape := x.Shape()
	oh, ow, err := l.geom().outSize("DynamicConv2D", shape)
	if err != nil {
		return nil, err
	}
	act, err := refDynamicParams(x.Data())
	if err != nil {
		return nil, fmt.Errorf("qnn: DynamicConv2D: %w", err)
	}
	n, h, w := shape[0], shape[2], shape[3]
	q := make([]int8, x.Len())
	act.Quantize(q, x.Data())
	scale := make([]float64, l.OutC)
	for c := range scale {
		scale[c] = float64(act.Scale) * float64(l.W.Scale[l.W.channel(c)])
	}
	y := tensor.New(n, l.OutC, oh, ow)
	yd := y.Data()
	pos := oh * ow
	l.geom().accumulate(q, n, h, w, oh, ow, act.Zero, quant.PackBT(l.OutC, l.InC*l.KH*l.KW, l.W.Data, l.W.Zero), func(s int, acc []int32) {
		out := yd[s*l.OutC*pos : (s+1)*l.OutC*pos]
		for c := range l.OutC {
			plane, sc := out[c*pos:(c+1)*pos], scale[c]
			var b float32
			if l.Bias != nil {
				b = l.Bias[c]
			}
			for p := range plane {
				plane[p] = float32(float64(acc[p*l.OutC+c])*sc) + b
			}
		}
	})
	return y, nil
}

// dynamicInput fills a tensor of the given shape from one of the input
// families the fast path must agree on.
func dynamicInput(r *rand.Rand, kind string, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	d := x.Data()
	for i := range d {
		v := float32(r.NormFloat64())
		switch kind {
		case "positive":
			v = float32(math.Abs(float64(v))) + 0.25
		case "negative":
			v = -float32(math.Abs(float64(v))) - 0.25
		case "zeros":
			v = 0
			if i%2 == 1 {
				v = float32(math.Copysign(0, -1))
			}
		case "tiny":
			v *= 1e-38
		case "huge":
			v *= 1e37
		case "sparse":
			if i%7 != 0 {
				v = 0
			}
		}
		d[i] = v
	}
	return x
}

// dynamicWeights quantizes random [out, k] weights with spec.
func dynamicWeights(t *testing.T, r *rand.Rand, out, k int, spec quant.Spec) Weights {
	t.Helper()
	wf := tensor.New(out, k)
	for i := range wf.Data() {
		wf.Data()[i] = float32(r.NormFloat64())
	}
	obs, err := quant.NewObserver(quant.MethodMinMax, spec)
	require.NoError(t, err)
	require.NoError(t, obs.Observe(wf))
	qp, err := obs.QParams()
	require.NoError(t, err)
	qw, err := quant.Quantize(wf, qp)
	require.NoError(t, err)
	w, err := NewWeights(qw)
	require.NoError(t, err)
	return w
}

// requireSameBits fails unless got and want have one shape and hold the
// same float32 bits.
func requireSameBits(t *testing.T, want, got *tensor.Tensor) {
	t.Helper()
	require.Equal(t, want.Shape(), got.Shape())
	requireSameFloats(t, want.Data(), got.Data())
}

// requireSameFloats fails unless got and want hold the same float32 bits.
func requireSameFloats(t *testing.T, want, got []float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, v := range want {
		if math.Float32bits(v) != math.Float32bits(got[i]) {
			t.Fatalf("element %d of %d: got %v (%#x), want %v (%#x)", i, len(want), got[i], math.Float32bits(got[i]), v, math.Float32bits(v))
		}
	}
}

// rangeKernels are the range kernels this build and CPU run, by name.
func rangeKernels() map[string]func([]float32) (float32, float32, bool) {
	k := map[string]func([]float32) (float32, float32, bool){"go": rangeGo}
	if haveAsmRange {
		k["asm"] = asmRange
	}
	return k
}

var dynamicInputKinds = []string{"normal", "positive", "negative", "zeros", "tiny", "huge", "sparse"}

// TestDynamicParamsFastMatchesScalar checks DynamicParams against the
// scalar reference on every input family and length 0..70 (every tail
// length of the 16-wide kernel), with each range kernel, tolerance zero.
func TestDynamicParamsFastMatchesScalar(t *testing.T) {
	defer func(k func([]float32) (float32, float32, bool)) { rangeKernelInUse = k }(rangeKernelInUse)
	r := rand.New(rand.NewPCG(7, 7))
	for name, k := range rangeKernels() {
		rangeKernelInUse = k
		for _, kind := range dynamicInputKinds {
			t.Run(name+"/"+kind, func(t *testing.T) {
				for n := range 71 {
					x := dynamicInput(r, kind, n).Data()
					want, werr := refDynamicParams(x)
					got, gerr := DynamicParams(x)
					require.Equal(t, werr, gerr, "length %d", n)
					require.Equal(t, want.Scale, got.Scale, "length %d", n)
					require.Equal(t, want.Zero, got.Zero, "length %d", n)
					require.Equal(t, [2]int32{want.Min, want.Max}, [2]int32{got.Min, got.Max}, "length %d", n)
				}
			})
		}
	}
}

// TestDynamicParamsFastNonFinite checks that NaN and ±Inf anywhere (in
// the vectorised body or the tail) give the reference's error, naming the
// same element, with each range kernel; and that a finite range wider
// than float32 holds is still refused.
func TestDynamicParamsFastNonFinite(t *testing.T) {
	defer func(k func([]float32) (float32, float32, bool)) { rangeKernelInUse = k }(rangeKernelInUse)
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	cases := []struct {
		name string
		at   []int
		v    []float32
	}{
		{"NaN in the body", []int{5}, []float32{nan}},
		{"+Inf in the tail", []int{35}, []float32{inf}},
		{"-Inf first", []int{0}, []float32{-inf}},
		{"NaN after -Inf", []int{3, 20}, []float32{-inf, nan}},
		{"range wider than float32", []int{1, 2}, []float32{-3e38, 3e38}},
	}
	for name, k := range rangeKernels() {
		rangeKernelInUse = k
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				x := make([]float32, 37)
				for i, at := range tc.at {
					x[at] = tc.v[i]
				}
				_, werr := refDynamicParams(x)
				_, gerr := DynamicParams(x)
				require.Error(t, gerr)
				require.ErrorIs(t, gerr, quant.ErrNonFinite)
				require.Equal(t, werr.Error(), gerr.Error())
			})
		}
	}
}

// TestDequantKernels checks the assembly row dequantization kernel
// against its Go twin (which the scalar reference spells out) on every
// length 0..40, with extreme accumulators, scales whose products round in
// float64, and with and without bias: bit-identical.
func TestDequantRowKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	accs := func(n int) []int32 {
		a := make([]int32, n)
		for i := range a {
			switch i % 5 {
			case 0:
				a[i] = int32(r.Uint32())
			case 1:
				a[i] = 0
			default:
				a[i] = int32(r.IntN(1<<17)) - 1<<16
			}
		}
		return a
	}
	cases := []struct {
		name string
		bias bool
		sIn  float64
	}{
		{"bias", true, float64(float32(0.0123457))},
		{"no bias, -0 kept", false, float64(float32(-1e-3))},
	}
	for _, tc := range cases {
		t.Run("row/"+tc.name, func(t *testing.T) {
			for n := range 41 {
				acc := accs(n)
				ws := make([]float64, n)
				for i := range ws {
					ws[i] = float64(float32(r.Float64() * 1e-2))
				}
				var bias []float32
				if tc.bias {
					bias = dynamicInput(r, "normal", n).Data()
				}
				want, got := make([]float32, n), make([]float32, n)
				dequantRowGo(want, acc, tc.sIn, ws, bias)
				dequantRowAsm(got, acc, tc.sIn, ws, bias)
				requireSameFloats(t, want, got)
			}
		})
	}
}

// TestDequantPlanesKernel checks dequantPlanesAsm against
// dequantPlanesAll on channel counts 1..33 and position counts 0..41
// (every remainder of the 8x8 blocks), with extreme accumulators:
// bit-identical.
func TestDequantPlanesKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []int{1, 7, 8, 16, 19, 32, 33} {
		t.Run(fmt.Sprintf("%d channels", c), func(t *testing.T) {
			for pos := range 42 {
				acc := make([]int32, c*pos)
				for i := range acc {
					acc[i] = int32(r.Uint32()) >> (r.UintN(31))
				}
				scale := make([]float64, c)
				for i := range scale {
					scale[i] = float64(float32(r.Float64()*1e-3)) * float64(float32(r.Float64()))
				}
				bias := dynamicInput(r, "normal", c).Data()
				want, got := make([]float32, c*pos), make([]float32, c*pos)
				dequantPlanesAll(want, acc, c, pos, scale, bias)
				dequantPlanesAsm(got, acc, c, pos, scale, bias)
				requireSameFloats(t, want, got)
			}
		})
	}
}

// TestDynamicForwardFastMatchesScalar runs DynamicLinear and
// DynamicConv2D against the scalar reference on every input family, with
// each range kernel and each quantization kernel the CPU runs, on 1 and
// 2 threads: the outputs must be bit-identical (tolerance zero).
func TestDynamicForwardFastMatchesScalar(t *testing.T) {
	defer func(k func([]float32) (float32, float32, bool)) { rangeKernelInUse = k }(rangeKernelInUse)
	defer func(k func([]int8, []float32, float32, float32, float32, int32, int8) bool) { quantizeKernelInUse = k }(quantizeKernelInUse)
	defer func(r func([]float32, []int32, float64, []float64, []float32), ps func([]float32, []int32, int, int, []float64, []float32)) {
		dequantRowInUse, dequantPlanesInUse = r, ps
	}(dequantRowInUse, dequantPlanesInUse)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	r := rand.New(rand.NewPCG(11, 11))
	perTensor := quant.WeightDefault
	perTensor.Granularity = quant.PerTensor
	affine := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}
	linears := []struct {
		name       string
		n, in, out int
		spec       quant.Spec
		bias       bool
	}{
		{"MNIST fc2 shape, per-channel", 64, 256, 10, quant.WeightDefault, true},
		{"odd sizes, per-tensor, no bias", 3, 37, 5, perTensor, false},
		{"one sample, uint8 affine weights", 1, 70, 17, affine, true},
	}
	convs := []struct {
		name                       string
		n, c, h, w, oc, k, st, pad int
		bias                       bool
	}{
		{"3x3 pad 1", 3, 2, 9, 7, 5, 3, 1, 1, true},
		{"2x2 stride 2, no bias", 2, 3, 8, 8, 4, 2, 2, 0, false},
		{"16 channels, 63 positions", 2, 1, 9, 7, 16, 3, 1, 1, true},
		{"19 channels, 16 positions, no bias", 2, 2, 8, 8, 19, 3, 2, 1, false},
	}
	quantKernels := map[string]func([]int8, []float32, float32, float32, float32, int32, int8) bool{"go": quantizeGo}
	for name, k := range asmQuantizeKernelSet() {
		quantKernels[name] = k
	}
	for rname, rk := range rangeKernels() {
		for qname, qk := range quantKernels {
			for _, procs := range []int{1, 2} {
				rangeKernelInUse, quantizeKernelInUse = rk, qk
				dequantRowInUse, dequantPlanesInUse = dequantRowGo, dequantPlanesAll
				if rname == "asm" {
					dequantRowInUse, dequantPlanesInUse = dequantRowAsm, dequantPlanesAsm
				}
				runtime.GOMAXPROCS(procs)
				prefix := fmt.Sprintf("range %s/quantize %s/%d threads/", rname, qname, procs)
				for _, tc := range linears {
					w := dynamicWeights(t, r, tc.out, tc.in, tc.spec)
					var bias []float32
					if tc.bias {
						bias = dynamicInput(r, "normal", tc.out).Data()
					}
					l, err := NewDynamicLinear(w, tc.in, tc.out, bias)
					require.NoError(t, err)
					for _, kind := range dynamicInputKinds {
						t.Run(prefix+tc.name+"/"+kind, func(t *testing.T) {
							x := dynamicInput(r, kind, tc.n, tc.in)
							want, err := refDynamicLinear(l, x)
							require.NoError(t, err)
							got, err := l.Forward(x)
							require.NoError(t, err)
							requireSameBits(t, want, got)
						})
					}
				}
				for _, tc := range convs {
					w := dynamicWeights(t, r, tc.oc, tc.c*tc.k*tc.k, quant.WeightDefault)
					var bias []float32
					if tc.bias {
						bias = dynamicInput(r, "normal", tc.oc).Data()
					}
					l, err := NewDynamicConv2D(w, tc.c, tc.oc, tc.k, tc.k, tc.st, tc.pad, bias)
					require.NoError(t, err)
					for _, kind := range dynamicInputKinds {
						t.Run(prefix+tc.name+"/"+kind, func(t *testing.T) {
							x := dynamicInput(r, kind, tc.n, tc.c, tc.h, tc.w)
							want, err := refDynamicConv2D(l, x)
							require.NoError(t, err)
							got, err := l.Forward(x)
							require.NoError(t, err)
							requireSameBits(t, want, got)
						})
					}
				}
			}
		}
	}
}

// TestAllFinite checks AllFinite on finite slices of every length 0..40
// and with one NaN, +Inf or -Inf at every position of a 37-value slice
// (the vectorised body and the tail).
func TestAllFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for n := range 41 {
		require.True(t, AllFinite(dynamicInput(r, "huge", n).Data()), "length %d", n)
	}
	bad := []struct {
		name string
		v    float32
	}{{"NaN", float32(math.NaN())}, {"+Inf", float32(math.Inf(1))}, {"-Inf", float32(math.Inf(-1))}}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			for at := range 37 {
				x := dynamicInput(r, "normal", 37).Data()
				x[at] = tc.v
				require.False(t, AllFinite(x), "%v at %d", tc.v, at)
			}
		})
	}
}
