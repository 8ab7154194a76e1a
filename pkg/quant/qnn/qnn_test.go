package qnn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Every kernel is checked against a float reference computed on the
// dequantized inputs and weights: the int8 result may differ from the
// reference quantized to the output grid by at most one code (the int32
// bias and the float32 multiplier each round once), and where the
// arithmetic is exact (MaxPool2D, ReLU) it must not differ at all.

// testAct returns per-tensor affine qparams of dtype for the real range
// [lo, hi], as MinMax calibration would pick them.
func testAct(t *testing.T, dtype quant.DType, lo, hi float32) Act {
	t.Helper()
	spec := quant.Spec{DType: dtype, Scheme: quant.Affine}
	s, z, err := quant.ChooseQParams(lo, hi, spec)
	require.NoError(t, err)
	a, err := NewAct(quant.PerTensorParams(dtype, s, z))
	require.NoError(t, err)
	return a
}

// testWeights quantizes w [out, ...] with a MinMax observer of spec.
func testWeights(t *testing.T, w *tensor.Tensor, spec quant.Spec) Weights {
	t.Helper()
	obs, err := quant.NewObserver(quant.MethodMinMax, spec)
	require.NoError(t, err)
	require.NoError(t, obs.Observe(w))
	qp, err := obs.QParams()
	require.NoError(t, err)
	q, err := quant.Quantize(w, qp)
	require.NoError(t, err)
	ws, err := NewWeights(q)
	require.NoError(t, err)
	return ws
}

// dequantizeWeights returns the real weights the codes stand for.
func dequantizeWeights(w Weights, out int) []float64 {
	per := len(w.Data) / out
	r := make([]float64, len(w.Data))
	for i, q := range w.Data {
		c := w.channel(i / per)
		r[i] = float64(int32(q)-w.Zero[c]) * float64(w.Scale[c])
	}
	return r
}

func randTensor(r *rand.Rand, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = lo + (hi-lo)*r.Float32()
	}
	return t
}

func randBias(r *rand.Rand, n int) []float32 {
	b := make([]float32, n)
	for i := range b {
		b[i] = float32(r.NormFloat64() * 0.5)
	}
	return b
}

// expectCodes compares kernel output codes with the reference values
// quantized to the output grid (clamped at the zero point for a fused
// ReLU), allowing tol codes of difference.
func expectCodes(t *testing.T, got *Tensor, ref []float64, out Act, relu bool, tol int32) {
	t.Helper()
	require.Len(t, got.Data, len(ref), "outputs")
	worst := int32(0)
	for i, v := range ref {
		want := quant.QuantizeValue(float32(v), out.Scale, out.Zero, out.Min, out.Max)
		if relu {
			want = max(want, out.Zero)
		}
		d := int32(got.Data[i]) - want
		if d < 0 {
			d = -d
		}
		if d > tol {
			t.Fatalf("output %d: code %d, reference %g quantizes to %d (tolerance %d)", i, got.Data[i], v, want, tol)
		}
		worst = max(worst, d)
	}
	t.Logf("largest code difference from the float reference: %d", worst)
}

func TestLinearAgainstFloatReference(t *testing.T) {
	perChannel := quant.WeightDefault
	perTensor := quant.WeightDefault
	perTensor.Granularity = quant.PerTensor
	affineU8 := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}
	cases := []struct {
		name    string
		n, in   int
		out     int
		wspec   quant.Spec
		act     quant.DType
		bias    bool
		relu    bool
		outLo   float32
		outHi   float32
		xLo     float32
		xHi     float32
		tolCode int32
	}{
		{"per-channel int8, bias", 4, 16, 8, perChannel, quant.Int8, true, false, -6, 6, -1, 1, 1},
		{"per-tensor int8, no bias", 3, 9, 5, perTensor, quant.Int8, false, false, -6, 6, -1, 1, 1},
		{"per-channel uint8 activations, ReLU", 5, 12, 7, perChannel, quant.UInt8, true, true, 0, 6, -1, 2, 1},
		{"uint8 affine weights", 2, 20, 4, affineU8, quant.UInt8, true, false, -8, 8, 0, 1, 1},
		{"narrow output range saturates", 4, 16, 3, perChannel, quant.Int8, true, false, -0.5, 0.5, -1, 1, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			x := randTensor(r, c.xLo, c.xHi, c.n, c.in)
			w := randTensor(r, -0.5, 0.5, c.out, c.in)
			ws := testWeights(t, w, c.wspec)
			var bias []float32
			if c.bias {
				bias = randBias(r, c.out)
			}
			in := testAct(t, c.act, c.xLo, c.xHi)
			out := testAct(t, c.act, c.outLo, c.outHi)
			k, err := NewLinear(ws, c.in, c.out, bias, in, out, c.relu)
			require.NoError(t, err)
			xq := QuantizeTensor(x, in)
			y, err := k.Forward(xq)
			require.NoError(t, err)
			require.Equal(t, []int{c.n, c.out}, y.Shape, "shape")
			xd := xq.Dequantize().Data()
			wd := dequantizeWeights(ws, c.out)
			ref := make([]float64, c.n*c.out)
			for s := range c.n {
				for o := range c.out {
					var v float64
					for j := range c.in {
						v += float64(xd[s*c.in+j]) * wd[o*c.in+j]
					}
					if bias != nil {
						v += float64(bias[o])
					}
					ref[s*c.out+o] = v
				}
			}
			expectCodes(t, y, ref, out, c.relu, c.tolCode)
		})
	}
}

