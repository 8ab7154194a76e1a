package onnxio

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// shapeSubgraphModel is x [N, 1, 6, 6] -> Pad(1) -> Conv(3x3) -> Relu ->
// Pad(0) -> AveragePool(2) -> Reshape(x, [Shape(x)[0], -1]) as PyTorch
// writes it -> MatMul + Add -> Softmax.
func shapeSubgraphModel() testModel {
	return testModel{input: []int64{1, 6, 6},
		inits: []*onnxpb.TensorProto{
			rawFloat("cw", ramp(18, 0.05, -0.4), 2, 1, 3, 3), typedFloat("cb", []float32{0.1, -0.2}, 2),
			int64Init("p1", []int64{0, 0, 1, 1, 0, 0, 1, 1}, 8), int64Init("p0", make([]int64, 8), 8),
			rawFloat("mw", ramp(72, 0.01, -0.3), 18, 4), rawFloat("mb", []float32{0.5, -0.5, 0.25, 0}, 4),
			int64Init("axes", []int64{0}, 1),
		},
		nodes: []*onnxpb.NodeProto{
			nd("Pad", "pad1", []string{"x", "p1"}, []string{"xp"}),
			nd("Conv", "conv", []string{"xp", "cw", "cb"}, []string{"c"}, attrIs("kernel_shape", 3, 3)),
			nd("Relu", "relu", []string{"c"}, []string{"r"}),
			nd("Pad", "pad0", []string{"r", "p0"}, []string{"rp"}),
			nd("AveragePool", "avg", []string{"rp"}, []string{"a"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2), attrI("count_include_pad", 1)),
			nd("Shape", "shape", []string{"a"}, []string{"s"}),
			nd("Constant", "zero", nil, []string{"i0"}, &onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(),
				T: &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), RawData: make([]byte, 8)}}),
			nd("Gather", "gather", []string{"s", "i0"}, []string{"batch"}, attrI("axis", 0)),
			nd("Unsqueeze", "unsq", []string{"batch", "axes"}, []string{"b1"}),
			nd("Constant", "minus1", nil, []string{"m1"}, &onnxpb.AttributeProto{Name: proto.String("value_ints"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{-1}}),
			nd("Concat", "concat", []string{"b1", "m1"}, []string{"target"}, attrI("axis", 0)),
			nd("Reshape", "reshape", []string{"a", "target"}, []string{"flat"}),
			nd("MatMul", "matmul", []string{"flat", "mw"}, []string{"mm"}),
			nd("Add", "bias", []string{"mm", "mb"}, []string{"logits"}),
			nd("Softmax", "softmax", []string{"logits"}, []string{"y"}, attrI("axis", -1)),
		}}
}

// globalPoolModel (opset 11) is x [N, 2, 4, 4] -> BatchNormalization ->
// GlobalAveragePool -> Flatten -> Gemm(alpha 0.5, beta 2, B not
// transposed, C from a Constant) -> Dropout -> Identity -> LogSoftmax.
func globalPoolModel() testModel {
	c := typedFloat("", []float32{1, 2, 3}, 3)
	return testModel{opset: 11, input: []int64{2, 4, 4},
		inits: []*onnxpb.TensorProto{
			typedFloat("gamma", []float32{1.5, 0.5}, 2), typedFloat("beta", []float32{0.1, -0.1}, 2),
			typedFloat("mean", []float32{0.4, 0.6}, 2), typedFloat("var", []float32{0.2, 2}, 2),
			rawFloat("B", ramp(6, 0.3, -0.7), 2, 3),
		},
		nodes: []*onnxpb.NodeProto{
			nd("BatchNormalization", "bn", []string{"x", "gamma", "beta", "mean", "var"}, []string{"n"}, attrF("epsilon", 1e-3)),
			nd("GlobalAveragePool", "gap", []string{"n"}, []string{"g"}),
			nd("Flatten", "flat", []string{"g"}, []string{"f"}, attrI("axis", 1)),
			nd("Constant", "C", nil, []string{"c"}, &onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: c}),
			nd("Gemm", "gemm", []string{"f", "B", "c"}, []string{"z"}, attrF("alpha", 0.5), attrF("beta", 2)),
			nd("Dropout", "drop", []string{"z"}, []string{"d"}, attrF("ratio", 0.3)),
			nd("Identity", "id", []string{"d"}, []string{"i"}),
			nd("LogSoftmax", "lsm", []string{"i"}, []string{"y"}, attrI("axis", 1)),
		}}
}

