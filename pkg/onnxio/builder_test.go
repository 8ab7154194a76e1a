package onnxio

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// testModel describes a small ONNX model for tests.
type testModel struct {
	opset  int64
	input  []int64 // dims after the symbolic batch
	elem   onnxpb.TensorProto_DataType
	nodes  []*onnxpb.NodeProto
	inits  []*onnxpb.TensorProto
	output string
	extra  func(m *onnxpb.ModelProto) // last changes
}

// bytes serializes the model; the input is "x".
func (tm testModel) bytes(t testing.TB) []byte {
	t.Helper()
	if tm.opset == 0 {
		tm.opset = 13
	}
	if tm.elem == 0 {
		tm.elem = onnxpb.TensorProto_FLOAT
	}
	if tm.output == "" {
		outs := tm.nodes[len(tm.nodes)-1].GetOutput()
		tm.output = outs[0]
	}
	in := valueInfo("x", tm.elem, nil)
	for _, d := range tm.input {
		dims := in.GetType().GetTensorType().GetShape()
		dims.Dim = append(dims.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(tm.opset)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("test"), Node: tm.nodes, Initializer: tm.inits,
			Input:  []*onnxpb.ValueInfoProto{in},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String(tm.output)}}},
	}
	if tm.extra != nil {
		tm.extra(m)
	}
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// nd returns a node.
func nd(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
}

// rawFloat returns a float32 initializer in raw_data.
func rawFloat(name string, data []float32, dims ...int64) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(data))
	for k, v := range data {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims, RawData: raw}
}

// typedFloat returns a float32 initializer in float_data.
func typedFloat(name string, data []float32, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims, FloatData: data}
}

// int64Init returns an int64 initializer in int64_data.
func int64Init(name string, data []int64, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: dims, Int64Data: data}
}

// ramp returns n values k·step + off.
func ramp(n int, step, off float32) []float32 {
	r := make([]float32, n)
	for k := range r {
		r[k] = float32(k)*step + off
	}
	return r
}