// convRef is a direct float convolution (zero padding) of x [n, c, h, w]
// with weights [oc, c, k, k].
func convRef(x []float32, n, c, h, w int, wd []float64, oc, k, stride, pad int, bias []float32) (ref []float64, oh, ow int) {
	oh, ow = (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	ref = make([]float64, n*oc*oh*ow)
	for s := range n {
		for o := range oc {
			for y := range oh {
				for xx := range ow {
					var v float64
					for ch := range c {
						for ky := range k {
							for kx := range k {
								iy, ix := y*stride+ky-pad, xx*stride+kx-pad
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								v += float64(x[((s*c+ch)*h+iy)*w+ix]) * wd[((o*c+ch)*k+ky)*k+kx]
							}
						}
					}
					if bias != nil {
						v += float64(bias[o])
					}
					ref[((s*oc+o)*oh+y)*ow+xx] = v
				}
			}
		}
	}
	return ref, oh, ow
}

func TestConv2DAgainstFloatReference(t *testing.T) {
	cases := []struct {
		name                   string
		n, c, h, w, oc, k      int
		stride, pad            int
		act                    quant.DType
		granularity            quant.Granularity
		bias, relu             bool
		xLo, xHi, outLo, outHi float32
	}{
		{"3x3 stride 1 pad 1", 2, 3, 6, 6, 4, 3, 1, 1, quant.Int8, quant.PerChannel, true, false, -1, 1, -4, 4},
		{"3x3 stride 2 pad 1", 2, 2, 7, 7, 3, 3, 2, 1, quant.Int8, quant.PerChannel, true, false, -1, 1, -4, 4},
		{"2x2 stride 2 no padding, uint8", 3, 2, 8, 6, 5, 2, 2, 0, quant.UInt8, quant.PerTensor, false, false, 0, 1, -2, 2},
		{"1x1 kernel", 1, 4, 5, 5, 6, 1, 1, 0, quant.Int8, quant.PerChannel, true, false, -1, 1, -3, 3},
		{"3x3 stride 2 pad 2, ReLU", 2, 3, 5, 9, 4, 3, 2, 2, quant.UInt8, quant.PerChannel, true, true, -1, 3, 0, 6},
		{"one-sided input, padding reads the zero point", 1, 1, 4, 4, 2, 3, 1, 1, quant.Int8, quant.PerTensor, false, false, 0.5, 1, -3, 3},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 2))
			x := randTensor(r, c.xLo, c.xHi, c.n, c.c, c.h, c.w)
			w := randTensor(r, -0.5, 0.5, c.oc, c.c, c.k, c.k)
			spec := quant.WeightDefault
			spec.Granularity = c.granularity
			ws := testWeights(t, w, spec)
			var bias []float32
			if c.bias {
				bias = randBias(r, c.oc)
			}
			in := testAct(t, c.act, c.xLo, c.xHi)
			out := testAct(t, c.act, c.outLo, c.outHi)
			k, err := NewConv2D(ws, c.c, c.oc, c.k, c.k, c.stride, c.pad, bias, in, out, c.relu)
			require.NoError(t, err)
			xq := QuantizeTensor(x, in)
			y, err := k.Forward(xq)
			require.NoError(t, err)
			ref, oh, ow := convRef(xq.Dequantize().Data(), c.n, c.c, c.h, c.w, dequantizeWeights(ws, c.oc), c.oc, c.k, c.stride, c.pad, bias)
			require.Equal(t, []int{c.n, c.oc, oh, ow}, y.Shape, "shape")
			expectCodes(t, y, ref, out, c.relu, 1)
		})
	}
}

