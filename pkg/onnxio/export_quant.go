package onnxio

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Format is the layout of an exported quantized model.
type Format string

// The formats of ExportQuantized.
const (
	// QDQ is ONNX Runtime's recommended format: float operators between
	// QuantizeLinear/DequantizeLinear pairs, int8 weights and int32 biases
	// as initializers behind DequantizeLinear.
	QDQ Format = "qdq"
	// QOperator uses the integer operators of the default domain:
	// QLinearConv, QLinearMatMul, MatMulInteger; int8 tensors flow between
	// them. Where the default domain has no such operator (Add, average
	// pooling: their QLinear forms are com.microsoft's), the node is
	// written in QDQ form.
	QOperator Format = "qoperator"
)

// ParseFormat returns the Format named s ("qdq" or "qoperator", any case).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case QDQ, QOperator:
		return f, nil
	}
	return "", fmt.Errorf("onnxio: %w: format %q (qdq or qoperator)", ErrExport, s)
}

// ExportQuantized writes a converted model as an ONNX model (opset 13)
// computing what m.Forward computes:
//
//   - statically quantized Linear and Conv2D nodes: in QDQ, Gemm (transB)
//     or Conv reading DequantizeLinear of the int8 input, of the int8
//     weights (per-channel: axis 0) and of the int32 bias (scale sIn·sW[c],
//     zero point 0), then QuantizeLinear with the output qparams; in
//     QOperator, QLinearConv (int32 bias), QLinearMatMul for a Linear
//     without bias and MatMulInteger + Add(int32 bias) + Cast + Mul(the
//     requantization multiplier) + QuantizeLinear(scale 1) for one with a
//     bias, which is ptqspec's requantization operation for operation;
//   - a fused ReLU (or reduced output range) clamps before the output
//     QuantizeLinear with Relu (or Clip) when saturation alone does not;
//   - int8 Add and pass-through layers: the float operator between
//     DequantizeLinear and QuantizeLinear (QOperator: MaxPool and Flatten
//     run on the int8 tensor directly); average pooling averages the codes
//     (Cast, AveragePool or GlobalAveragePool, QuantizeLinear with scale 1)
//     to round as ptqspec does;
//   - dynamically quantized nodes: DynamicQuantizeLinear, then
//     MatMulInteger or ConvInteger, the product of the accumulator by
//     x_scale and w_scale in double (Cast, Mul) as ptqspec computes it, Cast
//     to float, Add of the float bias (whatever f is);
//   - FP32 nodes as Export writes them, reading dequantized inputs.
//
// Int8 tensors are named "node/q", float ones after their node. The input
// and output are float32 with a symbolic batch dimension.
func ExportQuantized(w io.Writer, m *ptq.Model, f Format) error {
	if m == nil {
		return fmt.Errorf("onnxio: %w: nil model", ErrExport)
	}
	if f != QDQ && f != QOperator {
		return fmt.Errorf("onnxio: %w: format %q (qdq or qoperator)", ErrExport, f)
	}
	views, err := m.Inspect()
	if err != nil {
		return fmt.Errorf("onnxio: %w: %w", ErrExport, err)
	}
	q := &qexporter{exporter: newExporter(m.Input(), m.InputShape()), format: f,
		float: map[string]string{m.Input(): m.Input()}, ints: map[string]qtensor{}}
	var outShape []int
	for _, v := range views {
		if err := q.view(v); err != nil {
			return fmt.Errorf("onnxio: %w: node %q (%s, %s): %w", ErrExport, v.Name, v.Kind, v.Op, err)
		}
		if v.Name == m.Output() {
			outShape = v.Shape
		}
	}
	out, err := q.floatOf(m.Output())
	if err != nil {
		return fmt.Errorf("onnxio: %w: output %q: %w", ErrExport, m.Output(), err)
	}
	if out == m.Input() {
		out = q.fresh(m.Output())
		q.node("Identity", out, []string{m.Input()}, []string{out})
	}
	return q.write(w, out, outShape)
}

// ExportQuantizedFile writes m to path atomically (see ExportQuantized).
func ExportQuantizedFile(path string, m *ptq.Model, f Format) error {
	return writeFile(path, func(w io.Writer) error { return ExportQuantized(w, m, f) })
}

