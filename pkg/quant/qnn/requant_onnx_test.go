package qnn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// A random layer's quantization: activation dtypes and qparams, per-channel
// (or per-tensor) int8 weight scales and zero points.
type randLayer struct {
	in, out qnn.Act
	w       qnn.Weights
	bias    []float32
}

// drawLayer draws qparams for a layer with k inputs per output and m output
// channels, and its weights. Scales are log-uniform, or all powers of two
// (so that products fall exactly on ties), with the output scale put where
// the codes spread over the output range, or far below it (saturation).
func drawLayer(t *testing.T, r *rand.Rand, k, m int, withBias bool) randLayer {
	t.Helper()
	dtype := func() quant.DType { return []quant.DType{quant.Int8, quant.UInt8}[r.IntN(2)] }
	pow2 := r.IntN(4) == 0
	scale := func(lo, hi float64) float32 {
		e := lo + (hi-lo)*r.Float64()
		if pow2 {
			e = math.Round(e/math.Log10(2)) * math.Log10(2)
		}
		return float32(math.Pow(10, e))
	}
	inScale, w0 := scale(-3, -1), -4+3*r.Float64()
	wScale := make([]float32, 1+(m-1)*min(1, r.IntN(4))) // per channel 3 times in 4
	wZero := make([]int32, len(wScale))
	for c := range wScale {
		wScale[c] = scale(w0-0.5, w0+0.5)
		if r.IntN(4) == 0 {
			wZero[c] = int32(r.IntN(41) - 20)
		}
	}
	// With codes uniform on 256 values, |acc| is about sqrt(k)·5000: aim
	// the output at about ±30 codes, give or take a decade, or saturate.
	target := math.Log10(float64(inScale)*math.Pow(10, w0)*math.Sqrt(float64(k))*170) + 2*r.Float64() - 1
	if r.IntN(10) == 0 {
		target -= 3
	}
	outScale := scale(target, target)
	act := func(s float32) qnn.Act {
		dt := dtype()
		lo, hi := int32(-128), int32(127)
		if dt == quant.UInt8 {
			lo, hi = 0, 255
		}
		a, err := qnn.NewAct(quant.PerTensorParams(dt, s, lo+r.Int32N(hi-lo+1)))
		require.NoError(t, err)
		return a
	}
	l := randLayer{in: act(inScale), out: act(outScale)}
	l.w = qnn.Weights{Data: make([]int8, m*k), Scale: wScale, Zero: wZero}
	for i := range l.w.Data {
		l.w.Data[i] = int8(r.IntN(256) - 128)
	}
	if withBias {
		l.bias = make([]float32, m)
		for c := range l.bias {
			l.bias[c] = float32(r.NormFloat64()) * 20 * outScale
		}
	}
	return l
}

// steerToTies resets the weight scales (and the biases) of a Linear layer
// so that row i of x lands every channel near a rounding tie: with the
// accumulator a = Σ (x - zx)(w - zw) + bias known, it picks the multiplier
// M = (j + ½)/a for a random integer j, and the weight scale that gives it.
// A bias becomes an exact multiple of its scale, so its code is known
// before the scale is. These are the cases where one ulp of the
// multiplier, or float32 against float64 products, changes an output
// code. It returns how many channels it steered.
func steerToTies(r *rand.Rand, l *randLayer, x []int8, i, k, m int) int {
	steered := 0
	for c := range len(l.w.Scale) {
		var acc int64
		for p := range k {
			acc += int64(int32(x[i*k+p])-l.in.Zero) * int64(int32(l.w.Data[c*k+p])-l.w.Zero[c])
		}
		var qb int64
		if l.bias != nil {
			qb = int64(r.IntN(2001) - 1000)
			acc += qb
		}
		if acc == 0 {
			continue
		}
		sign := float64(1)
		if acc < 0 {
			sign = -1
		}
		target := sign * (float64(r.IntN(int(min(l.out.Max-l.out.Zero, l.out.Zero-l.out.Min)+1))) + 0.5)
		ws := float32(target / float64(acc) * float64(l.out.Scale) / float64(l.in.Scale))
		if !(ws > 0) || math.IsInf(float64(ws), 0) {
			continue
		}
		l.w.Scale[c] = ws
		if l.bias != nil {
			l.bias[c] = float32(qb) * (l.in.Scale * ws)
		}
		steered++
	}
	return steered
}

// codes draws n int8-stored codes of activation a.
func codes(r *rand.Rand, a qnn.Act, n int) []int8 {
	x := make([]int8, n)
	for i := range x {
		x[i] = int8(a.Min + r.Int32N(a.Max-a.Min+1))
	}
	return x
}

