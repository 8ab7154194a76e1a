package onnx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	nan  = float32(math.NaN())
	inf  = float32(math.Inf(1))
	ninf = float32(math.Inf(-1))
)

// axisX is the input of ONNX's test_quantizelinear_axis, which is also the
// expected output of test_dequantizelinear_axis (shape 1×3×3×2).
var axisX = tn([]int{1, 3, 3, 2},
	float32(-162), 10, -100, 232, -20, -50,
	-76, 0, 0, 252, 32, -44,
	245, -485, -960, -270, -375, -470)

// axisQ is the expected output of test_quantizelinear_axis and the input of
// test_dequantizelinear_axis.
var axisQ = tn([]int{1, 3, 3, 2},
	uint8(3), 89, 34, 200, 74, 59,
	5, 24, 24, 87, 32, 13,
	245, 99, 4, 142, 121, 102)

func TestQuantizeLinearUint8(t *testing.T) {
	cases := []struct {
		name  string
		x     Tensor[float32]
		scale Tensor[float32]
		zp    Tensor[uint8]
		axis  int
		want  Tensor[uint8]
	}{
		{
			// ONNX test_quantizelinear: 3/2 = 1.5 rounds to 2 (half to even),
			// 1000 and -1000 saturate. axis is the ONNX default 1 although x
			// is 1-D: a one-element scale ignores the axis.
			name: "onnx test_quantizelinear", x: vec[float32](0, 2, 3, 1000, -254, -1000),
			scale: sc[float32](2), zp: sc[uint8](128), axis: 1,
			want: vec[uint8](128, 129, 130, 255, 1, 0),
		},
		{
			name: "onnx test_quantizelinear_axis", x: axisX,
			scale: vec[float32](2, 4, 5), zp: vec[uint8](84, 24, 196), axis: 1,
			want: axisQ,
		},
		{name: "onnx axis example with axis -3", x: axisX, scale: vec[float32](2, 4, 5), zp: vec[uint8](84, 24, 196), axis: -3, want: axisQ},
		{
			name: "per-tensor scale of shape [1] and absent zero point", x: vec[float32](-1, 0, 0.25, 0.75, 1.25, 64),
			scale: vec[float32](0.5), axis: 0,
			want: vec[uint8](0, 0, 0, 2, 2, 128),
		},
		{
			name: "per-axis along the last axis", x: tn([]int{2, 3}, float32(1), 1, 1, -1, 2, 3),
			scale: vec[float32](1, 0.5, 0.25), zp: vec[uint8](10, 20, 30), axis: -1,
			want: tn([]int{2, 3}, uint8(11), 22, 34, 9, 24, 42),
		},
		{
			name: "per-axis along axis 0", x: tn([]int{2, 2, 2}, float32(1), 2, 3, 4, 1, 2, 3, 4),
			scale: vec[float32](1, 2), zp: vec[uint8](0, 100), axis: 0,
			want: tn([]int{2, 2, 2}, uint8(1), 2, 3, 4, 100, 101, 102, 102),
		},
		{
			name: "NaN maps to the zero point, infinities saturate", x: vec(nan, inf, ninf),
			scale: sc[float32](1), zp: sc[uint8](7), want: vec[uint8](7, 255, 0),
		},
		{name: "rank-0 x", x: sc[float32](3), scale: sc[float32](2), zp: sc[uint8](1), want: sc[uint8](3)},
		{name: "empty x", x: tn[float32]([]int{0, 3}), scale: vec[float32](1, 2, 3), axis: 1, want: tn[uint8]([]int{0, 3})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := QuantizeLinear(c.x, c.scale, c.zp, c.axis)
			require.NoError(t, err)
			wantTensor(t, got, c.want)
		})
	}
}