// qtensor is an int8 (or uint8) ONNX tensor with its per-tensor qparams
// and the initializers holding them.
type qtensor struct {
	name        string
	p           quant.QParams
	scale, zero string
}

// qexporter exports a converted model. float maps a node to the ONNX float
// tensor of its output, ints to its int8 tensor; either may be made from
// the other when a consumer needs it.
type qexporter struct {
	*exporter
	format Format
	float  map[string]string
	ints   map[string]qtensor
}

// dtypeProto is the ONNX type of a quant.DType.
func dtypeProto(d quant.DType) onnxpb.TensorProto_DataType {
	if d == quant.UInt8 {
		return onnxpb.TensorProto_UINT8
	}
	return onnxpb.TensorProto_INT8
}

// intInit adds an initializer of int8/uint8/int32 values and returns its
// name; dims nil means a scalar.
func (q *qexporter) intInit(name string, typ onnxpb.TensorProto_DataType, vals []int32, dims ...int) string {
	name = q.fresh(name)
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(typ)), Dims: int64s(dims)}
	switch typ {
	case onnxpb.TensorProto_INT32:
		t.Int32Data = vals
	default:
		raw := make([]byte, len(vals))
		for i, v := range vals {
			raw[i] = byte(v)
		}
		t.RawData = raw
	}
	q.inits = append(q.inits, t)
	return name
}

// scalarOrVector returns dims for n per-channel values: a scalar for one.
func scalarOrVector(n int) []int {
	if n == 1 {
		return nil
	}
	return []int{n}
}

// qparamInits adds the scale and zero point initializers of p (scalars for
// per-tensor p) and returns their names.
func (q *qexporter) qparamInits(base string, p quant.QParams, zeroType onnxpb.TensorProto_DataType) (string, string) {
	dims := scalarOrVector(len(p.Scale))
	scale := q.floatInit(base+"_scale", p.Scale, dims...)
	zero := q.intInit(base+"_zero_point", zeroType, p.ZeroPoint, dims...)
	return scale, zero
}

// actParams checks that p are per-tensor activation qparams.
func actParams(p quant.QParams) error {
	if !p.PerTensor() || len(p.Scale) != 1 || len(p.ZeroPoint) != 1 {
		return fmt.Errorf("activation qparams must be per-tensor, got %d channels", len(p.Scale))
	}
	return nil
}

// sameParams reports whether two per-tensor qparams quantize alike.
func sameParams(a, b quant.QParams) bool {
	alo, ahi := a.Bounds()
	blo, bhi := b.Bounds()
	return a.DType == b.DType && slices.Equal(a.Scale, b.Scale) && slices.Equal(a.ZeroPoint, b.ZeroPoint) && alo == blo && ahi == bhi
}

// clampBounds returns the real-valued clamp (in the float domain before a
// QuantizeLinear with p) that saturation to p's dtype does not already
// give: the declared bounds of p, raised to the zero point by a fused
// ReLU. ok is false when no clamp is needed; relu tells whether a Relu
// does it.
func clampBounds(p quant.QParams, relu bool) (lo, hi float32, isRelu, ok bool) {
	qlo, qhi := p.Bounds()
	dlo, dhi := p.DType.Bounds()
	z := p.ZeroPoint[0]
	if relu {
		qlo = max(qlo, z)
	}
	if qlo == dlo && qhi == dhi {
		return 0, 0, false, false
	}
	lo, hi = float32(qlo-z)*p.Scale[0], float32(qhi-z)*p.Scale[0]
	return lo, hi, qlo == z && qhi == dhi, true
}

// clamp writes Relu or Clip on float tensor x for a QuantizeLinear with p
// and returns the tensor to quantize.
func (q *qexporter) clamp(base, x string, p quant.QParams, relu bool) string {
	lo, hi, isRelu, ok := clampBounds(p, relu)
	if !ok {
		return x
	}
	y := q.fresh(base + "/clamp")
	if isRelu {
		q.node("Relu", y, []string{x}, []string{y})
		return y
	}
	q.node("Clip", y, []string{x, q.floatInit(base+"/clip_min", []float32{lo}), q.floatInit(base+"/clip_max", []float32{hi})}, []string{y})
	return y
}

