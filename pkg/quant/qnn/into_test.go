package qnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// poolRef is the definition the pooling kernels are tested against: every
// window gathered into a slice, then reduced by f.
func poolRef(x *Tensor, k, stride int, f func([]int8) int8) []int8 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := (h-k)/stride+1, (w-k)/stride+1
	var out []int8
	for p := range n * c {
		plane := x.Data[p*h*w : (p+1)*h*w]
		for oy := range oh {
			for ox := range ow {
				var win []int8
				for ky := range k {
					for kx := range k {
						win = append(win, plane[(oy*stride+ky)*w+ox*stride+kx])
					}
				}
				out = append(out, f(win))
			}
		}
	}
	return out
}

func maxRef(win []int8) int8 {
	m := win[0]
	for _, v := range win {
		m = max(m, v)
	}
	return m
}

// randCodes returns a tensor of random codes, an eighth of them at each
// int8 extreme, with qparams a.
func randCodes(r *rand.Rand, a Act, shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := &Tensor{Shape: shape, Data: make([]int8, n), Act: a}
	for i := range x.Data {
		switch r.IntN(8) {
		case 0:
			x.Data[i] = -128
		case 1:
			x.Data[i] = 127
		default:
			x.Data[i] = int8(r.IntN(256) - 128)
		}
	}
	return x
}

func TestPoolKernelsMatchDefinition(t *testing.T) {
	cases := []struct {
		name       string
		n, c, h, w int
		k, stride  int
	}{
		{"2x2 stride 2, even planes", 2, 3, 8, 6, 2, 2},
		{"2x2 stride 2, odd planes drop the last row and column", 1, 2, 7, 9, 2, 2},
		{"3x3 stride 1", 2, 2, 7, 7, 3, 1},
		{"3x3 stride 2", 1, 3, 9, 8, 3, 2},
		{"2x2 stride 1", 1, 1, 5, 4, 2, 1},
		{"1x1", 1, 2, 3, 3, 1, 1},
		{"window as large as the plane", 2, 2, 4, 4, 4, 1},
	}
	r := rand.New(rand.NewPCG(21, 22))
	var y Tensor // reused across cases of different shapes
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := randCodes(r, Act{Scale: 0.1, Zero: -3, Min: -128, Max: 127}, tc.n, tc.c, tc.h, tc.w)
			require.NoError(t, MaxPool2DInto(&y, x, tc.k, tc.stride))
			assert.Equal(t, poolRef(x, tc.k, tc.stride, maxRef), y.Data, "max pool")
			oh, ow := (tc.h-tc.k)/tc.stride+1, (tc.w-tc.k)/tc.stride+1
			assert.Equal(t, []int{tc.n, tc.c, oh, ow}, y.Shape)
			require.NoError(t, AvgPool2DInto(&y, x, tc.k, tc.stride))
			assert.Equal(t, poolRef(x, tc.k, tc.stride, mean), y.Data, "average pool")
		})
	}
}

// convCase is one convolution geometry with its requantization.
type convCase struct {
	name              string
	n, c, h, w, oc, k int
	stride, pad       int
	dtype             quant.DType
	granularity       quant.Granularity
	relu              bool
	poolK, poolStride int
}

func (tc convCase) build(t *testing.T, r *rand.Rand) (*Conv2D, *Tensor) {
	t.Helper()
	spec := quant.WeightDefault
	spec.Granularity = tc.granularity
	ws := testWeights(t, randTensor(r, -0.5, 0.5, tc.oc, tc.c, tc.k, tc.k), spec)
	in, out := testAct(t, tc.dtype, -1, 2), testAct(t, tc.dtype, -3, 3)
	l, err := NewConv2D(ws, tc.c, tc.oc, tc.k, tc.k, tc.stride, tc.pad, randBias(r, tc.oc), in, out, tc.relu)
	require.NoError(t, err)
	return l, QuantizeTensor(randTensor(r, -1, 2, tc.n, tc.c, tc.h, tc.w), in)
}

