package ptq

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// LoadModel reads a model written by Model.Save. It reads r to its end and
// checks the magic (an error wrapping nn.ErrBadMagic; an FP32 model file
// of package nn is named as such), the version (nn.ErrVersion), the
// record structure (nn.ErrTruncated, with the byte offset where the file
// ends) and the checksum (nn.ErrChecksum) before it trusts any content.
// It then rebuilds every node, failing with an error that names the node
// on a graph that does not hold together (an unknown input, an output
// shape its layer or kernel does not produce, qparams that are not valid)
// and with nn.ErrParamShape on a missing, extra, misnamed or misshapen
// tensor record. The model it returns computes exactly what the saved one
// did and reports the same plan, layers, trace and bytes.
func LoadModel(r io.Reader) (*Model, error) {
	if r == nil {
		return nil, errors.New("ptq: load: nil reader")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("ptq: load: %w", err)
	}
	return load(data, "ptq: load")
}

// LoadModelFile loads a model saved by SaveFile or Save; errors name the
// path.
func LoadModelFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ptq: load: %w", err)
	}
	return load(data, "ptq: load "+path)
}

// load decodes and rebuilds a model file, its errors starting with prefix.
func load(data []byte, prefix string) (*Model, error) {
	h, recs, err := decodeModel(data, prefix)
	if err != nil {
		return nil, err
	}
	ld := &loader{recs: recs}
	m, err := ld.build(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	return m, nil
}

// decodeModel checks the binary structure and the checksum and parses the
// header.
func decodeModel(data []byte, prefix string) (modelHeader, []record, error) {
	var h modelHeader
	recs, err := modelFormat.Read(data, prefix, &h)
	return h, recs, err
}

// loader rebuilds a model from a decoded file, handing out its records in
// order.
type loader struct {
	recs []record
	next int
}

// modeOps are the model modes, and for each the ops each role may run.
var modeOps = map[Mode]map[Role][]stepOp{
	ModeStatic:  {Quantized: {opLinear, opConv2D, opAdd}, Fused: {opFused}, Transparent: {opInt8, opFP32}, FP32: {opFP32}},
	ModeDynamic: {Quantized: {opDynamic, opDynamicConv2D}, FP32: {opFP32}},
	ModeFP32:    {Quantized: {opFP32}, Fused: {opFP32}, Transparent: {opFP32}, FP32: {opFP32}},
}

// build rebuilds the model a header describes.
func (ld *loader) build(h modelHeader) (*Model, error) {
	mode, _ := ParseMode(h.Mode)
	ops, ok := modeOps[mode]
	if !ok {
		return nil, fmt.Errorf("mode %q, want static, dynamic or fp32", h.Mode)
	}
	if h.Input.Name == "" || len(h.Input.Shape) == 0 || slices.ContainsFunc(h.Input.Shape, func(d int) bool { return d <= 0 }) {
		return nil, fmt.Errorf("input %q of shape %v: want a name and positive dimensions", h.Input.Name, h.Input.Shape)
	}
	if _, err := tensor.Numel(h.Input.Shape); err != nil {
		return nil, fmt.Errorf("input %q: %w", h.Input.Name, err)
	}
	if len(h.Nodes) == 0 || h.Nodes[len(h.Nodes)-1].Name != h.Output {
		return nil, fmt.Errorf("output %q is not the last of the %d nodes", h.Output, len(h.Nodes))
	}
	m := &Model{mode: mode, input: h.Input.Name, inputShape: slices.Clone(h.Input.Shape), output: h.Output}
	m.plan = &Plan{Input: h.Input.Name, Output: h.Output, InputShape: slices.Clone(h.Input.Shape), byName: map[string]*NodePlan{}}
	shapes := map[string][]int{h.Input.Name: h.Input.Shape}
	acts := map[string]qnn.Act{}
	for _, nh := range h.Nodes {
		s, np, err := ld.node(nh, ops, shapes, acts)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", nh.Name, nh.Kind, err)
		}
		m.steps = append(m.steps, s)
		m.plan.Nodes = append(m.plan.Nodes, np)
		m.plan.byName[np.Name] = np
		shapes[s.name] = s.shape
	}
	if ld.next != len(ld.recs) {
		r := ld.recs[ld.next]
		return nil, fmt.Errorf("%w: the file holds %d tensor records, the model %d (first extra: %q at byte offset %d)",
			nn.ErrParamShape, len(ld.recs), ld.next, r.Name, r.Offset)
	}
	return m, nil
}