// TestImportOperators imports models using the operators the fixtures do
// not, and compares them with nn graphs built by hand from the same
// weights.
func TestImportOperators(t *testing.T) {
	const tol = 1e-6 // relative to the largest output
	shapeRef := func() (*nn.Graph, error) {
		conv := nn.NewConv2D(1, 2, 3, 1, 1, nil)
		copy(conv.Weight.Value.Data(), ramp(18, 0.05, -0.4))
		copy(conv.Bias.Value.Data(), []float32{0.1, -0.2})
		fc := nn.NewLinear(18, 4, nil)
		copy(fc.Weight.Value.Data(), transpose(ramp(72, 0.01, -0.3), 18, 4))
		copy(fc.Bias.Value.Data(), []float32{0.5, -0.5, 0.25, 0})
		return nn.Sequential([]int{1, 6, 6}, conv, nn.NewReLU(), nn.NewAvgPool2D(2, 2), nn.NewFlatten(), fc, nn.NewSoftmax())
	}
	poolRef := func() (*nn.Graph, error) {
		bn := nn.NewBatchNorm2D(2)
		bn.Eps = 1e-3
		copy(bn.Gamma.Value.Data(), []float32{1.5, 0.5})
		copy(bn.Beta.Value.Data(), []float32{0.1, -0.1})
		copy(bn.RunningMean.Value.Data(), []float32{0.4, 0.6})
		copy(bn.RunningVar.Value.Data(), []float32{0.2, 2})
		fc := nn.NewLinear(2, 3, nil)
		w := transpose(ramp(6, 0.3, -0.7), 2, 3)
		for i := range w {
			w[i] *= 0.5
		}
		copy(fc.Weight.Value.Data(), w)
		copy(fc.Bias.Value.Data(), []float32{2, 4, 6})
		return nn.Sequential([]int{2, 4, 4}, bn, nn.NewGlobalAvgPool(), fc, nn.NewLogSoftmax())
	}
	for _, tc := range []struct {
		name  string
		model testModel
		ref   func() (*nn.Graph, error)
		kinds []string
	}{
		{"Pad+Conv, zero Pad+AveragePool, shape subgraph, MatMul+Add, Softmax", shapeSubgraphModel(), shapeRef,
			[]string{"Conv2D", "ReLU", "AvgPool2D", "Flatten", "Linear", "Softmax"}},
		{"opset 11 BatchNormalization, GlobalAveragePool, Gemm alpha/beta, Dropout, Identity, LogSoftmax", globalPoolModel(), poolRef,
			[]string{"BatchNorm2D", "GlobalAvgPool", "Linear", "LogSoftmax"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Import(bytes.NewReader(tc.model.bytes(t)))
			require.NoError(t, err)
			var kinds []string
			for _, n := range g.Nodes() {
				kinds = append(kinds, n.Layer.Kind())
			}
			assert.Equal(t, tc.kinds, kinds)
			ref, err := tc.ref()
			require.NoError(t, err)
			x := randomInput(4, 3, g.InputShape())
			want, err := ref.Forward(x, nn.Eval)
			require.NoError(t, err)
			got, err := g.Forward(x, nn.Eval)
			require.NoError(t, err)
			require.Equal(t, want.Shape(), got.Shape())
			assert.LessOrEqual(t, relErr(got.Data(), want.Data()), tol)
		})
	}
}

// TestImportInputShape checks WithInputShape for a model whose input has
// symbolic spatial dimensions.
func TestImportInputShape(t *testing.T) {
	m := testModel{nodes: []*onnxpb.NodeProto{nd("Relu", "r", []string{"x"}, []string{"y"})},
		extra: func(mp *onnxpb.ModelProto) {
			shape := mp.Graph.Input[0].Type.GetTensorType().Shape
			for range 3 {
				shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "d"}})
			}
		}}
	data := m.bytes(t)
	_, err := Import(bytes.NewReader(data))
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "WithInputShape")
	g, err := Import(bytes.NewReader(data), WithInputShape(3, 5, 7))
	require.NoError(t, err)
	assert.Equal(t, []int{3, 5, 7}, g.InputShape())
	x := tensor.New(2, 3, 5, 7)
	_, err = g.Forward(x, nn.Eval)
	assert.NoError(t, err)
}

