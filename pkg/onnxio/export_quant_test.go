package onnxio

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// staticModel quantizes g statically, calibrated on 32 uniform samples.
func staticModel(t *testing.T, g *nn.Graph, cfg *ptq.Config) *ptq.Model {
	t.Helper()
	pr, err := ptq.Prepare(g, cfg)
	require.NoError(t, err)
	require.NoError(t, pr.Observe(randomInput(1, 32, g.InputShape())))
	m, err := pr.Convert()
	require.NoError(t, err)
	return m
}

// decoded exports m and decodes the result.
func decoded(t *testing.T, m *ptq.Model, f Format) *onnxpb.ModelProto {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, ExportQuantized(&buf, m, f))
	var mp onnxpb.ModelProto
	require.NoError(t, proto.Unmarshal(buf.Bytes(), &mp))
	return &mp
}

// opCounts counts the nodes of each op_type.
func opCounts(mp *onnxpb.ModelProto) map[string]int {
	c := map[string]int{}
	for _, n := range mp.GetGraph().GetNode() {
		c[n.GetOpType()]++
	}
	return c
}

// initializer returns the initializer called name.
func initializer(mp *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	for _, t := range mp.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// TestExportQuantizedOperators checks the operators each format writes
// for the three reference models, and that every node reads defined
// tensors in order. (ONNX Runtime's agreement with ptqspec's int8 models
// is tested with the runner, outside this package.)
func TestExportQuantizedOperators(t *testing.T) {
	mlp, err := models.MLP(1, 32)
	require.NoError(t, err)
	cnn, err := models.SmallCNN(2)
	require.NoError(t, err)
	res, err := models.ResidualCNN(3, 1, 12, 12, 10)
	require.NoError(t, err)
	dynMLP, _, err := ptq.QuantizeDynamic(context.Background(), mlp, nil)
	require.NoError(t, err)
	dynCNN, _, err := ptq.QuantizeDynamic(context.Background(), cnn, &ptq.DynamicConfig{Conv2D: true})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		m      *ptq.Model
		f      Format
		counts map[string]int // op_type -> nodes (only the listed ones are checked)
	}{
		{"MLP QDQ", staticModel(t, mlp, nil), QDQ, map[string]int{"Gemm": 2, "QuantizeLinear": 3, "DequantizeLinear": 3 + 2 + 2, "Relu": 0}},
		{"MLP QOperator", staticModel(t, mlp, nil), QOperator, map[string]int{"MatMulInteger": 2, "Cast": 2, "QuantizeLinear": 3, "DequantizeLinear": 1, "Gemm": 0}},
		{"SmallCNN QDQ", staticModel(t, cnn, nil), QDQ, map[string]int{"Conv": 2, "Gemm": 1, "MaxPool": 2, "BatchNormalization": 0}},
		{"SmallCNN QOperator", staticModel(t, cnn, nil), QOperator, map[string]int{"QLinearConv": 2, "MaxPool": 2, "MatMulInteger": 1, "Conv": 0}},
		{"ResidualCNN QDQ", staticModel(t, res, nil), QDQ, map[string]int{"Conv": 3, "Add": 1, "Gemm": 1}},
		{"ResidualCNN QOperator", staticModel(t, res, nil), QOperator, map[string]int{"QLinearConv": 3, "Add": 2, "MatMulInteger": 1}},
		{"dynamic MLP", dynMLP, QDQ, map[string]int{"DynamicQuantizeLinear": 2, "MatMulInteger": 2, "Relu": 1, "QuantizeLinear": 0}},
		{"dynamic SmallCNN", dynCNN, QOperator, map[string]int{"DynamicQuantizeLinear": 3, "ConvInteger": 2, "MatMulInteger": 1, "BatchNormalization": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := decoded(t, tc.m, tc.f)
			c := opCounts(mp)
			for op, n := range tc.counts {
				assert.Equal(t, n, c[op], "%s nodes (all: %v)", op, c)
			}
			assert.EqualValues(t, ExportOpset, mp.GetOpsetImport()[0].GetVersion())
			defined := map[string]bool{mp.GetGraph().GetInput()[0].GetName(): true}
			for _, in := range mp.GetGraph().GetInitializer() {
				defined[in.GetName()] = true
			}
			for _, n := range mp.GetGraph().GetNode() {
				for _, in := range n.GetInput() {
					assert.True(t, defined[in], "node %q reads %q before it is defined", n.GetName(), in)
				}
				for _, o := range n.GetOutput() {
					assert.False(t, defined[o], "tensor %q defined twice", o)
					defined[o] = true
				}
			}
			assert.True(t, defined[mp.GetGraph().GetOutput()[0].GetName()])
		})
	}
}