func TestAddAgainstFloatReference(t *testing.T) {
	cases := []struct {
		name   string
		dtype  quant.DType
		ranges [][2]float32
		out    [2]float32
	}{
		{"two inputs, different scales", quant.Int8, [][2]float32{{-1, 1}, {-4, 2}}, [2]float32{-5, 3}},
		{"uint8, one-sided input", quant.UInt8, [][2]float32{{0, 6}, {-1, 1}}, [2]float32{-1, 7}},
		{"three inputs", quant.Int8, [][2]float32{{-1, 1}, {-2, 2}, {-0.5, 3}}, [2]float32{-3.5, 6}},
		{"output narrower than the sum saturates", quant.Int8, [][2]float32{{-2, 2}, {-2, 2}}, [2]float32{-1, 1}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 3))
			var xs []*Tensor
			ref := make([]float64, 2*3*4*4)
			for _, rg := range c.ranges {
				a := testAct(t, c.dtype, rg[0], rg[1])
				q := QuantizeTensor(randTensor(r, rg[0], rg[1], 2, 3, 4, 4), a)
				xs = append(xs, q)
				for j, v := range q.Dequantize().Data() {
					ref[j] += float64(v)
				}
			}
			out := testAct(t, c.dtype, c.out[0], c.out[1])
			y, err := Add(out, xs...)
			require.NoError(t, err)
			expectCodes(t, y, ref, out, false, 1)
		})
	}
}

func TestPoolsAgainstFloatReference(t *testing.T) {
	cases := []struct {
		name      string
		op        string
		k, stride int
		dtype     quant.DType
		tol       int32
	}{
		{"max 2x2 stride 2", "max", 2, 2, quant.Int8, 0},
		{"max 3x3 stride 1, uint8", "max", 3, 1, quant.UInt8, 0},
		{"avg 2x2 stride 2", "avg", 2, 2, quant.Int8, 1},
		{"avg 3x3 stride 2, uint8", "avg", 3, 2, quant.UInt8, 1},
		{"global avg", "global", 0, 0, quant.Int8, 1},
		{"global avg, uint8", "global", 0, 0, quant.UInt8, 1},
	}
	const n, c, h, w = 2, 3, 7, 7
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 4))
			a := testAct(t, tc.dtype, -2, 3)
			xq := QuantizeTensor(randTensor(r, -2, 3, n, c, h, w), a)
			xd := xq.Dequantize().Data()
			var y *Tensor
			var err error
			var ref []float64
			switch tc.op {
			case "global":
				y, err = GlobalAvgPool(xq)
				for p := range n * c {
					var s float64
					for _, v := range xd[p*h*w : (p+1)*h*w] {
						s += float64(v)
					}
					ref = append(ref, s/float64(h*w))
				}
			default:
				if tc.op == "max" {
					y, err = MaxPool2D(xq, tc.k, tc.stride)
				} else {
					y, err = AvgPool2D(xq, tc.k, tc.stride)
				}
				oh, ow := (h-tc.k)/tc.stride+1, (w-tc.k)/tc.stride+1
				for p := range n * c {
					for oy := range oh {
						for ox := range ow {
							m, s := math.Inf(-1), 0.0
							for ky := range tc.k {
								for kx := range tc.k {
									v := float64(xd[p*h*w+(oy*tc.stride+ky)*w+ox*tc.stride+kx])
									m, s = max(m, v), s+v
								}
							}
							if tc.op == "max" {
								ref = append(ref, m)
							} else {
								ref = append(ref, s/float64(tc.k*tc.k))
							}
						}
					}
				}
			}
			require.NoError(t, err)
			expectCodes(t, y, ref, a, false, tc.tol)
		})
	}
}