var convCases = []convCase{
	{"SmallCNN conv1 + pool", 3, 1, 28, 28, 16, 3, 1, 1, quant.Int8, quant.PerChannel, true, 2, 2},
	{"SmallCNN conv2 + pool (VNNI depth)", 2, 16, 14, 14, 32, 3, 1, 1, quant.Int8, quant.PerChannel, true, 2, 2},
	{"uint8, per-tensor, no ReLU, 3x3 pool stride 2", 2, 3, 9, 11, 5, 3, 1, 0, quant.UInt8, quant.PerTensor, false, 3, 2},
	{"stride 2 conv, 2x2 pool stride 1", 1, 4, 10, 10, 20, 3, 2, 2, quant.Int8, quant.PerChannel, true, 2, 1},
	{"odd output, pool drops the last row", 2, 2, 7, 7, 3, 2, 1, 0, quant.Int8, quant.PerChannel, false, 2, 2},
}

// TestConvIntoMatchesForward checks ForwardInto and ForwardMaxPoolInto
// against Forward and MaxPool2D(Forward), bit for bit, with one output
// tensor and one Scratch reused across every case.
func TestConvIntoMatchesForward(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	var y, pooled Tensor
	var s Scratch
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			l, x := tc.build(t, r)
			want, err := l.Forward(x)
			require.NoError(t, err)
			require.NoError(t, l.ForwardInto(&y, x, &s))
			assert.Equal(t, want.Shape, y.Shape)
			assert.Equal(t, want.Data, y.Data, "ForwardInto")
			assert.Equal(t, want.Act, y.Act)
			wantPool, err := MaxPool2D(want, tc.poolK, tc.poolStride)
			require.NoError(t, err)
			require.True(t, l.rq.monotone(tc.c*tc.k*tc.k), "the fused path must run")
			require.NoError(t, l.ForwardMaxPoolInto(&pooled, x, tc.poolK, tc.poolStride, &s))
			assert.Equal(t, wantPool.Shape, pooled.Shape)
			assert.Equal(t, wantPool.Data, pooled.Data, "ForwardMaxPoolInto")

			p := l.Prepare()
			require.NoError(t, p.ForwardInto(&y, x, &s))
			assert.Equal(t, want.Data, y.Data, "prepared (channels-last) ForwardInto")
			require.NoError(t, p.ForwardMaxPoolInto(&pooled, x, tc.poolK, tc.poolStride, &s))
			assert.Equal(t, wantPool.Data, pooled.Data, "prepared (channels-last) ForwardMaxPoolInto")
		})
	}
}

// TestConvMaxPoolUnfusedWhenNotMonotone gives a kernel biases at the
// int32 limits, where an accumulator plus bias could wrap: the kernel
// must requantize before pooling, and still agree with the two steps.
func TestConvMaxPoolUnfusedWhenNotMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	tc := convCases[1]
	l, x := tc.build(t, r)
	bias := make([]int32, tc.oc)
	for i := range bias {
		bias[i] = []int32{math.MaxInt32, math.MinInt32 + 1, 0}[i%3]
	}
	l, err := NewConv2DInt32Bias(l.W, tc.c, tc.oc, tc.k, tc.k, tc.stride, tc.pad, bias, l.InAct, l.OutAct, tc.relu)
	require.NoError(t, err)
	require.False(t, l.rq.monotone(tc.c*tc.k*tc.k))
	want, err := l.Forward(x)
	require.NoError(t, err)
	wantPool, err := MaxPool2D(want, 2, 2)
	require.NoError(t, err)
	var y Tensor
	var s Scratch
	require.NoError(t, l.ForwardMaxPoolInto(&y, x, 2, 2, &s))
	assert.Equal(t, wantPool.Data, y.Data)
	require.NoError(t, l.Prepare().ForwardMaxPoolInto(&y, x, 2, 2, &s))
	assert.Equal(t, wantPool.Data, y.Data, "prepared")
}

