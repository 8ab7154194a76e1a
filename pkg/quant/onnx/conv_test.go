package onnx

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// unravel writes the row-major multi-index of flat index i in shape into idx.
func unravel(i int, shape, idx []int) {
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
}

// refConv is a direct N-D convolution of already zero-point-shifted x and w
// (as int64), written independently of planConv and im2col.
func refConv(xShape []int, x []int64, wShape []int, w []int64, a ConvAttrs) ([]int, []int64) {
	d := len(xShape) - 2
	n, c, m := xShape[0], xShape[1], wShape[0]
	g := max(a.Group, 1)
	cg, mg := c/g, m/g
	pads, strides, dils := a.Pads, a.Strides, a.Dilations
	if pads == nil {
		pads = make([]int, 2*d)
	}
	if strides == nil {
		strides = slices.Repeat([]int{1}, d)
	}
	if dils == nil {
		dils = slices.Repeat([]int{1}, d)
	}
	in, k := xShape[2:], wShape[2:]
	out := make([]int, d)
	for i := range d {
		out[i] = (in[i]+pads[i]+pads[d+i]-dils[i]*(k[i]-1)-1)/strides[i] + 1
	}
	inLen, kLen, outLen := 1, 1, 1
	for i := range d {
		inLen, kLen, outLen = inLen*in[i], kLen*k[i], outLen*out[i]
	}
	y := make([]int64, n*m*outLen)
	oi, ki, ii := make([]int, d), make([]int, d), make([]int, d)
	for b := range n {
		for oc := range m {
			grp := oc / mg
			for o := range outLen {
				unravel(o, out, oi)
				var s int64
				for ic := range cg {
					for kk := range kLen {
						unravel(kk, k, ki)
						flat, ok := 0, true
						for i := range d {
							ii[i] = oi[i]*strides[i] - pads[i] + ki[i]*dils[i]
							if ii[i] < 0 || ii[i] >= in[i] {
								ok = false
							}
							flat = flat*in[i] + ii[i]
						}
						if ok {
							s += x[(b*c+grp*cg+ic)*inLen+flat] * w[(oc*cg+ic)*kLen+kk]
						}
					}
				}
				y[(b*m+oc)*outLen+o] = s
			}
		}
	}
	return append([]int{n, m}, out...), y
}

func TestConvIntegerONNX(t *testing.T) {
	x := tn([]int{1, 1, 3, 3}, uint8(2), 3, 4, 5, 6, 7, 8, 9, 10)
	w := tn([]int{1, 1, 2, 2}, uint8(1), 1, 1, 1)
	cases := []struct {
		name  string
		attrs ConvAttrs
		want  Tensor[int32]
	}{
		{name: "onnx test_convinteger_without_padding", want: tn([]int{1, 1, 2, 2}, int32(12), 16, 24, 28)},
		{
			name: "onnx test_convinteger_with_padding", attrs: ConvAttrs{Pads: []int{1, 1, 1, 1}},
			want: tn([]int{1, 1, 4, 4}, int32(1), 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// x_zero_point is a rank-0 uint8 1, w_zero_point absent.
			got, err := ConvInteger(x, w, sc[uint8](1), Tensor[uint8]{}, c.attrs)
			require.NoError(t, err)
			wantTensor(t, got, c.want)
		})
	}
}

