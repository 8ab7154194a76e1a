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

// TestDynamicConv2D checks DynamicConv2D three ways, as TestDynamicLinear
// does DynamicLinear: against the float convolution of the dequantized
// input and weights (equal up to float rounding, relative 1e-5), against
// ONNX's DynamicQuantizeLinear + ConvInteger pipeline dequantized with the
// same scales (bit-identical), and against the float convolution of the
// true input and weights (cosine at least minCos).
func TestDynamicConv2D(t *testing.T) {
	perTensor := quant.WeightDefault
	perTensor.Granularity = quant.PerTensor
	affine := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}
	cases := []struct {
		name              string
		n, c, h, w, oc, k int
		stride, pad       int
		spec              quant.Spec
		bias              bool
		xLo, xHi          float32
		minCos            float64
	}{
		{"3x3 stride 1 pad 1, per-channel", 2, 3, 6, 6, 4, 3, 1, 1, quant.WeightDefault, true, -1, 1, 0.9999},
		{"3x3 stride 2 pad 1, per-tensor", 3, 2, 7, 7, 3, 3, 2, 1, perTensor, true, -1, 2, 0.9999},
		{"2x2 stride 2 no padding, no bias", 2, 2, 8, 6, 5, 2, 2, 0, quant.WeightDefault, false, -1, 1, 0.9999},
		{"1x1 kernel", 1, 4, 5, 5, 6, 1, 1, 0, quant.WeightDefault, true, -1, 1, 0.9999},
		{"5x5 stride 3 pad 2, uint8 affine weights", 2, 3, 9, 11, 4, 5, 3, 2, affine, true, -1, 1, 0.9999},
		{"one-sided positive input, padding reads the zero point", 2, 2, 5, 5, 3, 3, 1, 1, quant.WeightDefault, true, 0.5, 1, 0.9999},
		{"one-sided negative input, pad 2", 1, 2, 4, 4, 3, 3, 1, 2, perTensor, false, -2, -0.5, 0.9999},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 9))
			x := randTensor(r, c.xLo, c.xHi, c.n, c.c, c.h, c.w)
			w := randTensor(r, -0.5, 0.5, c.oc, c.c, c.k, c.k)
			ws := testWeights(t, w, c.spec)
			var bias []float32
			if c.bias {
				bias = randBias(r, c.oc)
			}
			k, err := NewDynamicConv2D(ws, c.c, c.oc, c.k, c.k, c.stride, c.pad, bias)
			require.NoError(t, err)
			y, err := k.Forward(x)
			require.NoError(t, err)
			act, err := DynamicParams(x.Data())
			require.NoError(t, err)
			ref, oh, ow := convRef(QuantizeTensor(x, act).Dequantize().Data(), c.n, c.c, c.h, c.w, dequantizeWeights(ws, c.oc), c.oc, c.k, c.stride, c.pad, bias)
			require.Equal(t, []int{c.n, c.oc, oh, ow}, y.Shape(), "shape")
			for j, v := range ref {
				require.InDelta(t, v, y.Data()[j], 1e-5*max(1, math.Abs(v)), "output %d against the dequantized convolution", j)
			}
			wf := make([]float64, w.Len())
			for j, v := range w.Data() {
				wf[j] = float64(v)
			}
			exact, _, _ := convRef(x.Data(), c.n, c.c, c.h, c.w, wf, c.oc, c.k, c.stride, c.pad, bias)
			exact32 := make([]float32, len(exact))
			for j, v := range exact {
				exact32[j] = float32(v)
			}
			cos := quant.CosineSimilarity(exact32, y.Data())
			assert.GreaterOrEqual(t, cos, c.minCos, "cosine to the float convolution")
			t.Logf("cosine to the float convolution %.6f", cos)

			// ONNX: DynamicQuantizeLinear, ConvInteger, then acc·sx·sw[c] + b.
			qx, _, zx, err := onnx.DynamicQuantizeLinear(onnx.Tensor[float32]{Shape: x.Shape(), Data: x.Data()})
			require.NoError(t, err)
			attrs := onnx.ConvAttrs{Pads: []int{c.pad, c.pad, c.pad, c.pad}, Strides: []int{c.stride, c.stride}}
			var acc onnx.Tensor[int32]
			if ws.Declared.DType == quant.UInt8 {
				acc, err = onnxConvInteger(qx, zx, ws, []int{c.oc, c.c, c.k, c.k}, func(q int8) uint8 { return uint8(int32(q) + 128) }, attrs)
			} else {
				acc, err = onnxConvInteger(qx, zx, ws, []int{c.oc, c.c, c.k, c.k}, func(q int8) int8 { return q }, attrs)
			}
			require.NoError(t, err)
			require.Equal(t, acc.Shape, y.Shape(), "ConvInteger's shape against the kernel's")
			plane := oh * ow
			for j, a := range acc.Data {
				o := (j / plane) % c.oc
				v := float32(float64(a) * (float64(act.Scale) * float64(ws.Scale[ws.channel(o)])))
				if bias != nil {
					v += bias[o]
				}
				if got := y.Data()[j]; math.Float32bits(got) != math.Float32bits(v) {
					t.Fatalf("output %d = %g, ONNX pipeline %g", j, got, v)
				}
			}
		})
	}
}