func TestLinearIntoMatchesForward(t *testing.T) {
	cases := []struct {
		name        string
		n, in, out  int
		granularity quant.Granularity
		relu        bool
	}{
		{"MLP hidden layer, batch 64 (VNNI depth)", 64, 784, 256, quant.PerChannel, true},
		{"MLP classifier, batch 1", 1, 256, 10, quant.PerChannel, false},
		{"shallow, per-tensor", 5, 9, 7, quant.PerTensor, false},
	}
	r := rand.New(rand.NewPCG(27, 28))
	var y Tensor
	var s Scratch
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := quant.WeightDefault
			spec.Granularity = tc.granularity
			ws := testWeights(t, randTensor(r, -0.5, 0.5, tc.out, tc.in), spec)
			in, out := testAct(t, quant.Int8, -1, 2), testAct(t, quant.Int8, -3, 3)
			l, err := NewLinear(ws, tc.in, tc.out, randBias(r, tc.out), in, out, tc.relu)
			require.NoError(t, err)
			x := randCodes(r, in, tc.n, tc.in)
			want, err := l.Forward(x)
			require.NoError(t, err)
			require.NoError(t, l.ForwardInto(&y, x, &s))
			assert.Equal(t, want.Shape, y.Shape)
			assert.Equal(t, want.Data, y.Data)
		})
	}
}

func TestQuantizeIntoMatchesQuantize(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name       string
		dtype      quant.DType
		lo, hi     float32
		values     []float32
		wantFinite bool
	}{
		{"halfway values round to even", quant.Int8, -1, 1, []float32{0, 0.5 / 127, 1.5 / 127, -2.5 / 127, 1, -1, 0.3}, true},
		{"beyond the range saturates", quant.UInt8, -1, 3, []float32{-1e30, 1e30, 3.0001, -1.0001, 1e-40}, true},
		{"NaN becomes the zero point, Inf a bound", quant.Int8, -2, 1, []float32{nan, inf, -inf, 0.25}, false},
		{"one-sided range clamps the zero point", quant.UInt8, 0.5, 2, []float32{nan, 0, 0.75}, false},
	}
	var y Tensor
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := testAct(t, tc.dtype, tc.lo, tc.hi)
			want := make([]int8, len(tc.values))
			a.Quantize(want, tc.values)
			finite := a.QuantizeInto(&y, tc.values, []int{1, len(tc.values)})
			assert.Equal(t, want, y.Data)
			assert.Equal(t, tc.wantFinite, finite)
			assert.Equal(t, []int{1, len(tc.values)}, y.Shape)
		})
	}
}

func TestAddIntoAndReLUIntoMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	a, b := Act{Scale: 0.05, Zero: 3, Min: -128, Max: 127}, Act{Scale: 0.02, Zero: -7, Min: -128, Max: 127}
	out := Act{Scale: 0.06, Zero: -1, Min: -128, Max: 127}
	x1, x2 := randCodes(r, a, 2, 3, 4, 5), randCodes(r, b, 2, 3, 4, 5)
	want, err := Add(out, x1, x2)
	require.NoError(t, err)
	var y Tensor
	ratio, err := AddInto(&y, out, []*Tensor{x1, x2}, nil)
	require.NoError(t, err)
	assert.Len(t, ratio, 2)
	assert.Equal(t, want.Data, y.Data)
	assert.Equal(t, want.Shape, y.Shape)
	_, err = AddInto(&y, out, []*Tensor{x1, randCodes(r, b, 2, 3, 5, 4)}, ratio)
	assert.ErrorIs(t, err, quant.ErrShape)

	assert.Equal(t, ReLU(x1).Data, func() []int8 { ReLUInto(&y, x1); return y.Data }())
}