// TestExportQDQWeightsAndBias checks the QDQ encoding of one per-channel
// Linear: int8 weights behind DequantizeLinear with axis 0, and an int32
// bias whose scale is the input scale times each weight scale.
func TestExportQDQWeightsAndBias(t *testing.T) {
	g, err := models.MLP(4, 8)
	require.NoError(t, err)
	m := staticModel(t, g, nil)
	views, err := m.Inspect()
	require.NoError(t, err)
	var fc ptq.NodeView
	for _, v := range views {
		if v.Name == "linear1" {
			fc = v
		}
	}
	require.Equal(t, ptq.OpInt8Linear, fc.Op)
	mp := decoded(t, m, QDQ)
	w := initializer(mp, "linear1.weight_quantized")
	require.NotNil(t, w)
	assert.Equal(t, int32(onnxpb.TensorProto_INT8), w.GetDataType())
	assert.Equal(t, []int64{8, 784}, w.GetDims())
	for i, b := range w.GetRawData() {
		require.Equal(t, fc.Weights.At(i), int32(int8(b)), "weight code %d", i)
	}
	bias := initializer(mp, "linear1.bias_quantized")
	require.NotNil(t, bias)
	assert.Equal(t, int32(onnxpb.TensorProto_INT32), bias.GetDataType())
	assert.Equal(t, fc.Bias32, bias.GetInt32Data())
	bs := initializer(mp, "linear1.bias_scale")
	require.NotNil(t, bs)
	sw := fc.Weights.Params().Scale
	require.Len(t, sw, 8)
	for c := range sw {
		assert.Equal(t, float32(fc.In[0].Scale[0]*sw[c]), bsValue(bs, c), "bias scale %d", c)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() == "DequantizeLinear" && n.GetInput()[0] == "linear1.weight_quantized" {
			require.Len(t, n.GetAttribute(), 1)
			assert.Equal(t, "axis", n.GetAttribute()[0].GetName())
			assert.EqualValues(t, 0, n.GetAttribute()[0].GetI())
		}
	}
	assert.Equal(t, quant.Int8, fc.Weights.DType())
}

// bsValue reads float c of a raw float32 initializer.
func bsValue(t *onnxpb.TensorProto, c int) float32 {
	c0, err := decodeTensor(t, t.GetName(), 1<<20)
	if err != nil {
		return 0
	}
	return c0.f[c]
}

// TestExportQuantizedErrors checks the refusals of ExportQuantized.
func TestExportQuantizedErrors(t *testing.T) {
	g, err := models.MLP(1, 8)
	require.NoError(t, err)
	m := staticModel(t, g, nil)
	var buf bytes.Buffer
	assert.ErrorIs(t, ExportQuantized(&buf, nil, QDQ), ErrExport)
	assert.ErrorIs(t, ExportQuantized(&buf, m, Format("onnx")), ErrExport)
	assert.Zero(t, buf.Len())
	f, err := ParseFormat("QOperator")
	require.NoError(t, err)
	assert.Equal(t, QOperator, f)
	_, err = ParseFormat("tflite")
	assert.ErrorIs(t, err, ErrExport)
}