// quantize writes QuantizeLinear(x) with p, and returns the int8 tensor.
func (q *qexporter) quantize(base, x string, p quant.QParams) qtensor {
	scale, zero := q.qparamInits(base+"/out", p, dtypeProto(p.DType))
	y := q.fresh(base + "/q")
	q.node("QuantizeLinear", y, []string{x, scale, zero}, []string{y})
	return qtensor{name: y, p: p, scale: scale, zero: zero}
}

// dequantize writes DequantizeLinear of t into a float tensor named name.
func (q *qexporter) dequantize(name string, t qtensor) string {
	y := q.fresh(name)
	q.node("DequantizeLinear", y, []string{t.name, t.scale, t.zero}, []string{y})
	return y
}

// setInt8Out records node name's int8 output t; in QDQ the float tensor
// named after the node is written at once.
func (q *qexporter) setInt8Out(name string, t qtensor) {
	q.ints[name] = t
	if q.format == QDQ {
		q.float[name] = q.dequantize(name, t)
	}
}

// floatOf returns the float tensor of node name's output, dequantizing
// its int8 tensor if needed.
func (q *qexporter) floatOf(name string) (string, error) {
	if f, ok := q.float[name]; ok {
		return f, nil
	}
	t, ok := q.ints[name]
	if !ok {
		return "", fmt.Errorf("no tensor for %q", name)
	}
	f := q.dequantize(name, t)
	q.float[name] = f
	return f, nil
}

// int8Of returns node name's output as an int8 tensor with qparams p: its
// own when they agree, else its float output quantized with p.
func (q *qexporter) int8Of(name string, p quant.QParams, consumer string) (qtensor, error) {
	if t, ok := q.ints[name]; ok && sameParams(t.p, p) {
		return t, nil
	}
	f, err := q.floatOf(name)
	if err != nil {
		return qtensor{}, err
	}
	return q.quantize(consumer+"/"+name, f, p), nil
}

// floatInputOf is the float input of a QDQ operator reading node name's
// output as int8 with qparams p: DequantizeLinear of its int8 tensor.
func (q *qexporter) floatInputOf(name string, p quant.QParams, consumer string) (string, error) {
	if t, ok := q.ints[name]; ok && sameParams(t.p, p) {
		return q.floatOf(name)
	}
	t, err := q.int8Of(name, p, consumer)
	if err != nil {
		return "", err
	}
	return q.dequantize(consumer+"/"+name+"/dq", t), nil
}

// weightInit adds the weight codes of v (optionally transposed from
// [Out, In] to [In, Out]) with their scale and zero point initializers.
func (q *qexporter) weightInit(v ptq.NodeView, transpose bool) (codes, scale, zero string, err error) {
	wt := v.Weights
	p := wt.Params()
	if !p.PerTensor() && p.Axis != 0 {
		return "", "", "", fmt.Errorf("weights per channel on axis %d (0 is supported)", p.Axis)
	}
	shape := wt.Shape()
	vals := make([]int32, wt.Len())
	for i := range vals {
		vals[i] = wt.At(i)
	}
	if transpose {
		rows, cols := shape[0], shape[1]
		t := make([]int32, len(vals))
		for r := range rows {
			for c := range cols {
				t[c*rows+r] = vals[r*cols+c]
			}
		}
		vals, shape = t, []int{cols, rows}
	}
	typ := dtypeProto(p.DType)
	codes = q.intInit(v.Name+".weight_quantized", typ, vals, shape...)
	scale, zero = q.qparamInits(v.Name+".weight", p, typ)
	return codes, scale, zero, nil
}

// doubleInit adds a float64 initializer holding float32 values exactly.
func (q *qexporter) doubleInit(name string, data []float32, dims ...int) string {
	name = q.fresh(name)
	d := make([]float64, len(data))
	for i, v := range data {
		d[i] = float64(v)
	}
	q.inits = append(q.inits, &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_DOUBLE)),
		Dims: int64s(dims), DoubleData: d})
	return name
}

// weightZeroScalar returns a scalar zero point initializer when every
// channel's zero point is the same, as ConvInteger and MatMulInteger
// prefer, else the per-channel one.
func (q *qexporter) weightZeroScalar(v ptq.NodeView, zero string) string {
	p := v.Weights.Params()
	for _, z := range p.ZeroPoint[1:] {
		if z != p.ZeroPoint[0] {
			return zero
		}
	}
	if len(p.ZeroPoint) == 1 {
		return zero
	}
	return q.intInit(v.Name+".weight_zero_point_scalar", dtypeProto(p.DType), p.ZeroPoint[:1])
}