// TestIntoKernelsDoNotAllocate runs the kernels of a SmallCNN-like
// network twice on one Scratch and output tensors: the second run
// allocates nothing.
func TestIntoKernelsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	conv1, x := convCases[0].build(t, r)
	conv2, _ := convCases[1].build(t, r)
	prepared := conv2.Prepare()
	var s Scratch
	var y1, y2, y3 Tensor
	run := func() {
		require.NoError(t, conv1.ForwardMaxPoolInto(&y1, x, 2, 2, &s))
		y1.Act = conv2.InAct
		require.NoError(t, conv2.ForwardInto(&y2, &y1, &s))
		require.NoError(t, MaxPool2DInto(&y3, &y2, 2, 2))
		require.NoError(t, prepared.ForwardMaxPoolInto(&y2, &y1, 2, 2, &s))
	}
	for _, tc := range []struct {
		name string
		max  float64
	}{{"steady state", map[bool]float64{false: 0, true: 40}[raceEnabled]}} { // under -race, pools drop buffers
		t.Run(tc.name, func(t *testing.T) {
			run()
			got := testing.AllocsPerRun(5, run)
			assert.LessOrEqual(t, got, tc.max, fmt.Sprintf("allocations per run: %g", got))
		})
	}
}

// TestMaxPoolAccKernelsMatchDefinition checks each 2×2, stride 2
// accumulator pooling kernel against the generic Go loop, on accumulators
// at the int32 extremes, output positions beyond the pooled ones left
// untouched.
func TestMaxPoolAccKernelsMatchDefinition(t *testing.T) {
	kernels := map[string]func(dst, acc []int32, c, ow, ph, pw int){"go": maxPool2x2AccGo}
	if haveAsmPool {
		kernels["asm"] = asmPool
	}
	cases := []struct {
		name      string
		c, oh, ow int
	}{
		{"SmallCNN conv1: 16 channels, 28x28", 16, 28, 28},
		{"SmallCNN conv2: 32 channels, 14x14", 32, 14, 14},
		{"8 channels, odd plane drops a row and a column", 8, 7, 5},
		{"24 channels, one window", 24, 2, 2},
	}
	r := rand.New(rand.NewPCG(33, 34))
	for name, kern := range kernels {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				acc := make([]int32, tc.oh*tc.ow*tc.c)
				for i := range acc {
					acc[i] = []int32{math.MinInt32, math.MaxInt32, int32(r.Uint32())}[r.IntN(3)]
				}
				ph, pw := tc.oh/2, tc.ow/2
				want := make([]int32, ph*pw*tc.c+3)
				got := make([]int32, len(want))
				for i := range want {
					want[i], got[i] = -7, -7
				}
				maxPoolAccGo(want, acc, tc.c, tc.ow, ph, pw, 2, 2)
				kern(got, acc, tc.c, tc.ow, ph, pw)
				assert.Equal(t, want, got)
			})
		}
	}
}

// TestIm2rowIntoMatchesDefinition checks the 4-byte runs of im2rowInto
// against the one-code-at-a-time definition, into buffers prefilled with
// a canary, for 3×3 kernels at every stride and padding SmallCNN-like
// layers use, one channel and many, and for another kernel (im2row).
func TestIm2rowIntoMatchesDefinition(t *testing.T) {
	cases := []im2rowCase{
		{1, 28, 28, 3, 3, 1, 1}, {16, 14, 14, 3, 3, 1, 1}, {3, 9, 7, 3, 3, 2, 1},
		{2, 8, 11, 3, 3, 3, 2}, {4, 5, 5, 3, 3, 1, 0}, {1, 3, 3, 3, 3, 1, 0}, {2, 6, 6, 5, 5, 1, 2},
	}
	r := rand.New(rand.NewPCG(35, 36))
	for _, g := range cases {
		t.Run(g.String(), func(t *testing.T) {
			x := make([]int8, g.c*g.h*g.w)
			for i := range x {
				x[i] = int8(r.IntN(256) - 128)
			}
			oh, ow := g.out()
			want := make([]int8, oh*ow*g.c*g.kh*g.kw)
			im2rowRef(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, -9, want)
			got := make([]int8, len(want))
			fill(got, 0x5a)
			padded := make([]int8, g.c*(g.h+2*g.pad)*(g.w+2*g.pad))
			fill(padded, 0x5a)
			im2rowInto(x, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, oh, ow, -9, got, padded)
			assert.Equal(t, want, got)
		})
	}
}