func TestReLUClampsAtTheZeroPoint(t *testing.T) {
	for _, dt := range []quant.DType{quant.Int8, quant.UInt8} {
		t.Run(dt.String(), func(t *testing.T) {
			a := testAct(t, dt, -3, 5)
			x := tensor.MustFromData([]float32{-3, -0.01, 0, 0.01, 2.5, 5}, 6)
			y := ReLU(QuantizeTensor(x, a)).Dequantize().Data()
			want := QuantizeTensor(tensor.MustFromData([]float32{0, 0, 0, 0.01, 2.5, 5}, 6), a).Dequantize().Data()
			assert.Equal(t, want, y, "ReLU")
		})
	}
}

// TestInt8AndUint8ActivationsAgree runs every kernel once with int8 and
// once with uint8 affine activations of the same real ranges. The two
// dtypes get the same scale and zero points 128 apart, so every kernel must
// return bit-identical dequantized outputs.
func TestInt8AndUint8ActivationsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	xImg := randTensor(r, -1, 2, 2, 3, 6, 6)
	xVec := randTensor(r, -1, 2, 4, 10)
	wConv := randTensor(r, -0.5, 0.5, 4, 3, 3, 3)
	wLin := randTensor(r, -0.5, 0.5, 5, 10)
	bConv, bLin := randBias(r, 4), randBias(r, 5)
	run := func(t *testing.T, dt quant.DType) map[string][]float32 {
		in := testAct(t, dt, -1, 2)
		out := testAct(t, dt, -3, 4)
		img, vec := QuantizeTensor(xImg, in), QuantizeTensor(xVec, in)
		conv, err := NewConv2D(testWeights(t, wConv, quant.WeightDefault), 3, 4, 3, 3, 2, 1, bConv, in, out, false)
		require.NoError(t, err)
		lin, err := NewLinear(testWeights(t, wLin, quant.WeightDefault), 10, 5, bLin, in, out, true)
		require.NoError(t, err)
		res := map[string][]float32{}
		add := func(name string, y *Tensor, err error) {
			require.NoError(t, err, name)
			res[name] = y.Dequantize().Data()
		}
		y, err := conv.Forward(img)
		add("Conv2D", y, err)
		y, err = lin.Forward(vec)
		add("Linear+ReLU", y, err)
		y, err = Add(out, img, img)
		add("Add", y, err)
		y, err = MaxPool2D(img, 2, 2)
		add("MaxPool2D", y, err)
		y, err = AvgPool2D(img, 3, 1)
		add("AvgPool2D", y, err)
		y, err = GlobalAvgPool(img)
		add("GlobalAvgPool", y, err)
		add("ReLU", ReLU(img), nil)
		return res
	}
	i8, u8 := run(t, quant.Int8), run(t, quant.UInt8)
	for name, a := range i8 {
		b := u8[name]
		require.Len(t, b, len(a), "%s: outputs", name)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Errorf("%s: output %d is %g with int8 activations and %g with uint8", name, i, a[i], b[i])
				break
			}
		}
	}
}

func TestDynamicParamsMatchONNX(t *testing.T) {
	cases := []struct {
		name string
		x    []float32
	}{
		{"onnx example", []float32{0, 2, -3, -2.5, 1.34, 0.5}},
		{"all negative", []float32{-1, -2.1, -1.3, -2.5, -3.34, -4}},
		{"all positive", []float32{1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345}},
		{"all zeros", []float32{0, 0, 0}},
		{"empty", nil},
		{"tie in the zero point", []float32{-127.5, 127.5}},
		{"tiny range", []float32{-1e-30, 3e-30}},
	}
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 20 {
		x := make([]float32, 1+r.IntN(64))
		lo, hi := float32(r.NormFloat64()*3), float32(r.NormFloat64()*3)
		for j := range x {
			x[j] = lo + (hi-lo)*r.Float32()
		}
		cases = append(cases, struct {
			name string
			x    []float32
		}{"random " + string(rune('a'+i)), x})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			act, err := DynamicParams(c.x)
			require.NoError(t, err)
			y, scale, zp, err := onnx.DynamicQuantizeLinear(onnx.Tensor[float32]{Shape: []int{len(c.x)}, Data: c.x})
			require.NoError(t, err)
			d := act.Declared
			if d.DType != quant.UInt8 || math.Float32bits(d.Scale[0]) != math.Float32bits(scale) || d.ZeroPoint[0] != int32(zp) {
				t.Fatalf("qparams %v, ONNX DynamicQuantizeLinear gives uint8 scale=%g zp=%d", d, scale, zp)
			}
			q := make([]int8, len(c.x))
			act.Quantize(q, c.x)
			for j, v := range q {
				if int32(v)+128 != int32(y.Data[j]) {
					t.Fatalf("element %d (%g): code %d (uint8 %d), ONNX gives %d", j, c.x[j], v, int32(v)+128, y.Data[j])
				}
			}
		})
	}
}