// node rebuilds one node from its header. shapes holds the output shapes
// of the model input and the nodes before it, acts the qparams of those
// whose output is int8.
func (ld *loader) node(nh nodeHeader, ops map[Role][]stepOp, shapes map[string][]int, acts map[string]qnn.Act) (*step, *NodePlan, error) {
	if nh.Name == "" || nh.Kind == "" {
		return nil, nil, fmt.Errorf("a node needs a name and a kind")
	}
	if _, dup := shapes[nh.Name]; dup {
		return nil, nil, fmt.Errorf("name used twice (or by the input)")
	}
	if len(nh.Inputs) == 0 {
		return nil, nil, fmt.Errorf("no inputs")
	}
	inShapes := make([][]int, len(nh.Inputs))
	for i, in := range nh.Inputs {
		sh, ok := shapes[in]
		if !ok {
			return nil, nil, fmt.Errorf("unknown input %q (not the model input or an earlier node)", in)
		}
		inShapes[i] = sh
	}
	np, err := nodePlanOf(nh)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(ops[np.Role], nh.Op) {
		return nil, nil, fmt.Errorf("op %q with role %s; this mode runs %v", nh.Op, np.Role, ops[np.Role])
	}
	if nh.Report.Name != nh.Name || nh.Report.Kind != nh.Kind {
		return nil, nil, fmt.Errorf("report describes node %q (%s)", nh.Report.Name, nh.Report.Kind)
	}
	report := nh.Report
	s := &step{name: nh.Name, kind: nh.Kind, inputs: slices.Clone(nh.Inputs), role: np.Role, shape: slices.Clone(nh.Shape), layer: &report}
	want := slices.Clone(nh.Shape) // what the op computes from its inputs
	switch nh.Op {
	case opFP32, opInt8:
		l, err := ld.layer(nh)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := transparentKinds[nh.Kind]; nh.Op == opInt8 && !ok {
			return nil, nil, fmt.Errorf("layer kind %s does not run on int8 codes", nh.Kind)
		}
		if want, err = l.OutputShape(inShapes); err != nil {
			return nil, nil, fmt.Errorf("input shapes %v: %w", inShapes, err)
		}
		if err := ld.fill(nh.Name, l); err != nil {
			return nil, nil, err
		}
		if _, int8In := acts[nh.Inputs[0]]; nh.Op == opInt8 && !int8In {
			return nil, nil, fmt.Errorf("runs on int8 codes, but its input %q is FP32", nh.Inputs[0])
		}
		if nh.Op == opFP32 {
			s.runFP32(l)
		} else if err := s.runInt8(l); err != nil {
			return nil, nil, err
		}
	case opFused:
		if len(nh.Inputs) != 1 {
			return nil, nil, fmt.Errorf("a fused node takes one input, not %d", len(nh.Inputs))
		}
		want = inShapes[0]
		s.runFused()
	case opAdd:
		if err := ld.add(s, nh, inShapes); err != nil {
			return nil, nil, err
		}
	case opLinear, opConv2D, opDynamic, opDynamicConv2D:
		if want, err = ld.kernel(s, nh, inShapes); err != nil {
			return nil, nil, err
		}
	}
	if !slices.Equal(want, nh.Shape) {
		return nil, nil, fmt.Errorf("header says output shape %v, the node computes %v from input shapes %v", nh.Shape, want, inShapes)
	}
	// An int8 input must arrive with the qparams the node reads it with.
	reads, out := s.addIn, s.addOut
	switch k := s.kernel.(type) {
	case *qnn.Linear:
		reads, out = []qnn.Act{k.InAct}, k.OutAct
	case *qnn.Conv2D:
		reads, out = []qnn.Act{k.InAct}, k.OutAct
	}
	for i, a := range reads {
		if got, ok := acts[nh.Inputs[i]]; ok && !reflect.DeepEqual(got, a) {
			return nil, nil, fmt.Errorf("input %q arrives in int8 as %v, the node reads it as %v", nh.Inputs[i], got.Declared, a.Declared)
		}
	}
	switch nh.Op {
	case opLinear, opConv2D, opAdd:
		acts[nh.Name] = out
	case opFused, opInt8:
		if a, ok := acts[nh.Inputs[0]]; ok {
			acts[nh.Name] = a
		}
	}
	return s, np, nil
}

