package onnxio

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// ExportOpset is the default-domain opset the exporter writes (13, as
// PyTorch's exporter does by default: per-axis DequantizeLinear needs 13).
const ExportOpset = 13

// exportIRVersion is the IR version matching ExportOpset (ONNX 1.8).
const exportIRVersion = 7

// batchDim is the name of the symbolic batch dimension of exported inputs
// and outputs.
const batchDim = "batch"

// Export writes an FP32 graph as an ONNX model (opset 13) with a symbolic
// batch dimension: Linear as Gemm (transB), Conv2D as Conv, BatchNorm2D as
// BatchNormalization, MaxPool2D/AvgPool2D as MaxPool/AveragePool,
// GlobalAvgPool as GlobalAveragePool then Flatten, and Flatten, Add, ReLU,
// Softmax, LogSoftmax, Identity and Dropout (as Identity) as the operators
// of the same meaning, ZeroPad2D as Pad. ONNX node and output names are
// the nn node names; initializers are "node.param". Import of the result
// gives a graph whose Eval-mode outputs are bit-identical. Another layer kind fails with
// ErrExport naming the node, before anything is written.
func Export(w io.Writer, g *nn.Graph) error {
	if g == nil {
		return fmt.Errorf("onnxio: %w: nil graph", ErrExport)
	}
	e := newExporter(g.InputName(), g.InputShape())
	for _, n := range g.Nodes() {
		if err := e.fp32Node(n); err != nil {
			return err
		}
	}
	return e.write(w, g.Output(), g.OutputShape())
}

// ExportFile writes g to path atomically (see Export).
func ExportFile(path string, g *nn.Graph) error {
	return writeFile(path, func(w io.Writer) error { return Export(w, g) })
}

// writeFile replaces path whole with what write writes (a temporary file
// in the same folder, synced and renamed; removed on error).
func writeFile(path string, write func(io.Writer) error) error {
	var werr error
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		werr = write(w)
		return werr
	})
	switch {
	case err == nil, err == werr:
		return err
	}
	return fmt.Errorf("onnxio: writing %s: %w", path, err)
}

// exporter accumulates the nodes and initializers of one graph.
type exporter struct {
	inputName  string
	inputShape []int
	nodes      []*onnxpb.NodeProto
	inits      []*onnxpb.TensorProto
	names      map[string]bool // tensor names used
	opsets     map[string]int64
}

func newExporter(inputName string, inputShape []int) *exporter {
	return &exporter{inputName: inputName, inputShape: slices.Clone(inputShape),
		names: map[string]bool{inputName: true}, opsets: map[string]int64{"": ExportOpset}}
}

// fresh returns name, or name with a suffix, unused so far, and reserves it.
func (e *exporter) fresh(name string) string {
	s := name
	for k := 2; e.names[s]; k++ {
		s = fmt.Sprintf("%s_%d", name, k)
	}
	e.names[s] = true
	return s
}

// node appends an ONNX node named name.
func (e *exporter) node(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	e.nodes = append(e.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name),
		Input: in, Output: out, Attribute: attrs})
}

// floatInit adds a float32 initializer and returns its name.
func (e *exporter) floatInit(name string, data []float32, dims ...int) string {
	name = e.fresh(name)
	raw := make([]byte, 4*len(data))
	for k, v := range data {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	e.inits = append(e.inits, &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims: int64s(dims), RawData: raw})
	return name
}

func int64s(xs []int) []int64 {
	r := make([]int64, len(xs))
	for k, x := range xs {
		r[k] = int64(x)
	}
	return r
}

func attrI(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrF(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrIs(name string, v ...int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: int64s(v)}
}

// convAttrs are the attributes of a Conv or QLinearConv or ConvInteger.
func convAttrs(kh, kw, stride, pad int) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{attrIs("dilations", 1, 1), attrI("group", 1), attrIs("kernel_shape", kh, kw),
		attrIs("pads", pad, pad, pad, pad), attrIs("strides", stride, stride)}
}

// paramData returns a parameter's values, or nil for a nil parameter.
func paramData(p *nn.Param) []float32 {
	if p == nil || p.Value == nil {
		return nil
	}
	return p.Value.Data()
}