func TestDynamicParamsRefusals(t *testing.T) {
	cases := []struct {
		name string
		x    []float32
	}{
		{"NaN", []float32{1, float32(math.NaN())}},
		{"+Inf", []float32{float32(math.Inf(1))}},
		{"-Inf", []float32{0, float32(math.Inf(-1))}},
		{"range overflows float32", []float32{-3e38, 3e38}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DynamicParams(c.x)
			require.ErrorIs(t, err, quant.ErrNonFinite)
		})
	}
}

// TestDynamicLinear checks DynamicLinear three ways: against the float
// product of the dequantized input and weights (equal up to float
// rounding), against ONNX's DynamicQuantizeLinear + MatMulInteger pipeline
// (identical integers), and against the true float layer (close).
func TestDynamicLinear(t *testing.T) {
	perTensor := quant.WeightDefault
	perTensor.Granularity = quant.PerTensor
	affine := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}
	cases := []struct {
		name       string
		n, in, out int
		spec       quant.Spec
		bias       bool
		xLo, xHi   float32
		minCos     float64
	}{
		{"per-channel, bias", 8, 32, 16, quant.WeightDefault, true, -1, 1, 0.9995},
		{"per-tensor, no bias", 4, 20, 6, perTensor, false, -1, 3, 0.9995},
		{"uint8 affine weights", 5, 24, 7, affine, true, 0, 1, 0.9995},
		{"one-sided negative input", 3, 16, 4, quant.WeightDefault, true, -2, -0.5, 0.9995},
		{"single sample", 1, 64, 10, quant.WeightDefault, true, -1, 1, 0.9995},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 6))
			x := randTensor(r, c.xLo, c.xHi, c.n, c.in)
			w := randTensor(r, -0.5, 0.5, c.out, c.in)
			ws := testWeights(t, w, c.spec)
			var bias []float32
			if c.bias {
				bias = randBias(r, c.out)
			}
			k, err := NewDynamicLinear(ws, c.in, c.out, bias)
			require.NoError(t, err)
			y, err := k.Forward(x)
			require.NoError(t, err)
			require.Equal(t, []int{c.n, c.out}, y.Shape(), "shape")
			act, err := DynamicParams(x.Data())
			require.NoError(t, err)
			xd := QuantizeTensor(x, act).Dequantize().Data()
			wd := dequantizeWeights(ws, c.out)
			exact := make([]float32, c.n*c.out)
			for s := range c.n {
				for o := range c.out {
					var v, f float64
					for j := range c.in {
						v += float64(xd[s*c.in+j]) * wd[o*c.in+j]
						f += float64(x.Data()[s*c.in+j]) * float64(w.Data()[o*c.in+j])
					}
					if bias != nil {
						v += float64(bias[o])
						f += float64(bias[o])
					}
					exact[s*c.out+o] = float32(f)
					got := float64(y.Data()[s*c.out+o])
					require.InDelta(t, v, got, 1e-5*max(1, math.Abs(v)), "output [%d %d] against the dequantized product", s, o)
				}
			}
			assert.GreaterOrEqual(t, quant.CosineSimilarity(exact, y.Data()), c.minCos, "cosine to the float layer")
			// ONNX: y = MatMulInteger(DynamicQuantizeLinear(x), Wᵀ) scaled.
			qx, _, zx, err := onnx.DynamicQuantizeLinear(onnx.Tensor[float32]{Shape: x.Shape(), Data: x.Data()})
			require.NoError(t, err)
			wt := make([]int8, c.in*c.out)
			for o := range c.out {
				for j := range c.in {
					wt[j*c.out+o] = ws.Data[o*c.in+j]
				}
			}
			acc, err := onnx.MatMulInteger(qx, onnx.Tensor[int8]{Shape: []int{c.in, c.out}, Data: wt},
				onnx.Tensor[uint8]{Data: []uint8{zx}}, onnx.Tensor[int8]{Shape: []int{len(ws.Zero)}, Data: int8s(ws.Zero)})
			require.NoError(t, err)
			for s := range c.n {
				for o := range c.out {
					v := float32(float64(acc.Data[s*c.out+o]) * float64(act.Scale) * float64(ws.Scale[ws.channel(o)]))
					if bias != nil {
						v += bias[o]
					}
					if got := y.Data()[s*c.out+o]; math.Float32bits(got) != math.Float32bits(v) {
						t.Fatalf("output [%d %d] = %g, ONNX pipeline %g", s, o, got, v)
					}
				}
			}
		})
	}
}