// add rebuilds an int8 Add.
func (ld *loader) add(s *step, nh nodeHeader, inShapes [][]int) error {
	if nh.Kind != "Add" || nh.Add == nil || len(nh.Add.Inputs) != len(nh.Inputs) || len(nh.Inputs) < 2 {
		return fmt.Errorf("op %s runs an Add layer of two or more inputs, each with qparams", opAdd)
	}
	in := make([]qnn.Act, len(nh.Inputs))
	for i, a := range nh.Add.Inputs {
		var err error
		if in[i], err = actOf(a); err != nil {
			return fmt.Errorf("input %q: %w", nh.Inputs[i], err)
		}
		if !slices.Equal(inShapes[i], nh.Shape) {
			return fmt.Errorf("input %q has shape %v, the output %v", nh.Inputs[i], inShapes[i], nh.Shape)
		}
	}
	out, err := actOf(nh.Add.Output)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	s.runAdd(in, out)
	return nil
}

// kernel rebuilds an int8 Linear or Conv2D or a dynamic Linear or Conv2D
// and returns the output shape it computes from its input's.
func (ld *loader) kernel(s *step, nh nodeHeader, inShapes [][]int) ([]int, error) {
	k := nh.Kernel
	conv := nh.Op == opConv2D || nh.Op == opDynamicConv2D
	dynamic := nh.Op == opDynamic || nh.Op == opDynamicConv2D
	switch {
	case k == nil || len(nh.Inputs) != 1:
		return nil, fmt.Errorf("op %s needs one input and a kernel", nh.Op)
	case conv != (k.Conv != nil):
		return nil, fmt.Errorf("op %s with conv geometry %v", nh.Op, k.Conv)
	case dynamic && (k.Input != nil || k.Output != nil):
		return nil, fmt.Errorf("op %s quantizes its input per call: it keeps no activation qparams", nh.Op)
	case dynamic && k.ReLU:
		return nil, fmt.Errorf("op %s fuses no ReLU", nh.Op)
	case !dynamic && (k.Input == nil || k.Output == nil):
		return nil, fmt.Errorf("op %s needs input and output qparams", nh.Op)
	}
	kind := map[stepOp]string{opLinear: "Linear", opDynamic: "Linear", opConv2D: "Conv2D", opDynamicConv2D: "Conv2D"}[nh.Op]
	if nh.Kind != kind {
		return nil, fmt.Errorf("op %s runs a %s layer", nh.Op, kind)
	}
	if k.In <= 0 || k.Out <= 0 {
		return nil, fmt.Errorf("kernel of %d inputs and %d outputs: %w", k.In, k.Out, nn.ErrLayerConfig)
	}
	wshape := []int{k.Out, k.In}
	if k.Conv != nil {
		c := k.Conv
		if c.KH <= 0 || c.KW <= 0 || c.Stride <= 0 || c.Pad < 0 {
			return nil, fmt.Errorf("kernel %dx%d, stride %d, pad %d: sizes and stride must be positive, pad non-negative: %w", c.KH, c.KW, c.Stride, c.Pad, nn.ErrLayerConfig)
		}
		if c.Pad >= c.KH || c.Pad >= c.KW {
			return nil, fmt.Errorf("pad %d with a %dx%d kernel: padding must be smaller than the kernel: %w", c.Pad, c.KH, c.KW, nn.ErrLayerConfig)
		}
		wshape = append(wshape, c.KH, c.KW)
	}
	// The weight codes must be a record of the file: no more than it
	// holds, checked before the kernel is built.
	if _, err := tensor.Numel(wshape); err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	qw, w, err := ld.weights(nh.Name, k.Weights, wshape)
	if err != nil {
		return nil, err
	}
	s.qweights = qw
	var bias record
	if k.Bias {
		elem := elemInt32
		if dynamic {
			elem = elemFloat32
		}
		if bias, err = ld.take(nh.Name, "bias", byte(elem), []int{k.Out}); err != nil {
			return nil, err
		}
	}
	if nh.Op == opDynamic {
		var b []float32
		if k.Bias {
			b = modelfile.Float32s(bias.Raw)
		}
		dl, err := qnn.NewDynamicLinear(w, k.In, k.Out, b)
		if err != nil {
			return nil, err
		}
		s.runDynamic(dl)
		return []int{k.Out}, checkInputShape(inShapes[0], k.In)
	}
	if nh.Op == opDynamicConv2D {
		var b []float32
		if k.Bias {
			b = modelfile.Float32s(bias.Raw)
		}
		c := k.Conv
		dc, err := qnn.NewDynamicConv2D(w, k.In, k.Out, c.KH, c.KW, c.Stride, c.Pad, b)
		if err != nil {
			return nil, err
		}
		s.runDynamic(dc)
		return convOutShape(inShapes[0], k.In, k.Out, c)
	}
	in, err := actOf(*k.Input)
	if err != nil {
		return nil, fmt.Errorf("input qparams: %w", err)
	}
	out, err := actOf(*k.Output)
	if err != nil {
		return nil, fmt.Errorf("output qparams: %w", err)
	}
	var b []int32
	if k.Bias {
		b = modelfile.Int32s(bias.Raw)
	}
	if k.Conv == nil {
		l, err := qnn.NewLinearInt32Bias(w, k.In, k.Out, b, in, out, k.ReLU)
		if err != nil {
			return nil, err
		}
		s.runKernel(l)
		return []int{k.Out}, checkInputShape(inShapes[0], k.In)
	}
	c := k.Conv
	l, err := qnn.NewConv2DInt32Bias(w, k.In, k.Out, c.KH, c.KW, c.Stride, c.Pad, b, in, out, k.ReLU)
	if err != nil {
		return nil, err
	}
	s.runKernel(l)
	return convOutShape(inShapes[0], k.In, k.Out, c)
}