// onnxConvInteger runs ONNX ConvInteger on uint8 input codes with zero
// point zx and the weights ws, converted from int8 storage to their
// declared type by code.
func onnxConvInteger[W int8 | uint8](qx onnx.Tensor[uint8], zx uint8, ws Weights, shape []int, code func(int8) W, attrs onnx.ConvAttrs) (onnx.Tensor[int32], error) {
	wd := make([]W, len(ws.Data))
	for j, q := range ws.Data {
		wd[j] = code(q)
	}
	wz := make([]W, len(ws.Zero))
	for j, z := range ws.Zero {
		wz[j] = code(int8(z))
	}
	return onnx.ConvInteger(qx, onnx.Tensor[W]{Shape: shape, Data: wd},
		onnx.Tensor[uint8]{Data: []uint8{zx}}, onnx.Tensor[W]{Shape: []int{len(wz)}, Data: wz}, attrs)
}

func TestDynamicConv2DErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	w := testWeights(t, randTensor(r, -1, 1, 2, 1, 3, 3), quant.WeightDefault)
	k, err := NewDynamicConv2D(w, 1, 2, 3, 3, 1, 0, nil)
	require.NoError(t, err)
	cases := []struct {
		name string
		err  func() error
		want error
	}{
		{"input channels", func() error { _, err := k.Forward(tensor.New(1, 2, 5, 5)); return err }, quant.ErrShape},
		{"input rank", func() error { _, err := k.Forward(tensor.New(1, 25)); return err }, quant.ErrShape},
		{"input smaller than kernel", func() error { _, err := k.Forward(tensor.New(1, 1, 2, 2)); return err }, quant.ErrShape},
		{"Inf input", func() error {
			x := tensor.New(1, 1, 4, 4)
			x.Data()[5] = float32(math.Inf(-1))
			_, err := k.Forward(x)
			return err
		}, quant.ErrNonFinite},
		{"weight count", func() error { _, err := NewDynamicConv2D(w, 2, 2, 3, 3, 1, 0, nil); return err }, quant.ErrShape},
		{"bias count", func() error { _, err := NewDynamicConv2D(w, 1, 2, 3, 3, 1, 0, make([]float32, 3)); return err }, quant.ErrShape},
		{"stride 0", func() error { _, err := NewDynamicConv2D(w, 1, 2, 3, 3, 0, 0, nil); return err }, quant.ErrShape},
		{"negative padding", func() error { _, err := NewDynamicConv2D(w, 1, 2, 3, 3, 1, -1, nil); return err }, quant.ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, c.err(), c.want)
		})
	}
}