// convCases exercise every attribute, in 1, 2 and 3 spatial dimensions.
var convCases = []struct {
	name           string
	xShape, wShape []int
	attrs          ConvAttrs
	perChannel     bool // per-output-channel w zero point and scale
}{
	{name: "2-D 3×3 no padding", xShape: []int{2, 3, 6, 5}, wShape: []int{4, 3, 3, 3}},
	{name: "2-D same padding", xShape: []int{1, 2, 5, 5}, wShape: []int{3, 2, 3, 3}, attrs: ConvAttrs{Pads: []int{1, 1, 1, 1}}, perChannel: true},
	{name: "2-D asymmetric pads", xShape: []int{1, 2, 5, 4}, wShape: []int{2, 2, 2, 3}, attrs: ConvAttrs{Pads: []int{0, 2, 1, 1}}, perChannel: true},
	{name: "2-D stride 2", xShape: []int{1, 3, 7, 8}, wShape: []int{2, 3, 3, 3}, attrs: ConvAttrs{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}}},
	{name: "2-D strides 2×3 dilations 2×1", xShape: []int{2, 2, 9, 9}, wShape: []int{3, 2, 2, 3}, attrs: ConvAttrs{Strides: []int{2, 3}, Dilations: []int{2, 1}}, perChannel: true},
	{name: "2-D group 2", xShape: []int{1, 4, 5, 5}, wShape: []int{6, 2, 3, 3}, attrs: ConvAttrs{Group: 2, Pads: []int{1, 0, 1, 0}}, perChannel: true},
	{name: "2-D depthwise", xShape: []int{2, 3, 4, 4}, wShape: []int{3, 1, 3, 3}, attrs: ConvAttrs{Group: 3, Pads: []int{1, 1, 1, 1}}, perChannel: true},
	{name: "2-D kernel larger than input, padded", xShape: []int{1, 1, 2, 2}, wShape: []int{1, 1, 3, 3}, attrs: ConvAttrs{Pads: []int{1, 1, 1, 1}}},
	{name: "2-D 1×1 kernel", xShape: []int{1, 5, 3, 3}, wShape: []int{4, 5, 1, 1}, perChannel: true},
	{name: "1-D", xShape: []int{2, 2, 10}, wShape: []int{3, 2, 4}, attrs: ConvAttrs{Pads: []int{2, 1}, Strides: []int{2}, Dilations: []int{2}}, perChannel: true},
	{name: "3-D", xShape: []int{1, 2, 4, 5, 3}, wShape: []int{2, 2, 2, 3, 2}, attrs: ConvAttrs{Pads: []int{1, 0, 1, 0, 1, 0}, Strides: []int{1, 2, 1}}, perChannel: true},
	{name: "empty batch", xShape: []int{0, 2, 4, 4}, wShape: []int{3, 2, 3, 3}},
}

func TestConvIntegerAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range convCases {
		t.Run(c.name+" u8×i8", func(t *testing.T) { convIntegerCheck[uint8, int8](t, rng, c.xShape, c.wShape, c.attrs, c.perChannel) })
		t.Run(c.name+" i8×u8", func(t *testing.T) { convIntegerCheck[int8, uint8](t, rng, c.xShape, c.wShape, c.attrs, c.perChannel) })
	}
}

func convIntegerCheck[X, W int8 | uint8](t *testing.T, rng *rand.Rand, xShape, wShape []int, attrs ConvAttrs, perChannel bool) {
	t.Helper()
	x, w := randInts[X](rng, xShape...), randInts[W](rng, wShape...)
	xZP := randInts[X](rng)
	wZP := randInts[W](rng)
	if perChannel {
		wZP = randInts[W](rng, wShape[0])
	}
	got, err := ConvInteger(x, w, xZP, wZP, attrs)
	require.NoError(t, err)
	wz := zeroPoints(wZP)
	perOut := len(w.Data) / max(wShape[0], 1)
	shape, ref := refConv(xShape, widen(x.Data, func(int) int32 { return int32(xZP.Data[0]) }),
		wShape, widen(w.Data, func(e int) int32 { return wz[min(e/perOut, len(wz)-1)] }), attrs)
	want := Tensor[int32]{Shape: shape, Data: make([]int32, len(ref))}
	for i, v := range ref {
		want.Data[i] = int32(v)
	}
	wantTensor(t, got, want)
}

// widen returns x - zp as int64.
func widen[T int8 | uint8](x []T, zp func(e int) int32) []int64 {
	out := make([]int64, len(x))
	for e, v := range x {
		out[e] = int64(int32(v) - zp(e))
	}
	return out
}