func TestQuantizeLinearInt8(t *testing.T) {
	cases := []struct {
		name  string
		x     Tensor[float32]
		scale Tensor[float32]
		zp    Tensor[int8]
		axis  int
		want  Tensor[int8]
	}{
		{
			name: "ties round half to even", x: vec[float32](-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5),
			scale: sc[float32](1), zp: sc[int8](0),
			want: vec[int8](-2, -2, 0, 0, 2, 2, 4),
		},
		{
			name: "saturation to [-128, 127] after adding the zero point", x: vec[float32](300, -300, 120, -120),
			scale: sc[float32](1), zp: sc[int8](10),
			want: vec[int8](127, -128, 127, -110),
		},
		{
			name: "division in float32: 0.3/0.1 is 3 (not 2.9999999999999996)", x: vec[float32](0.3, 0.7),
			scale: sc[float32](0.1), want: vec[int8](3, 7),
		},
		{
			name: "per-channel weights, axis 0 of [3 2]", x: tn([]int{3, 2}, float32(0.5), -0.5, 1, -1, 10, -10),
			scale: vec[float32](0.01, 0.02, 0.1), zp: vec[int8](0, 0, -5), axis: 0,
			want: tn([]int{3, 2}, int8(50), -50, 50, -50, 95, -105),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := QuantizeLinear(c.x, c.scale, c.zp, c.axis)
			require.NoError(t, err)
			wantTensor(t, got, c.want)
		})
	}
}

func TestDequantizeLinear(t *testing.T) {
	t.Run("onnx test_dequantizelinear", func(t *testing.T) {
		got, err := DequantizeLinear(vec[uint8](0, 3, 128, 255), sc[float32](2), sc[uint8](128), 1)
		require.NoError(t, err)
		wantFloats(t, got, vec[float32](-256, -250, 0, 254), 0)
	})
	t.Run("onnx test_dequantizelinear_axis", func(t *testing.T) {
		got, err := DequantizeLinear(axisQ, vec[float32](2, 4, 5), vec[uint8](84, 24, 196), 1)
		require.NoError(t, err)
		wantFloats(t, got, axisX, 0)
	})
	t.Run("int8 per-axis along the last axis", func(t *testing.T) {
		got, err := DequantizeLinear(tn([]int{2, 2}, int8(-128), 127, 0, -1), vec[float32](0.5, 0.25), vec[int8](-128, 1), -1)
		require.NoError(t, err)
		wantFloats(t, got, tn([]int{2, 2}, float32(0), 31.5, 64, -0.5), 0)
	})
	t.Run("int8 absent zero point", func(t *testing.T) {
		got, err := DequantizeLinear(vec[int8](-128, -1, 0, 127), vec[float32](0.1), Tensor[int8]{}, 0)
		require.NoError(t, err)
		wantFloats(t, got, vec(float32(-128)*0.1, -0.1, 0, float32(127)*0.1), 0)
	})
	t.Run("int32 bias with absent zero point", func(t *testing.T) {
		got, err := DequantizeLinear(vec[int32](-3, 0, 7, math.MaxInt32, math.MinInt32), sc[float32](0.5), Tensor[int32]{}, 1)
		require.NoError(t, err)
		wantFloats(t, got, vec[float32](-1.5, 0, 3.5, 1073741824, -1073741824), 0)
	})
	t.Run("int32 per-axis with all-zero zero point", func(t *testing.T) {
		got, err := DequantizeLinear(tn([]int{2, 2}, int32(4), 8, 4, 8), vec[float32](0.5, 0.25), vec[int32](0, 0), 0)
		require.NoError(t, err)
		wantFloats(t, got, tn([]int{2, 2}, float32(2), 4, 1, 2), 0)
	})
	t.Run("int32 non-zero zero point is an error", func(t *testing.T) {
		_, err := DequantizeLinear(vec[int32](1, 2), sc[float32](1), vec[int32](3), 0)
		wantErr(t, err, "DequantizeLinear", ErrZeroPoint, "x_zero_point[0] is 3")
	})
}

// TestQuantizeDequantizeRoundTrip checks, per-tensor and per-axis, that
// DequantizeLinear(QuantizeLinear(x)) is within half a step of every x
// inside the representable range.
func TestQuantizeDequantizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := Tensor[float32]{Shape: []int{4, 5, 6}, Data: make([]float32, 120)}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	cases := []struct {
		name  string
		scale Tensor[float32]
		zp    Tensor[int8]
		axis  int
	}{
		{"per-tensor", sc[float32](0.05), sc[int8](3), 0},
		{"per-axis 1", vec[float32](0.03, 0.04, 0.05, 0.06, 0.07), vec[int8](-2, -1, 0, 1, 2), 1},
		{"per-axis -1", vec[float32](0.03, 0.04, 0.05, 0.06, 0.07, 0.08), vec[int8](0, 0, 0, 0, 0, 0), -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := QuantizeLinear(x, c.scale, c.zp, c.axis)
			require.NoError(t, err)
			back, err := DequantizeLinear(q, c.scale, c.zp, c.axis)
			require.NoError(t, err)
			lay, err := resolveAxis("test", x.Shape, "s", c.scale, "z", c.zp, c.axis)
			require.NoError(t, err)
			lay.each(len(x.Data), func(lo, hi, ch int) {
				s := float64(c.scale.Data[ch])
				for i := lo; i < hi; i++ {
					if q.Data[i] == -128 || q.Data[i] == 127 {
						continue // saturated
					}
					if d := math.Abs(float64(back.Data[i]) - float64(x.Data[i])); d > s/2*(1+1e-6) {
						t.Fatalf("element %d (channel %d): x %v, round trip %v, error %v > scale/2 %v", i, ch, x.Data[i], back.Data[i], d, s/2)
					}
				}
			})
		})
	}
}

