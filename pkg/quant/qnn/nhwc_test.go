package qnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toNHWC returns x, [N, C, H, W], as [N, H, W, C].
func toNHWC(x *Tensor) *Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y := &Tensor{Shape: []int{n, h, w, c}, Data: make([]int8, len(x.Data)), Act: x.Act}
	for i := range n {
		for ch := range c {
			for p := range h * w {
				y.Data[(i*h*w+p)*c+ch] = x.Data[(i*c+ch)*h*w+p]
			}
		}
	}
	return y
}

// vnniRuns reports whether this machine and build run the windowed VNNI
// product, which the channels-last convolution needs.
func vnniRuns() bool { return quant.GEMMKernel() == "avx512-vnni" }

// TestNHWCConvMatchesNCHW checks the channels-last convolution, alone and
// fused with max pooling, against Forward and MaxPool2D(Forward) on the
// same codes, bit for bit, with one output tensor and one Scratch reused
// across cases; kernels it cannot take (stride 2, output channels not a
// multiple of 16) get no channels-last form.
func TestNHWCConvMatchesNCHW(t *testing.T) {
	cases := []struct {
		convCase
		eligible bool
	}{
		{convCases[0], true}, // SmallCNN conv1 + pool: runs of 3 codes padded to 4
		{convCases[1], true}, // SmallCNN conv2 + pool: runs of 48
		{convCases[2], false},
		{convCases[3], false},
		{convCase{"3 channels (runs of 9 padded to 12), no ReLU", 2, 3, 9, 8, 32, 3, 1, 1, quant.Int8, quant.PerTensor, false, 2, 2}, true},
		{convCase{"2x2 kernel, no padding, 48 outputs, 3x3 pool", 3, 4, 7, 10, 48, 2, 1, 0, quant.Int8, quant.PerChannel, true, 3, 2}, true},
	}
	r := rand.New(rand.NewPCG(41, 42))
	var y, back Tensor
	var s Scratch
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, x := tc.build(t, r)
			p := l.PrepareNHWC()
			require.Equal(t, tc.eligible && vnniRuns(), p != nil, "channels-last form")
			if p == nil {
				return
			}
			assert.Same(t, l, p.Conv2D())
			want, err := l.Forward(x)
			require.NoError(t, err)
			xh := toNHWC(x)
			require.NoError(t, p.ForwardInto(&y, xh, &s))
			require.NoError(t, NHWCToNCHWInto(&back, &y))
			assert.Equal(t, want.Shape, back.Shape)
			assert.Equal(t, want.Data, back.Data, "ForwardInto")
			assert.Equal(t, toNHWC(want).Data, y.Data, "ForwardInto, channels-last")

			wantPool, err := MaxPool2D(want, tc.poolK, tc.poolStride)
			require.NoError(t, err)
			require.NoError(t, p.ForwardMaxPoolInto(&y, xh, tc.poolK, tc.poolStride, &s))
			assert.Equal(t, toNHWC(wantPool).Shape, y.Shape)
			assert.Equal(t, toNHWC(wantPool).Data, y.Data, "ForwardMaxPoolInto")

			require.NoError(t, MaxPool2DNHWCInto(&back, toNHWC(want), tc.poolK, tc.poolStride))
			assert.Equal(t, toNHWC(wantPool).Data, back.Data, "MaxPool2DNHWCInto")
		})
	}
}

// TestNHWCConvMaxPoolUnfusedWhenNotMonotone gives the channels-last
// kernel biases at the int32 limits: it must requantize before pooling
// (MaxPool2DNHWCInto) and still agree with the two NCHW steps.
func TestNHWCConvMaxPoolUnfusedWhenNotMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	tc := convCases[1]
	l, x := tc.build(t, r)
	bias := make([]int32, tc.oc)
	for i := range bias {
		bias[i] = []int32{math.MaxInt32, math.MinInt32 + 1, 0}[i%3]
	}
	l, err := NewConv2DInt32Bias(l.W, tc.c, tc.oc, tc.k, tc.k, tc.stride, tc.pad, bias, l.InAct, l.OutAct, tc.relu)
	require.NoError(t, err)
	p := l.PrepareNHWC()
	require.Equal(t, vnniRuns(), p != nil)
	if p == nil {
		return
	}
	want, err := l.Forward(x)
	require.NoError(t, err)
	wantPool, err := MaxPool2D(want, 2, 2)
	require.NoError(t, err)
	var y Tensor
	var s Scratch
	require.NoError(t, p.ForwardMaxPoolInto(&y, toNHWC(x), 2, 2, &s))
	assert.Equal(t, toNHWC(wantPool).Data, y.Data)
}

