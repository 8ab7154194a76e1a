package ptq

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// value is what flows along one edge of a converted model: FP32 data or
// int8 codes with their qparams.
type value struct {
	f *tensor.Tensor
	q *qnn.Tensor
}

func (v value) float() *tensor.Tensor {
	if v.q != nil {
		return v.q.Dequantize()
	}
	return v.f
}

// step is one node of a converted model.
type step struct {
	name, kind string
	inputs     []string
	role       Role
	shape      []int
	// weightBytes is what the node's parameters take in the converted model.
	weightBytes int
	run         func(ins []value) (value, error)
	// layer is the node's quantized layer description for reports.
	layer *LayerReport
	// qweights are the node's int8 weights (BatchNorm folded in), or nil.
	qweights *quant.QTensor

	// op says what run does; the fields below hold what it runs with, so
	// that Save can write the step and LoadModel rebuild it (runFP32,
	// runFused, runInt8, runAdd, runKernel and runDynamic set them).
	op stepOp
	// fp32 is the float layer of an opFP32 or opInt8 step.
	fp32 nn.Layer
	// kernel is the *qnn.Linear, *qnn.Conv2D, *qnn.DynamicLinear or
	// *qnn.DynamicConv2D of an opLinear, opConv2D, opDynamic or
	// opDynamicConv2D step.
	kernel any
	// addIn and addOut are the qparams of an opAdd step's inputs (those
	// arriving in FP32 are quantized with them) and of its output.
	addIn  []qnn.Act
	addOut qnn.Act
}

// stepOp is what a step runs; its value names it in model files.
type stepOp string

const (
	// opFP32 runs an FP32 layer, dequantizing int8 inputs.
	opFP32 stepOp = "fp32"
	// opFused passes its input through: the node is folded into the
	// quantized node before it.
	opFused stepOp = "fused"
	// opInt8 runs a Transparent layer on int8 codes.
	opInt8 stepOp = "int8_passthrough"
	// opLinear, opConv2D and opAdd run int8 kernels.
	opLinear stepOp = "int8_linear"
	opConv2D stepOp = "int8_conv2d"
	opAdd    stepOp = "int8_add"
	// opDynamic runs a dynamically quantized Linear: FP32 in and out.
	opDynamic stepOp = "dynamic_linear"
	// opDynamicConv2D runs a dynamically quantized Conv2D: FP32 in and
	// out.
	opDynamicConv2D stepOp = "dynamic_conv2d"
)

// runFP32 makes s run l, which it takes over, in float, dequantizing
// int8 inputs.
func (s *step) runFP32(l nn.Layer) {
	s.op, s.fp32, s.weightBytes = opFP32, l, layerBytes(l)
	s.run = func(ins []value) (value, error) {
		xs := make([]*tensor.Tensor, len(ins))
		for i, v := range ins {
			xs[i] = v.float()
		}
		y, err := l.Forward(xs, nn.Eval)
		return value{f: y}, err
	}
}

// runFused makes s pass its input through.
func (s *step) runFused() {
	s.op = opFused
	s.run = func(ins []value) (value, error) { return ins[0], nil }
}

// runInt8 makes s run the Transparent layer l on int8 codes.
func (s *step) runInt8(l nn.Layer) error {
	run, err := int8Transparent(s.name, l)
	if err != nil {
		return err
	}
	s.op, s.fp32, s.run = opInt8, l, run
	return nil
}

// runAdd makes s add its inputs, those arriving in FP32 quantized with
// in[i], into out.
func (s *step) runAdd(in []qnn.Act, out qnn.Act) {
	s.op, s.addIn, s.addOut, s.weightBytes = opAdd, in, out, 8
	s.run = func(vs []value) (value, error) {
		qs := make([]*qnn.Tensor, len(vs))
		for i, v := range vs {
			qs[i] = toInt8(v, in[i])
		}
		y, err := qnn.Add(out, qs...)
		return value{q: y}, err
	}
}

