package quant

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// PyTorch's test_per_tensor_observers: MinMaxObserver fed [1 2 2 3 4 5 6]
// then [4 5 5 6 7 8] holds [1, 8]; the widened range is [0, 8].
func TestChooseQParamsPyTorchGolden(t *testing.T) {
	const tol = 1e-5 // PyTorch's own tolerance on these scales
	cases := []struct {
		name      string
		spec      Spec
		wantScale float64
		wantZP    int32
	}{
		{"int8 affine", Spec{DType: Int8}, 0.0313725, -128},
		{"uint8 affine", Spec{DType: UInt8}, 0.0313725, 0},
		{"int8 symmetric", Spec{DType: Int8, Scheme: Symmetric}, 0.062745, 0},
		{"uint8 symmetric", Spec{DType: UInt8, Scheme: Symmetric}, 0.062745, 128},
		{"int8 affine reduce", Spec{DType: Int8, ReduceRange: true}, 0.0313725 * 255 / 127, -64},
		{"uint8 affine reduce", Spec{DType: UInt8, ReduceRange: true}, 0.0313725 * 255 / 127, 0},
		{"int8 symmetric reduce", Spec{DType: Int8, Scheme: Symmetric, ReduceRange: true}, 0.062745 * 255 / 127, 0},
		{"int8 symmetric restricted", Spec{DType: Int8, Scheme: Symmetric, Restricted: true}, 8.0 / 127, 0},
	}
	x := tensor.MustFromData([]float32{1, 2, 2, 3, 4, 5, 6}, 7)
	y := tensor.MustFromData([]float32{4, 5, 5, 6, 7, 8}, 6)
	// For the moving average with constant 0.5, PyTorch's test feeds
	// batches whose averaged range is again [1, 8].
	xa := tensor.MustFromData([]float32{0, 2, 2, 3, 4, 5, 6}, 7)
	ya := tensor.MustFromData([]float32{2, 5, 5, 6, 7, 10}, 6)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mm, err := NewMinMaxObserver(c.spec)
			require.NoError(t, err)
			ma, err := NewMovingAverageMinMaxObserver(c.spec, 0.5)
			require.NoError(t, err)
			for _, run := range []struct {
				obs  Observer
				a, b *tensor.Tensor
			}{{mm, x, y}, {ma, xa, ya}} {
				require.NoError(t, run.obs.Observe(run.a))
				require.NoError(t, run.obs.Observe(run.b))
				st := run.obs.Stats()
				require.Equal(t, [2]float32{1, 8}, [2]float32{st.Min, st.Max}, "%T range", run.obs)
				p, err := run.obs.QParams()
				require.NoError(t, err)
				assert.InDelta(t, c.wantScale, p.Scale[0], tol, "%T scale", run.obs)
				assert.Equal(t, c.wantZP, p.ZeroPoint[0], "%T zero point", run.obs)
				assert.True(t, p.PerTensor(), "axis %d, want -1", p.Axis)
			}
		})
	}
}

// PyTorch's test_per_channel_observers: a [2 2 2 2] tensor observed per
// channel along each axis.
func TestPerChannelPyTorchGolden(t *testing.T) {
	x := tensor.MustFromData([]float32{
		1, 2, 2, 2.5, 3, 4, 4.5, 6,
		-4, -3, 5, 5, 6, 3, 7, 8,
	}, 2, 2, 2, 2)
	refMin := [][]float32{{1, -4}, {-4, 3}, {-4, 2}, {-4, -3}}
	refMax := [][]float32{{6, 8}, {5, 8}, {6, 8}, {7, 8}}
	symScales := [][]float64{{0.04705882, 0.06274509}, {0.03921569, 0.0627451}, {0.04705882, 0.0627451}, {0.05490196, 0.0627451}}
	affScales := [][]float64{{0.02352941, 0.04705882}, {0.03529412, 0.03137255}, {0.03921569, 0.03137255}, {0.04313726, 0.04313726}}
	affInt8ZP := [][]int32{{-128, -43}, {-15, -128}, {-26, -128}, {-35, -58}}
	affUint8ZP := [][]int32{{0, 85}, {113, 0}, {102, 0}, {93, 70}}
	const tol = 1e-6
	for axis := range 4 {
		for _, dt := range []DType{Int8, UInt8} {
			for _, scheme := range []Scheme{Affine, Symmetric} {
				for _, reduce := range []bool{false, true} {
					spec := Spec{DType: dt, Scheme: scheme, Granularity: PerChannel, Axis: axis, ReduceRange: reduce}
					t.Run(spec.String(), func(t *testing.T) {
						o, err := NewObserver(MethodMinMax, spec)
						require.NoError(t, err)
						require.NoError(t, o.Observe(x))
						st := o.Stats()
						for c := range 2 {
							if st.ChannelMin[c] != refMin[axis][c] || st.ChannelMax[c] != refMax[axis][c] {
								t.Fatalf("channel ranges %v %v", st.ChannelMin, st.ChannelMax)
							}
						}
						p, err := o.QParams()
						require.NoError(t, err)
						scales := affScales[axis]
						zps := affInt8ZP[axis]
						if dt == UInt8 {
							zps = affUint8ZP[axis]
						}
						if scheme == Symmetric {
							scales = symScales[axis]
							zps = []int32{0, 0}
							if dt == UInt8 {
								zps = []int32{128, 128}
							}
						}
						for c := range 2 {
							ws, wz := scales[c], zps[c]
							if reduce { // PyTorch's test: scale·255/127, floor(zp/2)
								ws = ws * 255 / 127
								wz = int32(math.Floor(float64(wz) / 2))
							}
							require.InEpsilon(t, ws, p.Scale[c], tol, "channel %d scale", c)
							require.Equal(t, wz, p.ZeroPoint[c], "channel %d zero point", c)
						}
						require.Equal(t, axis, p.Axis, "axis")
					})
				}
			}
		}
	}
}