func TestQLinearConvONNX(t *testing.T) {
	// ONNX test_qlinearconv: a 1×1 kernel of value 0 with zero point 255.
	x := tn([]int{1, 1, 7, 7},
		uint8(255), 174, 162, 25, 203, 168, 58,
		15, 59, 237, 95, 129, 0, 64,
		56, 242, 153, 221, 168, 12, 166,
		232, 178, 186, 195, 237, 162, 237,
		188, 39, 124, 77, 80, 102, 43,
		127, 230, 21, 83, 41, 40, 134,
		255, 154, 92, 141, 42, 148, 247)
	want := tn([]int{1, 1, 7, 7},
		uint8(0), 81, 93, 230, 52, 87, 197,
		240, 196, 18, 160, 126, 255, 191,
		199, 13, 102, 34, 87, 243, 89,
		23, 77, 69, 60, 18, 93, 18,
		67, 216, 131, 178, 175, 153, 212,
		128, 25, 234, 172, 214, 215, 121,
		0, 101, 163, 114, 213, 107, 8)
	got, err := QLinearConv(x, sc[float32](0.00369204697), sc[uint8](132),
		tn([]int{1, 1, 1, 1}, uint8(0)), vec[float32](0.00172794575), vec[uint8](255),
		sc[float32](0.00162681262), sc[uint8](123), Tensor[int32]{}, ConvAttrs{})
	require.NoError(t, err)
	wantTensor(t, got, want)
}

func TestQLinearConvBiasAndSaturation(t *testing.T) {
	// One input channel, two output channels with per-channel scales, a
	// 1×1 kernel of weight 1: y[m] = saturate(round((x - xz + B[m]) *
	// x_scale*w_scale[m]/y_scale) + y_zero_point).
	x := tn([]int{1, 1, 1, 4}, int8(-128), -1, 0, 127)
	w := tn([]int{2, 1, 1, 1}, int8(1), 1)
	got, err := QLinearConv(x, sc[float32](1), sc[int8](0), w, vec[float32](0.5, 2), vec[int8](0, 0),
		sc[float32](1), sc[int8](-3), vec[int32](1, -1), ConvAttrs{})
	require.NoError(t, err)
	// channel 0: (x+1)*0.5 = -63.5 → -64, 0 → 0, 0.5 → 0, 64 → 64; then -3.
	// channel 1: (x-1)*2 = -258, -4, -2, 252; then -3 and saturate.
	wantTensor(t, got, tn([]int{1, 2, 1, 4}, int8(-67), -3, -3, 61, -128, -7, -5, 127))
}

// TestQLinearConvFloatReference checks QLinearConv against
// quantize(conv(dequant(x), dequant(w)) + dequant(B)) within one step.
func TestQLinearConvFloatReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range convCases {
		t.Run(c.name+" u8×i8→u8", func(t *testing.T) {
			qconvFloatCheck[uint8, int8, uint8](t, rng, c.xShape, c.wShape, c.attrs, c.perChannel)
		})
		t.Run(c.name+" i8×i8→i8", func(t *testing.T) {
			qconvFloatCheck[int8, int8, int8](t, rng, c.xShape, c.wShape, c.attrs, c.perChannel)
		})
	}
}