// runKernel makes s run an int8 Linear or Conv2D kernel, quantizing an
// FP32 input with the kernel's input qparams.
func (s *step) runKernel(k int8Kernel) {
	var in qnn.Act
	switch k := k.(type) {
	case *qnn.Linear:
		s.op, in = opLinear, k.InAct
	case *qnn.Conv2D:
		s.op, in = opConv2D, k.InAct
	}
	s.kernel, s.weightBytes = k, k.Bytes()
	s.run = func(vs []value) (value, error) {
		y, err := k.Forward(toInt8(vs[0], in))
		return value{q: y}, err
	}
}

// dynamicKernel is a dynamically quantized layer: *qnn.DynamicLinear or
// *qnn.DynamicConv2D.
type dynamicKernel interface {
	Forward(x *tensor.Tensor) (*tensor.Tensor, error)
	Bytes() int
}

// runDynamic makes s run a dynamically quantized Linear or Conv2D.
func (s *step) runDynamic(k dynamicKernel) {
	s.op = opDynamic
	if _, ok := k.(*qnn.DynamicConv2D); ok {
		s.op = opDynamicConv2D
	}
	s.kernel, s.weightBytes = k, k.Bytes()
	s.run = func(vs []value) (value, error) {
		y, err := k.Forward(vs[0].float())
		return value{f: y}, err
	}
}

// Model is a quantized model. It keeps the FP32 model's node names, edges
// and output shapes; its Forward takes and returns FP32 tensors. A Model
// is safe for concurrent use.
type Model struct {
	mode       Mode
	input      string
	inputShape []int
	output     string
	steps      []*step
	plan       *Plan
	// exec runs Forward on int8 buffers reused between calls (exec.go).
	exec executor
}

// Mode returns ModeStatic, ModeDynamic or ModeFP32 (a model left
// unchanged).
func (m *Model) Mode() Mode {
	if m == nil {
		return 0
	}
	return m.mode
}

// Plan returns the traversal plan the model was converted from.
func (m *Model) Plan() *Plan {
	if m == nil {
		return nil
	}
	return m.plan
}

// InputShape returns the per-sample input shape.
func (m *Model) InputShape() []int {
	if m == nil {
		return nil
	}
	return slices.Clone(m.inputShape)
}

// Forward runs a batch [N, input shape...] and returns the FP32 output.
func (m *Model) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if m == nil {
		return nil, errNilModel("forward")
	}
	return m.forward(x)
}

// run executes the steps; visit, if set, sees every node's output.
func (m *Model) run(x *tensor.Tensor, visit func(s *step, v value)) (value, error) {
	if err := checkInput(x, m.inputShape, "forward", m.readers(m.input)); err != nil {
		return value{}, err
	}
	vals := map[string]value{m.input: {f: x}}
	ins := make([]value, 0, 2)
	for _, s := range m.steps {
		ins = ins[:0]
		for _, in := range s.inputs {
			ins = append(ins, vals[in])
		}
		v, err := s.run(ins)
		if err != nil {
			return value{}, fmt.Errorf("ptq: node %q (%s): %w", s.name, s.kind, err)
		}
		vals[s.name] = v
		if visit != nil {
			visit(s, v)
		}
	}
	return vals[m.output], nil
}

// readers returns the nodes that read a value, in order.
func (m *Model) readers(name string) []string {
	var r []string
	for _, s := range m.steps {
		if slices.Contains(s.inputs, name) {
			r = append(r, s.name)
		}
	}
	return r
}

// TraceEntry is one node's output in an inference trace.
type TraceEntry struct {
	Node, Kind string
	// DType is "int8", "uint8" or "fp32".
	DType string
	Shape []int
	// Scale and ZeroPoint are the output qparams of int8 outputs (declared
	// dtype), zero for FP32 outputs.
	Scale     float32
	ZeroPoint int32
}