// biasScales returns the float32 scales of an int32 bias: sIn·sW[c].
func biasScales(in quant.QParams, w quant.QParams) []float32 {
	s := make([]float32, len(w.Scale))
	for c, ws := range w.Scale {
		s[c] = float32(in.Scale[0] * ws)
	}
	return s
}

// view exports one node.
func (q *qexporter) view(v ptq.NodeView) error {
	switch v.Op {
	case ptq.OpFP32:
		return q.fp32View(v)
	case ptq.OpFused:
		head := v.Inputs[0]
		if f, ok := q.float[head]; ok {
			q.float[v.Name] = f
		}
		if t, ok := q.ints[head]; ok {
			q.ints[v.Name] = t
		}
		return nil
	case ptq.OpInt8PassThrough:
		return q.passThrough(v)
	case ptq.OpInt8Add:
		return q.add(v)
	case ptq.OpInt8Linear, ptq.OpInt8Conv2D:
		return q.kernel(v)
	case ptq.OpDynamicLinear, ptq.OpDynamicConv2D:
		return q.dynamic(v)
	}
	return fmt.Errorf("op %q has no ONNX mapping", v.Op)
}

// fp32View writes an FP32 node reading float inputs.
func (q *qexporter) fp32View(v ptq.NodeView) error {
	ins := make([]string, len(v.Inputs))
	for i, in := range v.Inputs {
		f, err := q.floatOf(in)
		if err != nil {
			return err
		}
		ins[i] = f
	}
	// fp32Node names its output after the node.
	if err := q.fp32Node(&nn.Node{Name: v.Name, Layer: v.Layer, Inputs: ins, Shape: v.Shape}); err != nil {
		return err
	}
	q.float[v.Name] = q.nodes[len(q.nodes)-1].GetOutput()[0]
	return nil
}

// passThrough writes a layer run on int8 codes with unchanged qparams: on
// FP32 input it is an FP32 node.
func (q *qexporter) passThrough(v ptq.NodeView) error {
	in := v.Inputs[0]
	t, isInt := q.ints[in]
	if v.Out == nil || !isInt {
		return q.fp32View(v)
	}
	switch v.Layer.(type) {
	case *nn.Identity, *nn.Dropout:
		q.ints[v.Name] = t
		if f, ok := q.float[in]; ok {
			q.float[v.Name] = f
		}
		return nil
	case *nn.MaxPool2D, *nn.Flatten:
		if q.format == QOperator {
			// Exact on codes: the same operator on the int8 tensor.
			l := v.Layer
			y := q.fresh(v.Name + "/q")
			switch l := l.(type) {
			case *nn.MaxPool2D:
				q.node("MaxPool", y, []string{t.name}, []string{y}, attrIs("kernel_shape", l.K, l.K), attrIs("pads", 0, 0, 0, 0), attrIs("strides", l.Stride, l.Stride))
			default:
				q.node("Flatten", y, []string{t.name}, []string{y}, attrI("axis", 1))
			}
			q.ints[v.Name] = qtensor{name: y, p: t.p, scale: t.scale, zero: t.zero}
			return nil
		}
	}
	switch l := v.Layer.(type) {
	case *nn.AvgPool2D, *nn.GlobalAvgPool:
		// The mean of the codes rounded half to even, as qnn computes it:
		// Cast to float (exact), average, QuantizeLinear with scale 1 and
		// zero point 0. (DequantizeLinear, AveragePool, QuantizeLinear
		// would round the real-valued mean, which can differ by one code
		// at ties.)
		c := q.fresh(v.Name + "/codes")
		q.node("Cast", c, []string{t.name}, []string{c}, attrI("to", int64(onnxpb.TensorProto_FLOAT)))
		mean := q.fresh(v.Name + "/mean")
		if ap, ok := l.(*nn.AvgPool2D); ok {
			q.node("AveragePool", mean, []string{c}, []string{mean}, attrIs("kernel_shape", ap.K, ap.K), attrIs("pads", 0, 0, 0, 0), attrIs("strides", ap.Stride, ap.Stride))
		} else {
			q.node("GlobalAveragePool", mean, []string{c}, []string{mean})
		}
		one := q.floatInit(v.Name+"/unit_scale", []float32{1})
		zero := q.intInit(v.Name+"/zero", dtypeProto(t.p.DType), []int32{0})
		y := q.fresh(v.Name + "/q")
		q.node("QuantizeLinear", y, []string{mean, one, zero}, []string{y})
		if _, ok := l.(*nn.GlobalAvgPool); ok {
			flat := q.fresh(v.Name + "/q_flat")
			q.node("Flatten", flat, []string{y}, []string{flat}, attrI("axis", 1))
			y = flat
		}
		q.setInt8Out(v.Name, qtensor{name: y, p: t.p, scale: t.scale, zero: t.zero})
		return nil
	}
	// DequantizeLinear, the float operator, QuantizeLinear with the same
	// qparams.
	f, err := q.floatOf(in)
	if err != nil {
		return err
	}
	if err := q.fp32Node(&nn.Node{Name: v.Name + "/float", Layer: v.Layer, Inputs: []string{f}, Shape: v.Shape}); err != nil {
		return err
	}
	y := q.nodes[len(q.nodes)-1].GetOutput()[0]
	q.setInt8Out(v.Name, q.quantize(v.Name, y, t.p))
	return nil
}