func int8s(v []int32) []int8 {
	out := make([]int8, len(v))
	for i, x := range v {
		out[i] = int8(x)
	}
	return out
}

func TestKernelErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w := testWeights(t, randTensor(r, -1, 1, 4, 6), quant.WeightDefault)
	act := testAct(t, quant.Int8, -1, 1)
	lin, err := NewLinear(w, 6, 4, nil, act, act, false)
	require.NoError(t, err)
	dyn, err := NewDynamicLinear(w, 6, 4, nil)
	require.NoError(t, err)
	conv, err := NewConv2D(testWeights(t, randTensor(r, -1, 1, 2, 1, 3, 3), quant.WeightDefault), 1, 2, 3, 3, 1, 0, nil, act, act, false)
	require.NoError(t, err)
	q := func(shape ...int) *Tensor {
		return &Tensor{Shape: shape, Data: make([]int8, tensor.New(shape...).Len()), Act: act}
	}
	perChannel := quant.QParams{DType: quant.Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: 0}
	cases := []struct {
		name string
		err  func() error
		want error
	}{
		{"Linear input width", func() error { _, err := lin.Forward(q(2, 5)); return err }, quant.ErrShape},
		{"Linear input rank", func() error { _, err := lin.Forward(q(2, 6, 1)); return err }, quant.ErrShape},
		{"Linear weight count", func() error { _, err := NewLinear(w, 5, 4, nil, act, act, false); return err }, quant.ErrShape},
		{"Linear bias count", func() error { _, err := NewLinear(w, 6, 4, []float32{1}, act, act, false); return err }, quant.ErrShape},
		{"Linear bias beyond int32", func() error {
			_, err := NewLinear(w, 6, 4, []float32{1e30, 0, 0, 0}, act, act, false)
			return err
		}, quant.ErrNonFinite},
		{"DynamicLinear input width", func() error { _, err := dyn.Forward(tensor.New(3, 7)); return err }, quant.ErrShape},
		{"DynamicLinear NaN input", func() error {
			x := tensor.New(1, 6)
			x.Data()[3] = float32(math.NaN())
			_, err := dyn.Forward(x)
			return err
		}, quant.ErrNonFinite},
		{"DynamicLinear weight count", func() error { _, err := NewDynamicLinear(w, 6, 3, nil); return err }, quant.ErrShape},
		{"DynamicLinear bias count", func() error { _, err := NewDynamicLinear(w, 6, 4, make([]float32, 3)); return err }, quant.ErrShape},
		{"Conv2D channels", func() error { _, err := conv.Forward(q(1, 2, 5, 5)); return err }, quant.ErrShape},
		{"Conv2D input smaller than kernel", func() error { _, err := conv.Forward(q(1, 1, 2, 2)); return err }, quant.ErrShape},
		{"Conv2D stride 0", func() error { _, err := NewConv2D(conv.W, 1, 2, 3, 3, 0, 0, nil, act, act, false); return err }, quant.ErrShape},
		{"Add one input", func() error { _, err := Add(act, q(2, 3)); return err }, quant.ErrShape},
		{"Add shapes differ", func() error { _, err := Add(act, q(2, 3), q(3, 2)); return err }, quant.ErrShape},
		{"MaxPool2D window larger than input", func() error { _, err := MaxPool2D(q(1, 1, 2, 2), 3, 1); return err }, quant.ErrShape},
		{"AvgPool2D rank", func() error { _, err := AvgPool2D(q(1, 4), 2, 2); return err }, quant.ErrShape},
		{"GlobalAvgPool rank", func() error { _, err := GlobalAvgPool(q(1, 4, 4)); return err }, quant.ErrShape},
		{"per-channel activation qparams", func() error { _, err := NewAct(perChannel); return err }, quant.ErrInvalidParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, c.err(), c.want)
		})
	}
}