// Trace runs x and reports every node's output dtype, shape and qparams.
func (m *Model) Trace(x *tensor.Tensor) ([]TraceEntry, error) {
	if m == nil {
		return nil, errNilModel("trace")
	}
	var tr []TraceEntry
	_, err := m.run(x, func(s *step, v value) {
		e := TraceEntry{Node: s.name, Kind: s.kind, DType: "fp32"}
		if v.q != nil {
			d := v.q.Act.Declared
			e.DType, e.Shape, e.Scale, e.ZeroPoint = d.DType.String(), slices.Clone(v.q.Shape), d.Scale[0], d.ZeroPoint[0]
		} else {
			e.Shape = v.f.Shape()
		}
		tr = append(tr, e)
	})
	return tr, err
}

// Outputs runs x and returns every node's output by node name, int8
// outputs dequantized to FP32. The output of a quantized node with fused
// BatchNorm2D or ReLU is that of its whole group, as are the outputs of
// the fused nodes.
func (m *Model) Outputs(x *tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if m == nil {
		return nil, errNilModel("outputs")
	}
	outs := map[string]*tensor.Tensor{}
	_, err := m.run(x, func(s *step, v value) { outs[s.name] = v.float() })
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// Weights returns the quantized weights of a node that has them: int8 (or
// uint8) codes with their qparams, BatchNorm2D folded in for a Conv2D
// followed by one. The model's kernels hold their own copy of the codes,
// so the result describes the model but changing it changes nothing.
func (m *Model) Weights(node string) (*quant.QTensor, bool) {
	if m == nil {
		return nil, false
	}
	for _, s := range m.steps {
		if s.name == node && s.qweights != nil {
			return s.qweights, true
		}
	}
	return nil, false
}

// Bytes returns the storage of the model's parameters: int8 weights with
// their scales and zero points, int32 biases, FP32 parameters of FP32
// layers, and 8 bytes per activation qparams pair.
func (m *Model) Bytes() int {
	if m == nil {
		return 0
	}
	n := 0
	for _, s := range m.steps {
		n += s.weightBytes
	}
	return n
}

// Layers returns the per-node descriptions of the model, in order.
func (m *Model) Layers() []LayerReport {
	if m == nil {
		return nil
	}
	out := make([]LayerReport, 0, len(m.steps))
	for _, s := range m.steps {
		out = append(out, *s.layer)
	}
	return out
}

// fp32Bytes is the size of a float model's parameters and buffers.
func fp32Bytes(g *nn.Graph) int {
	n := 0
	for _, p := range g.Params() {
		n += 4 * p.Value.Len()
	}
	for _, p := range g.Buffers() {
		n += 4 * p.Value.Len()
	}
	return n
}

// layerBytes is what one FP32 layer's parameters and buffers take.
func layerBytes(l nn.Layer) int {
	n := 0
	for _, p := range layerTensors(l) {
		n += 4 * p.Value.Len()
	}
	return n
}

// layerTensors lists a layer's parameters, then its buffers.
func layerTensors(l nn.Layer) []*nn.Param {
	ps := l.Params()
	if b, ok := l.(nn.Buffered); ok {
		ps = append(slices.Clip(ps), b.Buffers()...)
	}
	return ps
}

// wrapFP32 returns the model unchanged, as a Model that runs it in float.
func wrapFP32(g *nn.Graph, p *Plan) *Model {
	m := &Model{mode: ModeFP32, input: g.InputName(), inputShape: g.InputShape(), output: g.Output(), plan: p}
	for _, n := range g.Nodes() {
		np, _ := p.Node(n.Name)
		s := &step{name: n.Name, kind: n.Layer.Kind(), inputs: n.Inputs, role: np.Role, shape: n.Shape, layer: baseReport(np)}
		s.runFP32(n.Layer.Clone())
		m.steps = append(m.steps, s)
	}
	return m
}