// add writes an int8 Add as DequantizeLinear, Add, QuantizeLinear.
func (q *qexporter) add(v ptq.NodeView) error {
	if v.Out == nil || len(v.In) != len(v.Inputs) || len(v.Inputs) < 2 {
		return fmt.Errorf("Add with %d inputs and %d input qparams", len(v.Inputs), len(v.In))
	}
	if err := actParams(*v.Out); err != nil {
		return err
	}
	acc := ""
	for i, in := range v.Inputs {
		// An int8 input is read with its own qparams, an FP32 one is
		// quantized with v.In[i] first (qnn.Add's rule).
		p := v.In[i]
		if t, ok := q.ints[in]; ok {
			p = t.p
		}
		if err := actParams(p); err != nil {
			return err
		}
		f, err := q.floatInputOf(in, p, v.Name)
		if err != nil {
			return err
		}
		if i == 0 {
			acc = f
			continue
		}
		s := q.fresh(fmt.Sprintf("%s/add%d", v.Name, i))
		q.node("Add", s, []string{acc, f}, []string{s})
		acc = s
	}
	acc = q.clamp(v.Name, acc, *v.Out, false)
	q.setInt8Out(v.Name, q.quantize(v.Name, acc, *v.Out))
	return nil
}

// kernel writes an int8 Linear or Conv2D.
func (q *qexporter) kernel(v ptq.NodeView) error {
	if v.Weights == nil || v.Out == nil || len(v.In) != 1 {
		return fmt.Errorf("int8 kernel without weights or qparams")
	}
	in, out := v.In[0], *v.Out
	if err := actParams(in); err != nil {
		return err
	}
	if err := actParams(out); err != nil {
		return err
	}
	conv := v.Op == ptq.OpInt8Conv2D
	if conv && v.Conv == nil {
		return fmt.Errorf("Conv2D without geometry")
	}
	if q.format == QOperator {
		return q.qoperatorKernel(v, in, out, conv)
	}
	x, err := q.floatInputOf(v.Inputs[0], in, v.Name)
	if err != nil {
		return err
	}
	codes, scale, zero, err := q.weightInit(v, false)
	if err != nil {
		return err
	}
	wp := v.Weights.Params()
	axis := []*onnxpb.AttributeProto{}
	if !wp.PerTensor() {
		axis = append(axis, attrI("axis", 0))
	}
	wf := q.fresh(v.Name + ".weight")
	q.node("DequantizeLinear", wf, []string{codes, scale, zero}, []string{wf}, axis...)
	ins := []string{x, wf}
	if v.Bias32 != nil {
		bs := biasScales(in, wp)
		b := q.intInit(v.Name+".bias_quantized", onnxpb.TensorProto_INT32, v.Bias32, len(v.Bias32))
		bscale := q.floatInit(v.Name+".bias_scale", bs, scalarOrVector(len(bs))...)
		bzero := q.intInit(v.Name+".bias_zero_point", onnxpb.TensorProto_INT32, make([]int32, len(bs)), scalarOrVector(len(bs))...)
		bf := q.fresh(v.Name + ".bias")
		q.node("DequantizeLinear", bf, []string{b, bscale, bzero}, []string{bf}, axis...)
		ins = append(ins, bf)
	}
	y := q.fresh(v.Name + "/float")
	if conv {
		g := v.Conv
		q.node("Conv", y, ins, []string{y}, convAttrs(g.KH, g.KW, g.Stride, g.Pad)...)
	} else {
		q.node("Gemm", y, ins, []string{y}, attrF("alpha", 1), attrF("beta", 1), attrI("transB", 1))
	}
	y = q.clamp(v.Name, y, out, v.ReLU)
	q.setInt8Out(v.Name, q.quantize(v.Name, y, out))
	return nil
}