func TestDynamicQuantizeLinear(t *testing.T) {
	cases := []struct {
		name      string
		x         Tensor[float32]
		want      Tensor[uint8]
		wantScale float32
		wantZP    uint8
	}{
		{
			// ONNX test_dynamicquantizelinear: "expected scale 0.0196078438
			// and zero point 153".
			name: "onnx test_dynamicquantizelinear", x: vec[float32](0, 2, -3, -2.5, 1.34, 0.5),
			want: vec[uint8](153, 255, 0, 26, 221, 179), wantScale: 0.019607844, wantZP: 153,
		},
		{
			name: "onnx test_dynamicquantizelinear_max_adjusted", x: vec[float32](-1.0, -2.1, -1.3, -2.5, -3.34, -4.0),
			want: vec[uint8](191, 121, 172, 96, 42, 0), wantScale: 0.015686275, wantZP: 255,
		},
		{
			name: "onnx test_dynamicquantizelinear_min_adjusted",
			x:    tn([]int{3, 4}, float32(1), 2.1, 1.3, 2.5, 3.34, 4.0, 1.5, 2.6, 3.9, 4.0, 3.0, 2.345),
			want: tn([]int{3, 4}, uint8(64), 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149), wantScale: 0.015686275, wantZP: 0,
		},
		{
			// ONNX Runtime: scale = max == min ? 1 : (max-min)/255.
			name: "all zeros: scale 1, zero point 0 as in ONNX Runtime", x: tn([]int{2, 2}, float32(0), 0, 0, 0),
			want: tn([]int{2, 2}, uint8(0), 0, 0, 0), wantScale: 1, wantZP: 0,
		},
		{name: "empty x: scale 1, zero point 0", x: tn[float32]([]int{0}), want: tn[uint8]([]int{0}), wantScale: 1, wantZP: 0},
		{
			// -1/(2/255) is 127.49999 in float32, not the real 127.5.
			name: "symmetric range [-1, 1]", x: vec[float32](-1, 1),
			want: vec[uint8](0, 254), wantScale: 0.007843138, wantZP: 127,
		},
		{
			// scale 255/255 = 1, -x_min/scale = 127.5 exactly: ties to even.
			name: "zero point tie 127.5 rounds to 128", x: vec[float32](-127.5, 127.5),
			want: vec[uint8](0, 255), wantScale: 1, wantZP: 128,
		},
		{
			name: "zero point tie 126.5 rounds to 126", x: vec[float32](-126.5, 128.5),
			want: vec[uint8](0, 254), wantScale: 1, wantZP: 126,
		},
		{name: "single positive value", x: sc[float32](5.1), want: sc[uint8](255), wantScale: 0.02, wantZP: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, s, zp, err := DynamicQuantizeLinear(c.x)
			require.NoError(t, err)
			assert.Equal(t, c.wantScale, s, "scale")
			assert.Equal(t, c.wantZP, zp, "zero point")
			wantTensor(t, y, c.want)
		})
	}
}

// TestDynamicQuantizeLinearMatchesQuantizeLinear checks that the output is
// QuantizeLinear with the returned parameters, on random data.
func TestDynamicQuantizeLinearMatchesQuantizeLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 20 {
		x := Tensor[float32]{Shape: []int{7, 9}, Data: make([]float32, 63)}
		off := float32(rng.NormFloat64())
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())*3 + off
		}
		y, s, zp, err := DynamicQuantizeLinear(x)
		require.NoError(t, err)
		want, err := QuantizeLinear(x, sc(s), sc(zp), 0)
		require.NoError(t, err)
		if trial == 0 {
			t.Logf("scale %v zero point %d", s, zp)
		}
		wantTensor(t, y, want)
	}
}