// layer builds the FP32 layer of an fp32 or int8_passthrough node with
// the constructor registered for its kind, allowing it no more values than
// the file's records for the node hold, so that attributes declaring a
// huge layer are refused (an error wrapping tensor.ErrTooLarge) before
// anything is allocated for them.
func (ld *loader) layer(nh nodeHeader) (nn.Layer, error) {
	ctor, ok := nn.Lookup(nh.Kind)
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", nn.ErrUnknownKind, nh.Kind, nn.Kinds())
	}
	held := 0
	for _, r := range ld.recs[ld.next:] {
		if strings.HasPrefix(r.Name, nh.Name+".") {
			held += r.Elements()
		}
	}
	l, err := ctor(nh.Attrs, held)
	if errors.Is(err, tensor.ErrTooLarge) {
		return nil, fmt.Errorf("%w: attributes %s: %w", nn.ErrParamShape, nh.Attrs, err)
	}
	if err != nil {
		return nil, fmt.Errorf("attributes %s: %w", nh.Attrs, err)
	}
	if l == nil || l.Kind() != nh.Kind {
		return nil, fmt.Errorf("the constructor of kind %q returned another layer", nh.Kind)
	}
	return l, nil
}

// convOutShape returns the per-sample output shape [out, OH, OW] of a
// convolution of in channels reading per-sample inputs of shape x, or
// an error when x is not [in H W] or is smaller than the padded kernel.
func convOutShape(x []int, in, out int, c *convHeader) ([]int, error) {
	if len(x) != 3 || x[0] != in {
		return nil, fmt.Errorf("input shape %v, the kernel reads [%d H W]", x, in)
	}
	if x[1]+2*c.Pad < c.KH || x[2]+2*c.Pad < c.KW {
		return nil, fmt.Errorf("input %dx%d is smaller than kernel %dx%d with padding %d", x[1], x[2], c.KH, c.KW, c.Pad)
	}
	shape := []int{out, (x[1]+2*c.Pad-c.KH)/c.Stride + 1, (x[2]+2*c.Pad-c.KW)/c.Stride + 1}
	// Forward holds, per sample, the output and the im2row matrix.
	if _, err := tensor.Numel(shape); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if _, err := tensor.Numel([]int{in, c.KH, c.KW, shape[1], shape[2]}); err != nil {
		return nil, fmt.Errorf("im2row buffer: %w", err)
	}
	return shape, nil
}

