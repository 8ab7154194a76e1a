package quant

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestQuantizePerTensorAndPerChannel(t *testing.T) {
	x := tensor.MustFromData([]float32{
		-1, 0, 0.5, 1, // channel 0 of axis 0
		-10, 0, 5, 10, // channel 1
	}, 2, 4)
	cases := []struct {
		name  string
		p     QParams
		codes []int32
		back  []float32
	}{
		{"int8 per tensor", PerTensorParams(Int8, 0.1, 0),
			[]int32{-10, 0, 5, 10, -100, 0, 50, 100},
			[]float32{-1, 0, 0.5, 1, -10, 0, 5, 10}},
		{"uint8 per tensor saturates", PerTensorParams(UInt8, 0.5, 10),
			[]int32{8, 10, 11, 12, 0, 10, 20, 30}, // 0.5/0.5 = 1 -> 11; -10 -> -20+10 saturates to 0
			[]float32{-1, 0, 0.5, 1, -5, 0, 5, 10}},
		{"int8 per channel axis 0", QParams{DType: Int8, Scale: []float32{1.0 / 127, 10.0 / 127}, ZeroPoint: []int32{0, 0}, Axis: 0, QMin: -127, QMax: 127},
			[]int32{-127, 0, 64, 127, -127, 0, 64, 127}, // 63.5 rounds half to even: 64
			nil},
		{"uint8 per channel axis 1", QParams{DType: UInt8, Scale: []float32{1, 1, 0.5, 1}, ZeroPoint: []int32{100, 0, 0, 128}, Axis: 1},
			[]int32{99, 0, 1, 129, 90, 0, 10, 138}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Quantize(x, c.p)
			require.NoError(t, err)
			codes := make([]int32, q.Len())
			for i := range codes {
				codes[i] = q.At(i)
			}
			require.Equal(t, c.codes, codes, "codes")
			assert.Equal(t, 8, q.Bytes())
			assert.Equal(t, []int{2, 4}, q.Shape())
			assert.Equal(t, c.p.DType, q.DType())
			assert.Equal(t, c.p.DType == Int8, q.Int8s() != nil, "Int8s set")
			assert.Equal(t, c.p.DType == UInt8, q.Uint8s() != nil, "Uint8s set")
			d := q.Dequantize()
			fq, err := FakeQuantize(x, c.p)
			require.NoError(t, err)
			require.Equal(t, fq.Data(), d.Data(), "Dequantize against FakeQuantize")
			if c.back != nil {
				for i, v := range d.Data() {
					require.InDelta(t, c.back[i], v, 1e-6, "dequantized element %d", i)
				}
			}
		})
	}
}

func TestQuantizeErrors(t *testing.T) {
	x := tensor.New(2, 3, 4)
	cases := []struct {
		name string
		p    QParams
		want error
	}{
		{"too few scales for axis 1", QParams{DType: Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: 1}, ErrShape},
		{"axis beyond rank", QParams{DType: Int8, Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: 3}, ErrShape},
		{"zero scale", PerTensorParams(Int8, 0, 0), ErrInvalidParams},
		{"zero points missing", QParams{DType: Int8, Scale: []float32{1, 1, 1}, Axis: 1}, ErrInvalidParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Quantize(x, c.p)
			assert.ErrorIs(t, err, c.want, "Quantize")
			_, err = FakeQuantize(x, c.p)
			assert.ErrorIs(t, err, c.want, "FakeQuantize")
		})
	}
	_, err := Quantize(x, QParams{DType: Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: 1})
	assert.EqualError(t, err, "quant: quantize: 2 scales for axis 1 of shape [2 3 4], want 3: quant: shape mismatch")
}

func TestNewQTensor(t *testing.T) {
	p := PerTensorParams(UInt8, 0.5, 3)
	q, err := NewQTensor([]uint8{3, 5, 7, 9}, p, 2, 2)
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 1, 2, 3}, q.Dequantize().Data(), "dequantized")
	_, err = NewQTensor([]int8{1, 2, 3, 4}, p, 2, 2)
	assert.ErrorIs(t, err, ErrInvalidParams, "int8 data with uint8 params")
	_, err = NewQTensor([]uint8{1, 2, 3}, p, 2, 2)
	assert.ErrorIs(t, err, ErrShape, "short data")
	restricted := QParams{DType: Int8, Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: -1, QMin: -127, QMax: 127}
	_, err = NewQTensor([]int8{-128}, restricted, 1)
	assert.ErrorIs(t, err, ErrInvalidParams, "code outside the bounds")
}

// Per-channel quantization of a weight whose channels differ by 1000x
// keeps every channel accurate, per-tensor does not.
func TestPerChannelBeatsPerTensorOnUnevenChannels(t *testing.T) {
	w := tensor.New(2, 64)
	for i := range 64 {
		w.Set(float32(i-32)/32*0.01, 0, i)
		w.Set(float32(i-32)/32*10, 1, i)
	}
	pc, err := ChooseQParamsPerChannel([]float32{-0.01, -10}, []float32{0.01, 10}, WeightDefault)
	require.NoError(t, err)
	s, z, err := ChooseQParams(-10, 10, Spec{Scheme: Symmetric, Restricted: true})
	require.NoError(t, err)
	pt := QParams{DType: Int8, Scale: []float32{s}, ZeroPoint: []int32{z}, Axis: -1}
	row0 := w.Data()[:64]
	fpc, _ := FakeQuantize(w, pc)
	fpt, _ := FakeQuantize(w, pt)
	sqnrPC, sqnrPT := SQNR(row0, fpc.Data()[:64]), SQNR(row0, fpt.Data()[:64])
	if sqnrPC < 40 || sqnrPT > 10 {
		t.Fatalf("small channel SQNR: per-channel %.1f dB (want >= 40), per-tensor %.1f dB (want <= 10)", sqnrPC, sqnrPT)
	}
}