// qoperatorKernel writes an int8 Linear or Conv2D with integer operators.
func (q *qexporter) qoperatorKernel(v ptq.NodeView, in, out quant.QParams, conv bool) error {
	x, err := q.int8Of(v.Inputs[0], in, v.Name)
	if err != nil {
		return err
	}
	outScale, outZero := q.qparamInits(v.Name+"/out", out, dtypeProto(out.DType))
	y := q.fresh(v.Name + "/q")
	wp := v.Weights.Params()
	switch {
	case conv:
		codes, scale, zero, err := q.weightInit(v, false)
		if err != nil {
			return err
		}
		ins := []string{x.name, x.scale, x.zero, codes, scale, zero, outScale, outZero}
		if v.Bias32 != nil {
			ins = append(ins, q.intInit(v.Name+".bias_quantized", onnxpb.TensorProto_INT32, v.Bias32, len(v.Bias32)))
		}
		g := v.Conv
		q.node("QLinearConv", y, ins, []string{y}, convAttrs(g.KH, g.KW, g.Stride, g.Pad)...)
	case v.Bias32 == nil:
		codes, scale, zero, err := q.weightInit(v, true)
		if err != nil {
			return err
		}
		q.node("QLinearMatMul", y, []string{x.name, x.scale, x.zero, codes, scale, zero, outScale, outZero}, []string{y})
	default:
		// MatMulInteger, + int32 bias, · multiplier, QuantizeLinear with
		// scale 1: quant.RequantizeValue step by step.
		codes, _, zero, err := q.weightInit(v, true)
		if err != nil {
			return err
		}
		acc := q.fresh(v.Name + "/acc")
		q.node("MatMulInteger", acc, []string{x.name, codes, x.zero, q.weightZeroScalar(v, zero)}, []string{acc})
		biased := q.fresh(v.Name + "/acc_bias")
		q.node("Add", biased, []string{acc, q.intInit(v.Name+".bias_quantized", onnxpb.TensorProto_INT32, v.Bias32, len(v.Bias32))}, []string{biased})
		accF := q.fresh(v.Name + "/acc_float")
		q.node("Cast", accF, []string{biased}, []string{accF}, attrI("to", int64(onnxpb.TensorProto_FLOAT)))
		mult := make([]float32, len(wp.Scale))
		for c, ws := range wp.Scale {
			mult[c] = quant.RequantMultiplier(in.Scale[0], ws, out.Scale[0])
		}
		scaled := q.fresh(v.Name + "/scaled")
		q.node("Mul", scaled, []string{accF, q.floatInit(v.Name+".multiplier", mult, scalarOrVector(len(mult))...)}, []string{scaled})
		// Clamp in units of codes around the zero point, then round.
		clamped := scaled
		qlo, qhi := out.Bounds()
		dlo, dhi := out.DType.Bounds()
		z := out.ZeroPoint[0]
		if v.ReLU {
			qlo = max(qlo, z)
		}
		if qlo != dlo || qhi != dhi {
			clamped = q.fresh(v.Name + "/clamp")
			q.node("Clip", clamped, []string{scaled, q.floatInit(v.Name+"/clip_min", []float32{float32(qlo - z)}),
				q.floatInit(v.Name+"/clip_max", []float32{float32(qhi - z)})}, []string{clamped})
		}
		one := q.floatInit(v.Name+"/unit_scale", []float32{1})
		q.node("QuantizeLinear", y, []string{clamped, one, outZero}, []string{y})
		q.ints[v.Name] = qtensor{name: y, p: out, scale: outScale, zero: outZero}
		return nil
	}
	t := qtensor{name: y, p: out, scale: outScale, zero: outZero}
	if _, _, _, ok := clampBounds(out, v.ReLU); ok {
		// Saturation does not clamp enough: Relu or Clip between
		// DequantizeLinear and QuantizeLinear (exact on codes).
		f := q.dequantize(v.Name+"/unclamped", t)
		t = q.quantize(v.Name+"/clamped", q.clamp(v.Name, f, out, v.ReLU), out)
	}
	q.ints[v.Name] = t
	return nil
}