func TestChooseQParamsEdgeCases(t *testing.T) {
	cases := []struct {
		name      string
		lo, hi    float32
		spec      Spec
		wantScale float32
		wantZP    int32
		wantErr   error
	}{
		{"all zero gets Eps", 0, 0, Spec{}, Eps, -128, nil},
		{"constant positive", 3, 3, Spec{}, 3.0 / 255, -128, nil},
		{"constant negative", -3, -3, Spec{DType: UInt8}, 3.0 / 255, 255, nil},
		{"symmetric all zero", 0, 0, Spec{Scheme: Symmetric}, Eps, 0, nil},
		{"zero point rounds half even", -0.5, 254.5, Spec{DType: UInt8}, 1, 0, nil}, // -0.5/1 -> -0 -> zp 0
		{"NaN", float32(math.NaN()), 1, Spec{}, 0, 0, ErrNonFinite},
		{"Inf", 0, float32(math.Inf(1)), Spec{}, 0, 0, ErrNonFinite},
		{"too wide", -3e38, 3e38, Spec{}, 0, 0, ErrNonFinite},
		{"int32 spec", 0, 1, Spec{DType: Int32}, 0, 0, ErrInvalidSpec},
		{"restricted affine", 0, 1, Spec{Restricted: true}, 0, 0, ErrInvalidSpec},
		{"restricted uint8", 0, 1, Spec{DType: UInt8, Scheme: Symmetric, Restricted: true}, 0, 0, ErrInvalidSpec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, z, err := ChooseQParams(c.lo, c.hi, c.spec)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.wantScale, s, "scale")
			assert.Equal(t, c.wantZP, z, "zero point")
		})
	}
	_, _, err := ChooseQParams(2, 1, Spec{})
	assert.Error(t, err, "min > max")
}

func TestSpecBoundsAndString(t *testing.T) {
	cases := []struct {
		spec       Spec
		qmin, qmax int32
		str        string
	}{
		{ActivationDefault, -128, 127, "int8 affine per-tensor [-128,127]"},
		{WeightDefault, -127, 127, "int8 symmetric per-channel(axis=0) restricted [-127,127]"},
		{Spec{DType: UInt8}, 0, 255, "uint8 affine per-tensor [0,255]"},
		{Spec{DType: UInt8, ReduceRange: true}, 0, 127, "uint8 affine per-tensor reduce-range [0,127]"},
		{Spec{ReduceRange: true}, -64, 63, "int8 affine per-tensor reduce-range [-64,63]"},
		{Spec{Scheme: Symmetric, Restricted: true, ReduceRange: true}, -63, 63, "int8 symmetric per-tensor restricted reduce-range [-63,63]"},
	}
	for _, c := range cases {
		t.Run(c.str, func(t *testing.T) {
			require.NoError(t, c.spec.Validate())
			lo, hi := c.spec.Bounds()
			assert.Equal(t, [2]int32{c.qmin, c.qmax}, [2]int32{lo, hi}, "bounds")
			assert.Equal(t, c.str, c.spec.String())
		})
	}
	assert.ErrorIs(t, Spec{Granularity: PerChannel, Axis: -1}.Validate(), ErrInvalidSpec, "negative axis")
}

func TestQParamsValidate(t *testing.T) {
	good := PerTensorParams(Int8, 0.1, 3)
	cases := []struct {
		name string
		p    QParams
		ok   bool
	}{
		{"per tensor", good, true},
		{"per channel", QParams{DType: UInt8, Scale: []float32{1, 2}, ZeroPoint: []int32{0, 255}, Axis: 1}, true},
		{"zero scale", PerTensorParams(Int8, 0, 0), false},
		{"negative scale", PerTensorParams(Int8, -1, 0), false},
		{"NaN scale", PerTensorParams(Int8, float32(math.NaN()), 0), false},
		{"zp out of uint8", PerTensorParams(UInt8, 1, -1), false},
		{"zp out of bounds", QParams{DType: Int8, Scale: []float32{1}, ZeroPoint: []int32{-128}, Axis: -1, QMin: -127, QMax: 127}, false},
		{"bounds outside dtype", QParams{DType: UInt8, Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: -1, QMin: -1, QMax: 10}, false},
		{"lengths differ", QParams{DType: Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0}, Axis: 0}, false},
		{"axis -1 with two scales", QParams{DType: Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: -1}, false},
		{"int32", PerTensorParams(Int32, 1, 0), false},
		{"empty", QParams{DType: Int8, Axis: -1}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if c.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidParams)
			}
		})
	}
}
