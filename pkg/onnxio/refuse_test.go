package onnxio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// linearModel is x [N, 4] -> Gemm(transB) with a [3, 4] weight.
func linearModel(w *onnxpb.TensorProto) testModel {
	return testModel{input: []int64{4},
		nodes: []*onnxpb.NodeProto{nd("Gemm", "fc", []string{"x", "w"}, []string{"y"}, attrI("transB", 1))},
		inits: []*onnxpb.TensorProto{w}}
}

// convModel is x [N, 2, 6, 6] -> Conv with a [3, 2, 3, 3] weight and attrs.
func convModel(attrs ...*onnxpb.AttributeProto) testModel {
	return testModel{input: []int64{2, 6, 6},
		nodes: []*onnxpb.NodeProto{nd("Conv", "conv", []string{"x", "w"}, []string{"y"}, attrs...)},
		inits: []*onnxpb.TensorProto{rawFloat("w", ramp(54, 0.01, -0.2), 3, 2, 3, 3)}}
}

// TestImportRefusals imports damaged, hostile and unsupported models:
// each fails with the expected error and message, never a panic.
func TestImportRefusals(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join(fixtureDir(t), "mnist_mlp.onnx"))
	require.NoError(t, err)
	flipped := bytes.Clone(fixture)
	flipped[0] ^= 0xff
	w34 := rawFloat("w", ramp(12, 0.1, -0.5), 3, 4)
	relu := func(in, out string) *onnxpb.NodeProto { return nd("Relu", "r_"+out, []string{in}, []string{out}) }
	for _, tc := range []struct {
		name    string
		data    func(t testing.TB) []byte
		is      error
		message string // a part of the message
	}{
		{"empty file", func(testing.TB) []byte { return nil }, ErrNotONNX, "decode without a graph"},
		{"text", func(testing.TB) []byte { return []byte("hello, world") }, ErrNotONNX, "ModelProto"},
		{"truncated fixture", func(testing.TB) []byte { return fixture[:len(fixture)/2] }, ErrNotONNX, "ModelProto"},
		{"first byte flipped", func(testing.TB) []byte { return flipped }, ErrNotONNX, ""},
		{"declared 2^40-element tensor", func(t testing.TB) []byte {
			return linearModel(rawFloat("w", ramp(12, 1, 0), 1<<20, 1<<20)).bytes(t)
		}, ErrTooLarge, `tensor "w" declares dimensions [1048576 1048576]`},
		{"dimensions overflowing int64", func(t testing.TB) []byte {
			return linearModel(typedFloat("w", ramp(12, 1, 0), 1<<40, 1<<40, 1<<40)).bytes(t)
		}, ErrTensorData, "overflows"},
		{"raw data shorter than declared", func(t testing.TB) []byte {
			return linearModel(rawFloat("w", ramp(11, 1, 0), 3, 4)).bytes(t)
		}, ErrTensorData, "12 elements) but holds 11"},
		{"typed data longer than declared", func(t testing.TB) []byte {
			return linearModel(typedFloat("w", ramp(13, 1, 0), 3, 4)).bytes(t)
		}, ErrTensorData, "holds 13"},
		{"graph cycle", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, output: "b",
				nodes: []*onnxpb.NodeProto{relu("x", "a0"), nd("Add", "add", []string{"a0", "b"}, []string{"a"}), relu("a", "b")}}.bytes(t)
		}, ErrInvalidGraph, "graph cycle through node"},
		{"undefined input", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{nd("Add", "add", []string{"x", "ghost"}, []string{"y"})}}.bytes(t)
		}, ErrInvalidGraph, `node "add" (Add) reads tensor "ghost", which nothing defines`},
		{"tensor defined twice", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{relu("x", "y"), relu("x", "y")}}.bytes(t)
		}, ErrInvalidGraph, `tensor "y" is defined twice`},
		{"undefined graph output", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, output: "z", nodes: []*onnxpb.NodeProto{relu("x", "y")}}.bytes(t)
		}, ErrInvalidGraph, `graph output "z"`},
		{"Sigmoid", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{nd("Sigmoid", "sig", []string{"x"}, []string{"y"})}}.bytes(t)
		}, ErrUnsupported, `node "sig" (Sigmoid, domain ai.onnx, opset 13): unsupported: operator Sigmoid`},
		{"operator of another domain", func(t testing.TB) []byte {
			m := testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{relu("x", "y")}}
			m.nodes[0].Domain = proto.String("com.microsoft")
			return m.bytes(t)
		}, ErrUnsupported, `domain "com.microsoft"`},
		{"external data", func(t testing.TB) []byte {
			w := rawFloat("w", nil, 3, 4)
			w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}
			return linearModel(w).bytes(t)
		}, ErrUnsupported, "external data"},
		{"int64 input", func(t testing.TB) []byte {
			m := testModel{input: []int64{4}, elem: onnxpb.TensorProto_INT64, nodes: []*onnxpb.NodeProto{relu("x", "y")}}
			return m.bytes(t)
		}, ErrUnsupported, "graph input of element type INT64"},
		{"float16 weight", func(t testing.TB) []byte {
			w := &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT16)), Dims: []int64{3, 4}, RawData: make([]byte, 24)}
			return linearModel(w).bytes(t)
		}, ErrUnsupported, "data type FLOAT16"},
		{"opset 10", func(t testing.TB) []byte {
			return testModel{opset: 10, input: []int64{4}, nodes: []*onnxpb.NodeProto{relu("x", "y")}}.bytes(t)
		}, ErrUnsupported, "opset 10 (supported: 11 to 21)"},
		{"opset 22", func(t testing.TB) []byte {
			return testModel{opset: 22, input: []int64{4}, nodes: []*onnxpb.NodeProto{relu("x", "y")}}.bytes(t)
		}, ErrUnsupported, "opset 22"},
		{"two outputs", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{relu("x", "y")}, extra: func(m *onnxpb.ModelProto) {
				m.Graph.Output = append(m.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("x")})
			}}.bytes(t)
		}, ErrUnsupported, "2 outputs"},
		{"Conv group 2", func(t testing.TB) []byte { return convModel(attrI("group", 2)).bytes(t) }, ErrUnsupported, "group 2"},
		{"Conv dilation 2", func(t testing.TB) []byte { return convModel(attrIs("dilations", 2, 2)).bytes(t) }, ErrUnsupported, "dilations [2 2]"},
		{"Conv unequal strides", func(t testing.TB) []byte { return convModel(attrIs("strides", 1, 2)).bytes(t) }, ErrUnsupported, "strides [1 2]"},
		{"Conv huge pad", func(t testing.TB) []byte { return convModel(attrIs("pads", 1<<30, 1<<30, 1<<30, 1<<30)).bytes(t) }, ErrUnsupported, "pads"},
		{"Conv unknown attribute", func(t testing.TB) []byte { return convModel(attrI("frobnicate", 1)).bytes(t) }, ErrUnsupported, `attribute "frobnicate"`},
		{"Gemm transA", func(t testing.TB) []byte {
			m := linearModel(w34)
			m.nodes[0].Attribute = append(m.nodes[0].Attribute, attrI("transA", 1))
			return m.bytes(t)
		}, ErrUnsupported, "transA 1"},
		{"Gemm weight shape", func(t testing.TB) []byte { return linearModel(rawFloat("w", ramp(15, 1, 0), 3, 5)).bytes(t) }, ErrInvalidGraph, "B of dimensions [3 5]"},
		{"MaxPool with pads", func(t testing.TB) []byte {
			return testModel{input: []int64{1, 4, 4}, nodes: []*onnxpb.NodeProto{nd("MaxPool", "mp", []string{"x"}, []string{"y"},
				attrIs("kernel_shape", 2, 2), attrIs("pads", 1, 1, 1, 1))}}.bytes(t)
		}, ErrUnsupported, "padding [1 1 1 1] (MaxPool pads with -inf"},
		{"AveragePool with pads, count_include_pad 0", func(t testing.TB) []byte {
			return testModel{input: []int64{1, 4, 4}, nodes: []*onnxpb.NodeProto{nd("AveragePool", "ap", []string{"x"}, []string{"y"},
				attrIs("kernel_shape", 2, 2), attrIs("pads", 1, 1, 1, 1))}}.bytes(t)
		}, ErrUnsupported, "count_include_pad 0"},
		{"Pad in reflect mode", func(t testing.TB) []byte {
			m := testModel{input: []int64{1, 4, 4}, inits: []*onnxpb.TensorProto{int64Init("p", []int64{0, 0, 1, 1, 0, 0, 1, 1}, 8)},
				nodes: []*onnxpb.NodeProto{nd("Pad", "pad", []string{"x", "p"}, []string{"y"})}}
			m.nodes[0].Attribute = []*onnxpb.AttributeProto{{Name: proto.String("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("reflect")}}
			return m.bytes(t)
		}, ErrUnsupported, `mode "reflect"`},
		{"huge input", func(t testing.TB) []byte {
			return testModel{input: []int64{1 << 20, 1 << 20}, nodes: []*onnxpb.NodeProto{relu("x", "y")}}.bytes(t)
		}, ErrTooLarge, "per-sample shape [1048576 1048576]"},
		{"reshape that keeps no batch", func(t testing.TB) []byte {
			return testModel{input: []int64{2, 3}, inits: []*onnxpb.TensorProto{int64Init("s", []int64{3, -1}, 2)},
				nodes: []*onnxpb.NodeProto{nd("Reshape", "rs", []string{"x", "s"}, []string{"y"})}}.bytes(t)
		}, ErrUnsupported, "fixed batch size"},
		{"Add of an activation and a constant", func(t testing.TB) []byte {
			return testModel{input: []int64{4}, inits: []*onnxpb.TensorProto{rawFloat("c", ramp(4, 1, 0), 4)},
				nodes: []*onnxpb.NodeProto{nd("Add", "add", []string{"x", "c"}, []string{"y"})}}.bytes(t)
		}, ErrUnsupported, "Add of a constant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Import(bytes.NewReader(tc.data(t)))
			require.Error(t, err)
			assert.Nil(t, g)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.message)
			assert.True(t, len(err.Error()) > len("onnxio: ") && err.Error()[:8] == "onnxio: ", "prefix of %q", err)
			if errors.Is(err, ErrUnsupported) {
				var ue *UnsupportedError
				assert.ErrorAs(t, err, &ue)
			}
		})
	}
}

// TestImportFlippedBytes flips each byte of the first 400 bytes of a
// fixture (its structure; the rest is weight data) one at a time: the
// import either fails or gives a graph that runs, and never panics.
func TestImportFlippedBytes(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join(fixtureDir(t), "mnist_tiny_resnet.onnx"))
	require.NoError(t, err)
	x := randomInput(3, 1, []int{1, 28, 28})
	failed := 0
	for off := range min(400, len(fixture)) {
		data := bytes.Clone(fixture)
		data[off] ^= 0x5a
		g, err := Import(bytes.NewReader(data))
		if err != nil {
			failed++
			require.Regexp(t, "^onnxio: ", err.Error())
			continue
		}
		// Running every graph doubles the test's time; every 20th will do.
		if off%20 == 0 && slices.Equal(g.InputShape(), []int{1, 28, 28}) {
			_, err = g.Forward(x, nn.Eval)
			_ = err // a changed attribute may make the graph refuse this input; it must not panic
		}
	}
	t.Logf("%d of 400 flips refused", failed)
	assert.Greater(t, failed, 100)
}
