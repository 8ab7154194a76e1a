package quant

import (
	"errors"
	"math"
	"slices"
	"testing"

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
			if !slices.Equal(codes, c.codes) {
				t.Fatalf("codes %v, want %v", codes, c.codes)
			}
			if q.Bytes() != 8 || !slices.Equal(q.Shape(), []int{2, 4}) || q.DType() != c.p.DType {
				t.Fatalf("bytes %d shape %v dtype %v", q.Bytes(), q.Shape(), q.DType())
			}
			if (q.Int8s() != nil) != (c.p.DType == Int8) || (q.Uint8s() != nil) != (c.p.DType == UInt8) {
				t.Fatal("exactly the slice of the dtype must be set")
			}
			d := q.Dequantize()
			fq, err := FakeQuantize(x, c.p)
			require.NoError(t, err)
			if !slices.Equal(d.Data(), fq.Data()) {
				t.Fatalf("Dequantize %v != FakeQuantize %v", d.Data(), fq.Data())
			}
			if c.back != nil {
				for i, v := range d.Data() {
					if math.Abs(float64(v-c.back[i])) > 1e-6 {
						t.Fatalf("dequantized %v, want %v", d.Data(), c.back)
					}
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
			if _, err := Quantize(x, c.p); !errors.Is(err, c.want) {
				t.Fatalf("Quantize: %v, want %v", err, c.want)
			}
			if _, err := FakeQuantize(x, c.p); !errors.Is(err, c.want) {
				t.Fatalf("FakeQuantize: %v, want %v", err, c.want)
			}
		})
	}
	_, err := Quantize(x, QParams{DType: Int8, Scale: []float32{1, 1}, ZeroPoint: []int32{0, 0}, Axis: 1})
	if want := "quant: quantize: 2 scales for axis 1 of shape [2 3 4], want 3: quant: shape mismatch"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

func TestNewQTensor(t *testing.T) {
	p := PerTensorParams(UInt8, 0.5, 3)
	q, err := NewQTensor([]uint8{3, 5, 7, 9}, p, 2, 2)
	require.NoError(t, err)
	if got := q.Dequantize().Data(); !slices.Equal(got, []float32{0, 1, 2, 3}) {
		t.Fatalf("dequantized %v", got)
	}
	if _, err := NewQTensor([]int8{1, 2, 3, 4}, p, 2, 2); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("int8 data with uint8 params: %v", err)
	}
	if _, err := NewQTensor([]uint8{1, 2, 3}, p, 2, 2); !errors.Is(err, ErrShape) {
		t.Fatalf("short data: %v", err)
	}
	restricted := QParams{DType: Int8, Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: -1, QMin: -127, QMax: 127}
	if _, err := NewQTensor([]int8{-128}, restricted, 1); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("code outside the bounds: %v", err)
	}
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