// TestImportPadding checks padding no Conv2D absorbs: it becomes a
// ZeroPad2D node, compared with an nn graph built by hand.
func TestImportPadding(t *testing.T) {
	w := ramp(18, 0.05, -0.4)
	conv := func(stride int) *nn.Conv2D {
		c := nn.NewConv2D(1, 2, 3, stride, 0, nil)
		copy(c.Weight.Value.Data(), w)
		c.Bias = nil
		return c
	}
	pads := int64Init("p", []int64{0, 0, 1, 2, 0, 0, 0, 1}, 8)
	cw := rawFloat("cw", w, 2, 1, 3, 3)
	x := func(nodes ...*onnxpb.NodeProto) []*onnxpb.NodeProto { return nodes }
	for _, tc := range []struct {
		name  string
		model testModel
		ref   []nn.Layer
	}{
		{"Conv with asymmetric pads", testModel{input: []int64{1, 6, 6}, inits: []*onnxpb.TensorProto{cw},
			nodes: x(nd("Conv", "conv", []string{"x", "cw"}, []string{"y"}, attrIs("pads", 0, 0, 1, 1)))},
			[]nn.Layer{nn.NewZeroPad2D(0, 0, 1, 1), conv(1)}},
		{"Conv SAME_UPPER stride 2", testModel{input: []int64{1, 6, 6}, inits: []*onnxpb.TensorProto{cw},
			nodes: x(nd("Conv", "conv", []string{"x", "cw"}, []string{"y"}, &onnxpb.AttributeProto{Name: proto.String("auto_pad"),
				Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("SAME_UPPER")}, attrIs("strides", 2, 2)))},
			[]nn.Layer{nn.NewZeroPad2D(0, 0, 1, 1), conv(2)}},
		{"uneven Pad then Conv", testModel{input: []int64{1, 6, 6}, inits: []*onnxpb.TensorProto{cw, pads},
			nodes: x(nd("Pad", "pad", []string{"x", "p"}, []string{"xp"}), nd("Conv", "conv", []string{"xp", "cw"}, []string{"y"}))},
			[]nn.Layer{nn.NewZeroPad2D(1, 2, 0, 1), conv(1)}},
		{"Pad then AveragePool", testModel{input: []int64{1, 6, 6}, inits: []*onnxpb.TensorProto{pads},
			nodes: x(nd("Pad", "pad", []string{"x", "p"}, []string{"xp"}),
				nd("AveragePool", "ap", []string{"xp"}, []string{"y"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2)))},
			[]nn.Layer{nn.NewZeroPad2D(1, 2, 0, 1), nn.NewAvgPool2D(2, 2)}},
		{"AveragePool pads, count_include_pad 1", testModel{input: []int64{1, 6, 6},
			nodes: x(nd("AveragePool", "ap", []string{"x"}, []string{"y"}, attrIs("kernel_shape", 3, 3), attrIs("pads", 1, 1, 1, 1),
				attrI("count_include_pad", 1)))},
			[]nn.Layer{nn.NewZeroPad2D(1, 1, 1, 1), nn.NewAvgPool2D(3, 1)}},
		{"Pad then Relu and MaxPool", testModel{input: []int64{1, 6, 6}, inits: []*onnxpb.TensorProto{pads},
			nodes: x(nd("Pad", "pad", []string{"x", "p"}, []string{"xp"}), nd("Relu", "relu", []string{"xp"}, []string{"r"}),
				nd("MaxPool", "mp", []string{"r"}, []string{"y"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 1, 1)))},
			[]nn.Layer{nn.NewZeroPad2D(1, 2, 0, 1), nn.NewReLU(), nn.NewMaxPool2D(2, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Import(bytes.NewReader(tc.model.bytes(t)))
			require.NoError(t, err)
			ref, err := nn.Sequential([]int{1, 6, 6}, tc.ref...)
			require.NoError(t, err)
			var kinds, want []string
			for _, n := range g.Nodes() {
				kinds = append(kinds, n.Layer.Kind())
			}
			for _, l := range tc.ref {
				want = append(want, l.Kind())
			}
			assert.Equal(t, want, kinds)
			in := randomInput(5, 2, []int{1, 6, 6})
			wantY, err := ref.Forward(in, nn.Eval)
			require.NoError(t, err)
			got, err := g.Forward(in, nn.Eval)
			require.NoError(t, err)
			require.Equal(t, wantY.Shape(), got.Shape())
			assert.Equal(t, wantY.Data(), got.Data())
		})
	}
}

// TestImportTransposedWeight checks a Linear written as MatMul of
// Transpose(W) (W [out, in], as some exporters write it), and that a
// Transpose of an activation is refused.
func TestImportTransposedWeight(t *testing.T) {
	w := ramp(12, 0.1, -0.6) // [3, 4]
	m := testModel{input: []int64{4}, inits: []*onnxpb.TensorProto{rawFloat("w", w, 3, 4), rawFloat("b", []float32{1, 2, 3}, 3)},
		nodes: []*onnxpb.NodeProto{nd("Transpose", "wt", []string{"w"}, []string{"wT"}, attrIs("perm", 1, 0)),
			nd("MatMul", "mm", []string{"x", "wT"}, []string{"m"}), nd("Add", "add", []string{"m", "b"}, []string{"y"})}}
	g, err := Import(bytes.NewReader(m.bytes(t)))
	require.NoError(t, err)
	require.Len(t, g.Nodes(), 1)
	fc, ok := g.Nodes()[0].Layer.(*nn.Linear)
	require.True(t, ok)
	assert.Equal(t, w, fc.Weight.Value.Data())
	assert.Equal(t, []float32{1, 2, 3}, fc.Bias.Value.Data())

	bad := testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{nd("Transpose", "t", []string{"x"}, []string{"y"})}}
	_, err = Import(bytes.NewReader(bad.bytes(t)))
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), `node "t" (Transpose`)
}