// checkInputShape refuses a Linear input other than [in].
func checkInputShape(x []int, in int) error {
	if !slices.Equal(x, []int{in}) {
		return fmt.Errorf("input shape %v, the kernel reads [%d]", x, in)
	}
	return nil
}

// weights rebuilds quantized weights of the given shape from the node's
// weight, weight_scale and weight_zero_point records.
func (ld *loader) weights(node string, wh weightsHeader, shape []int) (*quant.QTensor, qnn.Weights, error) {
	dt, err := parseName("weight dtype", wh.DType, quant.Int8, quant.UInt8)
	if err != nil {
		return nil, qnn.Weights{}, err
	}
	if wh.Axis != -1 && wh.Axis != 0 {
		return nil, qnn.Weights{}, fmt.Errorf("weight axis %d, want -1 (per tensor) or 0 (per output channel)", wh.Axis)
	}
	elem, channels := byte(elemInt8), 1
	if dt == quant.UInt8 {
		elem = elemUint8
	}
	if wh.Axis == 0 {
		channels = shape[0]
	}
	codes, err := ld.take(node, "weight", elem, shape)
	if err != nil {
		return nil, qnn.Weights{}, err
	}
	scale, err := ld.take(node, "weight_scale", elemFloat32, []int{channels})
	if err != nil {
		return nil, qnn.Weights{}, err
	}
	zero, err := ld.take(node, "weight_zero_point", elemInt32, []int{channels})
	if err != nil {
		return nil, qnn.Weights{}, err
	}
	p := quant.QParams{DType: dt, Scale: modelfile.Float32s(scale.Raw), ZeroPoint: modelfile.Int32s(zero.Raw), Axis: wh.Axis, QMin: wh.QMin, QMax: wh.QMax}
	var qw *quant.QTensor
	if dt == quant.UInt8 {
		qw, err = quant.NewQTensor(slices.Clone(codes.Raw), p, shape...)
	} else {
		qw, err = quant.NewQTensor(modelfile.Int8s(codes.Raw), p, shape...)
	}
	if err != nil {
		return nil, qnn.Weights{}, fmt.Errorf("weights: %w", err)
	}
	w, err := qnn.NewWeights(qw)
	return qw, w, err
}

// fill sets l's parameters, then its buffers, from the node's records.
func (ld *loader) fill(node string, l nn.Layer) error {
	for _, p := range layerTensors(l) {
		r, err := ld.take(node, p.Name, elemFloat32, p.Value.Shape())
		if err != nil {
			return err
		}
		modelfile.DecodeFloat32s(p.Value.Data(), r.Raw)
	}
	return nil
}