// TestNHWCConvRefusesWrongInput checks the shape errors of the
// channels-last kernel: an NCHW batch, a pool window larger than the
// output.
func TestNHWCConvRefusesWrongInput(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	l, x := convCases[1].build(t, r)
	p := l.PrepareNHWC()
	require.Equal(t, vnniRuns(), p != nil)
	if p == nil {
		return
	}
	var y Tensor
	var s Scratch
	assert.ErrorIs(t, p.ForwardInto(&y, x, &s), quant.ErrShape, "NCHW input")
	assert.ErrorIs(t, p.ForwardMaxPoolInto(&y, toNHWC(x), 15, 1, &s), quant.ErrShape, "window larger than the output")
	assert.ErrorIs(t, MaxPool2DNHWCInto(&y, &Tensor{Shape: []int{1, 2, 2}}, 2, 2), quant.ErrShape)
	assert.ErrorIs(t, NHWCToNCHWInto(&y, &Tensor{Shape: []int{1, 2, 2}}), quant.ErrShape)
}

// TestLinearPermuteNHWC checks that the permuted Linear on a
// channels-last flattening gives the codes of the Linear on the NCHW one.
func TestLinearPermuteNHWC(t *testing.T) {
	cases := []struct {
		name        string
		n, c, h, w  int
		granularity quant.Granularity
	}{
		{"SmallCNN classifier", 4, 32, 7, 7, quant.PerChannel},
		{"one channel", 2, 1, 3, 5, quant.PerTensor},
		{"one pixel", 3, 8, 1, 1, quant.PerChannel},
	}
	r := rand.New(rand.NewPCG(47, 48))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.c * tc.h * tc.w
			spec := quant.WeightDefault
			spec.Granularity = tc.granularity
			ws := testWeights(t, randTensor(r, -0.5, 0.5, 10, in), spec)
			inAct, outAct := testAct(t, quant.Int8, -1, 2), testAct(t, quant.Int8, -3, 3)
			l, err := NewLinear(ws, in, 10, randBias(r, 10), inAct, outAct, false)
			require.NoError(t, err)
			x := randCodes(r, inAct, tc.n, tc.c, tc.h, tc.w)
			want, err := l.Forward(&Tensor{Shape: []int{tc.n, in}, Data: x.Data, Act: inAct})
			require.NoError(t, err)
			pl, err := l.PermuteNHWC(tc.c, tc.h, tc.w)
			require.NoError(t, err)
			got, err := pl.Forward(&Tensor{Shape: []int{tc.n, in}, Data: toNHWC(x).Data, Act: inAct})
			require.NoError(t, err)
			assert.Equal(t, want.Data, got.Data)
			_, err = l.PermuteNHWC(tc.c+1, tc.h, tc.w)
			assert.ErrorIs(t, err, quant.ErrShape)
		})
	}
}

// TestNHWCKernelsDoNotAllocate runs SmallCNN's two convolutions
// channels-last twice on one Scratch: the second run allocates nothing.
func TestNHWCKernelsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	conv1, x := convCases[0].build(t, r)
	conv2, _ := convCases[1].build(t, r)
	p1, p2 := conv1.PrepareNHWC(), conv2.PrepareNHWC()
	require.Equal(t, vnniRuns(), p1 != nil && p2 != nil)
	if p1 == nil {
		return
	}
	xh := toNHWC(x)
	var s Scratch
	var y1, y2 Tensor
	run := func() {
		require.NoError(t, p1.ForwardMaxPoolInto(&y1, xh, 2, 2, &s))
		y1.Act = conv2.InAct
		require.NoError(t, p2.ForwardMaxPoolInto(&y2, &y1, 2, 2, &s))
	}
	run()
	got := testing.AllocsPerRun(5, run)
	assert.LessOrEqual(t, got, map[bool]float64{false: 0, true: 40}[raceEnabled], fmt.Sprintf("allocations per run: %g", got))
}