// dynamic writes a dynamically quantized Linear or Conv2D.
func (q *qexporter) dynamic(v ptq.NodeView) error {
	if v.Weights == nil {
		return fmt.Errorf("dynamic kernel without weights")
	}
	conv := v.Op == ptq.OpDynamicConv2D
	if conv && v.Conv == nil {
		return fmt.Errorf("Conv2D without geometry")
	}
	x, err := q.floatOf(v.Inputs[0])
	if err != nil {
		return err
	}
	xq, xs, xz := q.fresh(v.Name+"/x_q"), q.fresh(v.Name+"/x_scale"), q.fresh(v.Name+"/x_zero_point")
	q.node("DynamicQuantizeLinear", q.fresh(v.Name+"/quantize"), []string{x}, []string{xq, xs, xz})
	codes, _, zero, err := q.weightInit(v, !conv)
	if err != nil {
		return err
	}
	wp := v.Weights.Params()
	acc := q.fresh(v.Name + "/acc")
	if conv {
		g := v.Conv
		q.node("ConvInteger", acc, []string{xq, codes, xz, q.weightZeroScalar(v, zero)}, []string{acc}, convAttrs(g.KH, g.KW, g.Stride, g.Pad)...)
	} else {
		q.node("MatMulInteger", acc, []string{xq, codes, xz, q.weightZeroScalar(v, zero)}, []string{acc})
	}
	// ptqspec dequantizes in float64: acc·sIn·sW[c] (Linear: (acc·sIn)·sW,
	// Conv2D: acc·(sIn·sW)), rounded once to float32, then adds the float
	// bias; so does this, with Cast to DOUBLE and back.
	double := int64(onnxpb.TensorProto_DOUBLE)
	accD := q.fresh(v.Name + "/acc_double")
	q.node("Cast", accD, []string{acc}, []string{accD}, attrI("to", double))
	xsD := q.fresh(v.Name + "/x_scale_double")
	q.node("Cast", xsD, []string{xs}, []string{xsD}, attrI("to", double))
	wdims := scalarOrVector(len(wp.Scale))
	if conv && len(wp.Scale) > 1 {
		wdims = []int{len(wp.Scale), 1, 1} // broadcast over [N, C, H, W]
	}
	wsD := q.doubleInit(v.Name+".weight_scale_double", wp.Scale, wdims...)
	prod := q.fresh(v.Name + "/scaled_double")
	if conv {
		s := q.fresh(v.Name + "/scale_double")
		q.node("Mul", s, []string{xsD, wsD}, []string{s})
		q.node("Mul", prod, []string{accD, s}, []string{prod})
	} else {
		t := q.fresh(v.Name + "/acc_x_scale")
		q.node("Mul", t, []string{accD, xsD}, []string{t})
		q.node("Mul", prod, []string{t, wsD}, []string{prod})
	}
	y := q.fresh(v.Name)
	if v.BiasFloat != nil {
		f := q.fresh(v.Name + "/scaled")
		q.node("Cast", f, []string{prod}, []string{f}, attrI("to", int64(onnxpb.TensorProto_FLOAT)))
		dims := []int{len(v.BiasFloat)}
		if conv {
			dims = []int{len(v.BiasFloat), 1, 1}
		}
		q.node("Add", y, []string{f, q.floatInit(v.Name+".bias", v.BiasFloat, dims...)}, []string{y})
	} else {
		q.node("Cast", y, []string{prod}, []string{y}, attrI("to", int64(onnxpb.TensorProto_FLOAT)))
	}
	q.float[v.Name] = y
	return nil
}