// take returns the next record, which must be node.name with elem values
// of the given shape.
func (ld *loader) take(node, name string, elem byte, shape []int) (record, error) {
	full := node + "." + name
	if ld.next == len(ld.recs) {
		return record{}, fmt.Errorf("%w: tensor record %q is missing from the file", nn.ErrParamShape, full)
	}
	r := ld.recs[ld.next]
	ld.next++
	switch {
	case r.Name != full:
		return r, fmt.Errorf("%w: the file holds %q at byte offset %d where %q belongs", nn.ErrParamShape, r.Name, r.Offset, full)
	case r.Tag != elem:
		return r, fmt.Errorf("%w: tensor record %q at byte offset %d holds %q values, want %q", nn.ErrParamShape, full, r.Offset, r.Tag, elem)
	case !slices.Equal(r.Shape, shape):
		return r, fmt.Errorf("%w: tensor record %q at byte offset %d has shape %v, the node wants %v", nn.ErrParamShape, full, r.Offset, r.Shape, shape)
	}
	return r, nil
}

// nodePlanOf rebuilds a node's plan from its header.
func nodePlanOf(nh nodeHeader) (*NodePlan, error) {
	ph := nh.Plan
	role, err := parseName("role", ph.Role, Quantized, Transparent, Fused, FP32)
	if err != nil {
		return nil, err
	}
	w, err := specOf("weight spec", ph.Config.Weights)
	if err != nil {
		return nil, err
	}
	a, err := specOf("activation spec", ph.Config.Activations)
	if err != nil {
		return nil, err
	}
	return &NodePlan{Name: nh.Name, Kind: nh.Kind, Inputs: slices.Clone(nh.Inputs), Consumers: ph.Consumers, Shape: slices.Clone(nh.Shape),
		Role: role, Reason: ph.Reason, FusedInto: ph.FusedInto, Fused: ph.Fused, Int8Out: ph.Int8Out,
		QuantizeInputs: ph.QuantizeInputs, DequantizeInputs: ph.DequantizeInputs,
		Config: LayerConfig{KeepFP32: ph.Config.KeepFP32, Weights: w, Activations: a, Method: ph.Config.Method, Overrides: ph.Config.Overrides}}, nil
}

func specOf(what string, h specHeader) (quant.Spec, error) {
	var s quant.Spec
	var err error
	if s.DType, err = parseName(what+" dtype", h.DType, quant.Int8, quant.UInt8); err != nil {
		return s, err
	}
	if s.Scheme, err = parseName(what+" scheme", h.Scheme, quant.Affine, quant.Symmetric); err != nil {
		return s, err
	}
	if s.Granularity, err = parseName(what+" granularity", h.Granularity, quant.PerTensor, quant.PerChannel); err != nil {
		return s, err
	}
	s.Axis, s.Restricted, s.ReduceRange = h.Axis, h.Restricted, h.ReduceRange
	return s, nil
}

// actOf rebuilds per-tensor activation qparams.
func actOf(h actHeader) (qnn.Act, error) {
	dt, err := parseName("activation dtype", h.DType, quant.Int8, quant.UInt8)
	if err != nil {
		return qnn.Act{}, err
	}
	return qnn.NewAct(quant.QParams{DType: dt, Scale: []float32{h.Scale}, ZeroPoint: []int32{h.ZeroPoint}, Axis: -1, QMin: h.QMin, QMax: h.QMax})
}

// parseName returns the value among vals whose String is s.
func parseName[T fmt.Stringer](what, s string, vals ...T) (T, error) {
	names := make([]string, len(vals))
	for i, v := range vals {
		if v.String() == s {
			return v, nil
		}
		names[i] = fmt.Sprintf("%q", v.String())
	}
	var zero T
	return zero, fmt.Errorf("%s %q, want one of %s", what, s, strings.Join(names, ", "))
}