// TestQuantizeKernelsMatchQuantizeValue checks each quantization kernel,
// through QuantizeInto at every length around its group of 8, against
// ONNX QuantizeLinear value by value (quant.QuantizeValue via
// Act.Quantize), with NaN, ±Inf, values halfway between codes, beyond the
// range and tiny ones mixed in, and the finite flag.
func TestQuantizeKernelsMatchQuantizeValue(t *testing.T) {
	kernels := map[string]func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool{"go": quantizeGo}
	if haveAsmQuantize {
		kernels["asm"] = asmQuantize
	}
	for name, k := range asmQuantizeKernelSet() {
		kernels["asm-"+name] = k
	}
	acts := []struct {
		name   string
		dtype  quant.DType
		lo, hi float32
	}{
		{"int8 symmetric-ish", quant.Int8, -1, 1},
		{"uint8 one-sided", quant.UInt8, 0.5, 2},
	}
	r := rand.New(rand.NewPCG(37, 38))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -1e30, 1e-40, 0, float32(math.Copysign(0, -1))}
	for name, kern := range kernels {
		for _, ac := range acts {
			t.Run(name+"/"+ac.name, func(t *testing.T) {
				saved := quantizeKernelInUse
				quantizeKernelInUse = kern
				t.Cleanup(func() { quantizeKernelInUse = saved })
				a := testAct(t, ac.dtype, ac.lo, ac.hi)
				var y Tensor
				for n := 1; n < 42; n++ {
					src := make([]float32, n)
					wantFinite := true
					for i := range src {
						switch r.IntN(6) {
						case 0:
							src[i] = special[r.IntN(len(special))]
						case 1:
							src[i] = (float32(r.IntN(200)-100) + 0.5) * a.Scale // halfway between codes
						default:
							src[i] = (ac.lo - 1) + (ac.hi-ac.lo+2)*r.Float32()
						}
						wantFinite = wantFinite && !math.IsNaN(float64(src[i])) && !math.IsInf(float64(src[i]), 0)
					}
					want := make([]int8, n)
					a.Quantize(want, src)
					finite := a.QuantizeInto(&y, src, []int{n})
					require.Equal(t, want, y.Data, "length %d: %v", n, src)
					require.Equal(t, wantFinite, finite, "length %d: %v", n, src)
				}
			})
		}
	}
}

// TestIm2row3x3KernelsMatchDefinition checks each one-channel 3×3
// stride-1 kernel, through im2rowInto with the slack it needs, against
// the one-code-at-a-time definition: padding 0, 1 and 2, square and
// oblong samples.
func TestIm2row3x3KernelsMatchDefinition(t *testing.T) {
	kernels := map[string]func(rows, src []int8, oh, ow, wp int){"go": im2row3x3Go}
	if haveAsmIm2row {
		kernels["asm"] = asmIm2row
	}
	cases := []im2rowCase{{1, 28, 28, 3, 3, 1, 1}, {1, 5, 9, 3, 3, 1, 0}, {1, 3, 3, 3, 3, 1, 2}, {1, 7, 4, 3, 3, 1, 1}}
	r := rand.New(rand.NewPCG(39, 40))
	for name, kern := range kernels {
		for _, g := range cases {
			t.Run(name+"/"+g.String(), func(t *testing.T) {
				saved := im2rowKernelInUse
				im2rowKernelInUse = kern
				t.Cleanup(func() { im2rowKernelInUse = saved })
				x := make([]int8, g.h*g.w)
				for i := range x {
					x[i] = int8(r.IntN(256) - 128)
				}
				oh, ow := g.out()
				want := make([]int8, oh*ow*9)
				im2rowRef(x, 1, g.h, g.w, 3, 3, 1, g.pad, oh, ow, -9, want)
				got := make([]int8, len(want)+im2rowSlack)
				padded := make([]int8, (g.h+2*g.pad)*(g.w+2*g.pad)+im2rowSlack)
				im2rowInto(x, 1, g.h, g.w, 3, 3, 1, g.pad, oh, ow, -9, got, padded)
				assert.Equal(t, want, got[:len(want)])
			})
		}
	}
}