// fp32Node writes one nn node as ONNX nodes whose final output is named
// after it.
func (e *exporter) fp32Node(n *nn.Node) error {
	name, in := e.fresh(n.Name), n.Inputs
	out := []string{name}
	switch l := n.Layer.(type) {
	case *nn.Linear:
		ins := []string{in[0], e.floatInit(n.Name+".weight", paramData(l.Weight), l.Out, l.In)}
		if l.Bias != nil {
			ins = append(ins, e.floatInit(n.Name+".bias", paramData(l.Bias), l.Out))
		}
		e.node("Gemm", name, ins, out, attrF("alpha", 1), attrF("beta", 1), attrI("transB", 1))
	case *nn.Conv2D:
		ins := []string{in[0], e.floatInit(n.Name+".weight", paramData(l.Weight), l.OutC, l.InC, l.KH, l.KW)}
		if l.Bias != nil {
			ins = append(ins, e.floatInit(n.Name+".bias", paramData(l.Bias), l.OutC))
		}
		e.node("Conv", name, ins, out, convAttrs(l.KH, l.KW, l.Stride, l.Pad)...)
	case *nn.BatchNorm2D:
		ins := []string{in[0],
			e.floatInit(n.Name+".gamma", paramData(l.Gamma), l.C), e.floatInit(n.Name+".beta", paramData(l.Beta), l.C),
			e.floatInit(n.Name+".running_mean", paramData(l.RunningMean), l.C), e.floatInit(n.Name+".running_var", paramData(l.RunningVar), l.C)}
		e.node("BatchNormalization", name, ins, out, attrF("epsilon", l.Eps), attrF("momentum", 1-l.Momentum))
	case *nn.ReLU:
		e.node("Relu", name, in, out)
	case *nn.MaxPool2D:
		e.node("MaxPool", name, in, out, attrIs("kernel_shape", l.K, l.K), attrIs("pads", 0, 0, 0, 0), attrIs("strides", l.Stride, l.Stride))
	case *nn.AvgPool2D:
		e.node("AveragePool", name, in, out, attrIs("kernel_shape", l.K, l.K), attrIs("pads", 0, 0, 0, 0), attrIs("strides", l.Stride, l.Stride))
	case *nn.GlobalAvgPool:
		gap := e.fresh(n.Name + "/pool")
		e.node("GlobalAveragePool", gap, in, []string{gap})
		e.node("Flatten", name, []string{gap}, out, attrI("axis", 1))
	case *nn.Flatten:
		e.node("Flatten", name, in, out, attrI("axis", 1))
	case *nn.Add:
		if len(in) < 2 {
			return fmt.Errorf("onnxio: %w: node %q (Add) has %d inputs", ErrExport, n.Name, len(in))
		}
		acc := in[0]
		for k, x := range in[1:] {
			o := name
			if k < len(in)-2 {
				o = e.fresh(fmt.Sprintf("%s/%d", n.Name, k+1))
			}
			e.node("Add", o, []string{acc, x}, []string{o})
			acc = o
		}
	case *nn.Softmax:
		e.node("Softmax", name, in, out, attrI("axis", -1))
	case *nn.LogSoftmax:
		e.node("LogSoftmax", name, in, out, attrI("axis", -1))
	case *nn.Identity, *nn.Dropout:
		e.node("Identity", name, in, out)
	case *nn.ZeroPad2D:
		pads := e.fresh(n.Name + ".pads")
		e.inits = append(e.inits, &onnxpb.TensorProto{Name: proto.String(pads), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
			Dims: []int64{8}, Int64Data: []int64{0, 0, int64(l.Top), int64(l.Left), 0, 0, int64(l.Bottom), int64(l.Right)}})
		e.node("Pad", name, []string{in[0], pads}, out)
	default:
		return fmt.Errorf("onnxio: %w: node %q: layer kind %s has no ONNX mapping", ErrExport, n.Name, n.Layer.Kind())
	}
	return nil
}

// valueInfo describes a float32 tensor [batch, shape...].
func valueInfo(name string, elem onnxpb.TensorProto_DataType, shape []int) *onnxpb.ValueInfoProto {
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: batchDim}}}
	for _, d := range shape {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
}

// write serializes the model whose output is the tensor output.
func (e *exporter) write(w io.Writer, output string, outShape []int) error {
	var opsets []*onnxpb.OperatorSetIdProto
	for _, d := range []string{"", "com.microsoft"} {
		if v, ok := e.opsets[d]; ok {
			opsets = append(opsets, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(v)})
		}
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(exportIRVersion),
		OpsetImport:     opsets,
		ProducerName:    proto.String("ptqspec"),
		ProducerVersion: proto.String("1"),
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("ptqspec"),
			Node:        e.nodes,
			Initializer: e.inits,
			Input:       []*onnxpb.ValueInfoProto{valueInfo(e.inputName, onnxpb.TensorProto_FLOAT, e.inputShape)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo(output, onnxpb.TensorProto_FLOAT, outShape)},
		},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("onnxio: %w: encoding: %v", ErrExport, err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("onnxio: writing the model: %w", err)
	}
	return nil
}