// shift is the offset from int8 storage to T's codes (qnn's convention).
func shift[T int8 | uint8]() int32 {
	var z T
	if z--; z > 0 {
		return 128
	}
	return 0
}

func recode[T int8 | uint8](x []int8) []T {
	s := shift[T]()
	out := make([]T, len(x))
	for i, v := range x {
		out[i] = T(int32(v) + s)
	}
	return out
}

func scalar[T int8 | uint8 | float32](v T) onnx.Tensor[T] {
	return onnx.Tensor[T]{Shape: []int{}, Data: []T{v}}
}

func weightParams(w qnn.Weights) (onnx.Tensor[float32], onnx.Tensor[int8]) {
	zp := make([]int8, len(w.Zero))
	for i, z := range w.Zero {
		zp[i] = int8(z)
	}
	return onnx.Tensor[float32]{Shape: []int{len(w.Scale)}, Data: w.Scale}, onnx.Tensor[int8]{Shape: []int{len(zp)}, Data: zp}
}

// onnxConv runs QLinearConv with X and Y the declared activation types on
// int8-stored codes, and returns int8-stored codes.
func onnxConv[X, Y int8 | uint8](l randLayer, x []int8, xShape, wShape []int, bias []int32, pad, stride int) ([]int8, error) {
	ws, wz := weightParams(l.w)
	b := onnx.Tensor[int32]{}
	if bias != nil {
		b = onnx.Tensor[int32]{Shape: []int{len(bias)}, Data: bias}
	}
	y, err := onnx.QLinearConv(
		onnx.Tensor[X]{Shape: xShape, Data: recode[X](x)}, scalar(l.in.Scale), scalar(X(l.in.Zero+shift[X]())),
		onnx.Tensor[int8]{Shape: wShape, Data: l.w.Data}, ws, wz,
		scalar(l.out.Scale), scalar(Y(l.out.Zero+shift[Y]())), b,
		onnx.ConvAttrs{Pads: []int{pad, pad, pad, pad}, Strides: []int{stride, stride}})
	return back(y.Data), err
}

// onnxMatMul runs QLinearMatMul of x [n, k] by the transposed weights.
func onnxMatMul[X, Y int8 | uint8](l randLayer, x []int8, n, k, m int) ([]int8, error) {
	ws, wz := weightParams(l.w)
	bt := make([]int8, k*m)
	for c := range m {
		for i := range k {
			bt[i*m+c] = l.w.Data[c*k+i]
		}
	}
	y, err := onnx.QLinearMatMul(
		onnx.Tensor[X]{Shape: []int{n, k}, Data: recode[X](x)}, scalar(l.in.Scale), scalar(X(l.in.Zero+shift[X]())),
		onnx.Tensor[int8]{Shape: []int{k, m}, Data: bt}, ws, wz,
		scalar(l.out.Scale), scalar(Y(l.out.Zero+shift[Y]())))
	return back(y.Data), err
}

func back[Y int8 | uint8](y []Y) []int8 {
	s := shift[Y]()
	out := make([]int8, len(y))
	for i, v := range y {
		out[i] = int8(int32(v) - s)
	}
	return out
}

// byTypes dispatches on the declared dtypes of a layer's input and output.
func byTypes(l randLayer, f8, f8u, fu8, fu func() ([]int8, error)) ([]int8, error) {
	switch {
	case l.in.Declared.DType == quant.Int8 && l.out.Declared.DType == quant.Int8:
		return f8()
	case l.in.Declared.DType == quant.Int8:
		return f8u()
	case l.out.Declared.DType == quant.Int8:
		return fu8()
	}
	return fu()
}