func qconvFloatCheck[X, W, Y int8 | uint8](t *testing.T, rng *rand.Rand, xShape, wShape []int, attrs ConvAttrs, perChannel bool) {
	t.Helper()
	x, w := randInts[X](rng, xShape...), randInts[W](rng, wShape...)
	m := wShape[0]
	nw := 1
	if perChannel {
		nw = m
	}
	xZP, wZP := randInts[X](rng), randInts[W](rng, nw)
	xs := float32(0.01 + 0.02*rng.Float64())
	ws := Tensor[float32]{Shape: []int{nw}, Data: make([]float32, nw)}
	for i := range ws.Data {
		ws.Data[i] = float32(0.001 + 0.01*rng.Float64())
	}
	bias := Tensor[int32]{Shape: []int{m}, Data: make([]int32, m)}
	for i := range bias.Data {
		bias.Data[i] = int32(rng.IntN(2001) - 1000)
	}
	ys := float32(0.02 + 0.05*rng.Float64())
	var yZP Y
	got, err := QLinearConv(x, sc(xs), xZP, w, ws, wZP, sc(ys), sc(yZP), bias, attrs)
	require.NoError(t, err)
	perOut := len(w.Data) / max(m, 1)
	wz := zeroPoints(wZP)
	shape, acc := refConv(xShape, widen(x.Data, func(int) int32 { return int32(xZP.Data[0]) }),
		wShape, widen(w.Data, func(e int) int32 { return wz[min(e/perOut, nw-1)] }), attrs)
	require.Equal(t, shape, got.Shape, "shape")
	outLen := 1
	for _, d := range shape[2:] {
		outLen *= d
	}
	qmin, qmax := bounds[Y]()
	for i, a := range acc {
		ch := (i / outLen) % m
		real := float64(a+int64(bias.Data[ch])) * float64(xs) * float64(ws.Data[min(ch, nw-1)])
		want := min(max(math.RoundToEven(real/float64(ys))+float64(yZP), float64(qmin)), float64(qmax))
		if d := math.Abs(float64(got.Data[i]) - want); d > 1 {
			t.Fatalf("element %d (channel %d): got %d, float reference %v (tolerance 1 step)", i, ch, got.Data[i], want)
		}
	}
}

// TestConvWithoutInputChannels checks the convolutions of x with C = 0
// (any group): every accumulator is 0, so ConvInteger gives zeros and
// QLinearConv the requantized bias of each output channel, and the work
// is the output's, not a round of im2col and GEMM (with its packing) per
// batch item and group: 1024 items × 256 groups take a handful of
// allocations, and a kernel of 2^40 taps that no data backs costs
// nothing.
func TestConvWithoutInputChannels(t *testing.T) {
	const n, m = 1024, 256
	x, w := Tensor[uint8]{Shape: []int{n, 0, 1, 1}}, Tensor[int8]{Shape: []int{m, 0, 1, 1}}
	attrs := ConvAttrs{Group: m}
	y, err := ConvInteger(x, w, Tensor[uint8]{}, Tensor[int8]{}, attrs)
	require.NoError(t, err)
	require.Equal(t, []int{n, m, 1, 1}, y.Shape)
	assert.Equal(t, make([]int32, n*m), y.Data)

	bias := make([]int32, m)
	for i := range bias {
		bias[i] = int32(i - 128)
	}
	q, err := QLinearConv(x, sc[float32](0.5), sc[uint8](0), w, sc[float32](1), Tensor[int8]{}, sc[float32](1), sc[uint8](100), vec(bias...), attrs)
	require.NoError(t, err)
	for i, v := range q.Data {
		// 0.5·bias + 100, half to even, saturated to uint8.
		want := quant.Saturate(int32(quant.RoundHalfEven(0.5*float32(bias[i%m])))+100, 0, 255)
		require.Equal(t, uint8(want), v, "item %d channel %d", i/m, i%m)
	}

	allocs := testing.AllocsPerRun(3, func() {
		if _, err := ConvInteger(x, w, Tensor[uint8]{}, Tensor[int8]{}, attrs); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 32.0, "allocations of ConvInteger on %d items × %d empty groups", n, m)

	huge := Tensor[int8]{Shape: []int{1, 0, 1 << 20, 1 << 20}}
	y, err = ConvInteger(Tensor[uint8]{Shape: []int{1, 0, 1 << 20, 1 << 20}}, huge, Tensor[uint8]{}, Tensor[int8]{}, ConvAttrs{})
	require.NoError(t, err)
	assert.Equal(t, []int32{0}, y.Data, "a 2^20×2^20 kernel over no channels")
}