// TestLayersMatchONNXOperators checks that qnn's int8 Linear and Conv2D
// compute exactly what pkg/quant/onnx's QLinearMatMul and QLinearConv
// compute (the operators an export hands to ONNX Runtime), on random
// scales (log-uniform and powers of two), zero points, int8 and uint8
// activations, per-tensor and per-channel weights with zero points,
// biases, and the accumulators of random codes. Linear without bias is
// compared with QLinearMatMul; with a bias, with QLinearConv on a 1×1
// image. Every output code is one case: at least 100,000 accumulators
// and 100,000 multipliers, and half the Linear layers have one row steered
// next to rounding ties (steerToTies), where any other multiplier or
// product arithmetic shows.
func TestLayersMatchONNXOperators(t *testing.T) {
	r := rand.New(rand.NewPCG(81, 82))
	outputs, multipliers, ties := 0, 0, 0
	for trial := range 2000 {
		k, m, n := 1+r.IntN(64), 1+r.IntN(128), 1+r.IntN(4)
		l := drawLayer(t, r, k, m, trial%4 >= 2)
		x := codes(r, l.in, n*k)
		if trial%2 == 0 {
			ties += steerToTies(r, &l, x, r.IntN(n), k, m)
		}
		lin, err := qnn.NewLinear(l.w, k, m, l.bias, l.in, l.out, false)
		require.NoError(t, err, "trial %d", trial)
		got, err := lin.Forward(&qnn.Tensor{Shape: []int{n, k}, Data: x, Act: l.in})
		require.NoError(t, err)
		var want []int8
		if l.bias == nil {
			want, err = byTypes(l,
				func() ([]int8, error) { return onnxMatMul[int8, int8](l, x, n, k, m) },
				func() ([]int8, error) { return onnxMatMul[int8, uint8](l, x, n, k, m) },
				func() ([]int8, error) { return onnxMatMul[uint8, int8](l, x, n, k, m) },
				func() ([]int8, error) { return onnxMatMul[uint8, uint8](l, x, n, k, m) })
		} else {
			qb, berr := quant.QuantizeBias(l.bias, l.in.Scale, l.w.Scale)
			require.NoError(t, berr)
			require.Equal(t, qb, lin.Int32Bias(), "trial %d: one bias rule", trial)
			xs, ws := []int{n, k, 1, 1}, []int{m, k, 1, 1}
			want, err = byTypes(l,
				func() ([]int8, error) { return onnxConv[int8, int8](l, x, xs, ws, qb, 0, 1) },
				func() ([]int8, error) { return onnxConv[int8, uint8](l, x, xs, ws, qb, 0, 1) },
				func() ([]int8, error) { return onnxConv[uint8, int8](l, x, xs, ws, qb, 0, 1) },
				func() ([]int8, error) { return onnxConv[uint8, uint8](l, x, xs, ws, qb, 0, 1) })
		}
		require.NoError(t, err)
		require.Equal(t, want, got.Data, "Linear trial %d: %d→%d, %d rows, in %+v out %+v w scales %v zeros %v",
			trial, k, m, n, l.in, l.out, l.w.Scale, l.w.Zero)
		outputs += len(want)
		multipliers += len(l.w.Scale)
	}
	for trial := range 300 {
		inC, outC := 1+r.IntN(4), 1+r.IntN(32)
		kh, kw := 1+r.IntN(5), 1+r.IntN(5)
		stride, pad := 1+r.IntN(3), r.IntN(min(kh, kw))
		h, w := kh+r.IntN(10), kw+r.IntN(10)
		n := 1 + r.IntN(3)
		l := drawLayer(t, r, inC*kh*kw, outC, trial%3 != 0)
		conv, err := qnn.NewConv2D(l.w, inC, outC, kh, kw, stride, pad, l.bias, l.in, l.out, false)
		require.NoError(t, err, "trial %d", trial)
		xs, ws := []int{n, inC, h, w}, []int{outC, inC, kh, kw}
		x := codes(r, l.in, n*inC*h*w)
		got, err := conv.Forward(&qnn.Tensor{Shape: xs, Data: x, Act: l.in})
		require.NoError(t, err)
		qb := conv.Int32Bias()
		want, err := byTypes(l,
			func() ([]int8, error) { return onnxConv[int8, int8](l, x, xs, ws, qb, pad, stride) },
			func() ([]int8, error) { return onnxConv[int8, uint8](l, x, xs, ws, qb, pad, stride) },
			func() ([]int8, error) { return onnxConv[uint8, int8](l, x, xs, ws, qb, pad, stride) },
			func() ([]int8, error) { return onnxConv[uint8, uint8](l, x, xs, ws, qb, pad, stride) })
		require.NoError(t, err)
		require.Equal(t, want, got.Data, "Conv2D trial %d: %v * %v stride %d pad %d, in %+v out %+v w scales %v zeros %v",
			trial, xs, ws, stride, pad, l.in, l.out, l.w.Scale, l.w.Zero)
		outputs += len(want)
		multipliers += len(l.w.Scale)
	}
	assert.GreaterOrEqual(t, outputs, 100000, "output codes compared")
	assert.GreaterOrEqual(t, multipliers, 100000, "random multipliers")
	assert.GreaterOrEqual(t, ties, 20000, "outputs steered next to a rounding tie")
	t.Logf("%d output codes (%d steered next to a tie), %d random multipliers: bit-identical", outputs, ties, multipliers)
}
