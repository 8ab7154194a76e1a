package ptq

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// The model file format is documented byte by byte in doc.go (# Model
// file format). Its container mirrors package nn's FP32 format: magic,
// version, JSON header, tensor records, CRC-32.
const (
	modelMagic   = "PTQSPECQ"
	modelVersion = 1
	maxRank      = 8
)

// Element types of tensor records.
const (
	elemFloat32 = 'f'
	elemInt8    = 'i'
	elemUint8   = 'u'
	elemInt32   = 'I'
)

// elemSize returns the bytes per value of an element type, 0 for an
// unknown type.
func elemSize(t byte) int {
	switch t {
	case elemFloat32, elemInt32:
		return 4
	case elemInt8, elemUint8:
		return 1
	}
	return 0
}

// modelHeader is the JSON header of a model file.
type modelHeader struct {
	Mode   string       `json:"mode"`
	Input  inputHeader  `json:"input"`
	Output string       `json:"output"`
	Nodes  []nodeHeader `json:"nodes"`
}

type inputHeader struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// nodeHeader describes one node: its place in the graph, its plan and
// report, and what it runs.
type nodeHeader struct {
	Name   string      `json:"name"`
	Kind   string      `json:"kind"`
	Inputs []string    `json:"inputs"`
	Shape  []int       `json:"shape"`
	Op     stepOp      `json:"op"`
	Plan   planHeader  `json:"plan"`
	Report LayerReport `json:"report"`
	// Attrs are the nn attributes of an fp32 or int8_passthrough layer.
	Attrs json.RawMessage `json:"attrs,omitempty"`
	// Kernel describes an int8_linear, int8_conv2d, dynamic_linear or
	// dynamic_conv2d node.
	Kernel *kernelHeader `json:"kernel,omitempty"`
	// Add holds the qparams of an int8_add node.
	Add *addHeader `json:"add,omitempty"`
}

// planHeader is a NodePlan without the fields the node already gives.
type planHeader struct {
	Role             string       `json:"role"`
	Reason           string       `json:"reason"`
	Consumers        []string     `json:"consumers"`
	FusedInto        string       `json:"fused_into"`
	Fused            []string     `json:"fused"`
	Int8Out          bool         `json:"int8_out"`
	QuantizeInputs   []string     `json:"quantize_inputs"`
	DequantizeInputs []string     `json:"dequantize_inputs"`
	Config           configHeader `json:"config"`
}

type configHeader struct {
	KeepFP32    bool       `json:"keep_fp32"`
	Weights     specHeader `json:"weights"`
	Activations specHeader `json:"activations"`
	Method      string     `json:"method"`
	Overrides   []string   `json:"overrides"`
}

type specHeader struct {
	DType       string `json:"dtype"`
	Scheme      string `json:"scheme"`
	Granularity string `json:"granularity"`
	Axis        int    `json:"axis"`
	Restricted  bool   `json:"restricted"`
	ReduceRange bool   `json:"reduce_range"`
}

// kernelHeader describes an int8 Linear or Conv2D kernel or a dynamic
// Linear or Conv2D; the weight codes, scales, zero points and bias are
// records.
type kernelHeader struct {
	// In and Out are features (Linear) or channels (Conv2D).
	In      int           `json:"in"`
	Out     int           `json:"out"`
	Conv    *convHeader   `json:"conv,omitempty"`
	Weights weightsHeader `json:"weights"`
	Bias    bool          `json:"bias"`
	ReLU    bool          `json:"relu"`
	// Input and Output are the activation qparams of static kernels.
	Input  *actHeader `json:"input,omitempty"`
	Output *actHeader `json:"output,omitempty"`
}

type convHeader struct {
	KH     int `json:"kh"`
	KW     int `json:"kw"`
	Stride int `json:"stride"`
	Pad    int `json:"pad"`
}

// weightsHeader holds the weight qparams the records do not: the
// declared dtype, the channel axis (-1 per tensor, 0 per output channel)
// and the saturation bounds.
type weightsHeader struct {
	DType string `json:"dtype"`
	Axis  int    `json:"axis"`
	QMin  int32  `json:"qmin"`
	QMax  int32  `json:"qmax"`
}

// actHeader holds per-tensor activation qparams as declared (int8 or
// uint8).
type actHeader struct {
	DType     string  `json:"dtype"`
	Scale     float32 `json:"scale"`
	ZeroPoint int32   `json:"zero_point"`
	QMin      int32   `json:"qmin"`
	QMax      int32   `json:"qmax"`
}

type addHeader struct {
	Inputs []actHeader `json:"inputs"`
	Output actHeader   `json:"output"`
}

// record is one tensor record: values in data when saving ([]float32,
// []int8, []uint8 or []int32), as little-endian bytes in raw when loading.
type record struct {
	name  string
	elem  byte
	shape []int
	data  any
	raw   []byte
	off   int // byte offset of the record in the file
}

// Save writes the model in the format documented in the package
// documentation (# Model file format): the mode, the graph, every node's
// plan and report, FP32 layers with their parameters and buffers, and the
// int8 kernels with their codes, qparams and int32 biases. LoadModel reads
// it back into a model with bit-identical outputs. Nothing is written when
// a layer cannot be saved: an FP32 layer that is not nn.Serializable is an
// error wrapping nn.ErrNotSerializable naming its node.
func (m *Model) Save(w io.Writer) error { return m.save(w, "ptq: save") }

// SaveFile saves the model to path, atomically (nn.WriteFileAtomic):
// path holds the old file or the whole new one, never a part.
func (m *Model) SaveFile(path string) error {
	prefix := "ptq: save " + path
	var saveErr error
	err := nn.WriteFileAtomic(path, func(w io.Writer) error {
		saveErr = m.save(w, prefix)
		return saveErr
	})
	if err != nil && err != saveErr {
		err = fmt.Errorf("%s: %w", prefix, err)
	}
	return err
}

// save writes the model, its errors starting with prefix.
func (m *Model) save(w io.Writer, prefix string) error {
	h, recs, err := m.contents()
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return encodeModel(w, h, recs, prefix)
}

// contents returns the header and the records describing m.
func (m *Model) contents() (modelHeader, []record, error) {
	h := modelHeader{Mode: m.mode, Input: inputHeader{Name: m.input, Shape: m.inputShape}, Output: m.output}
	var recs []record
	for _, s := range m.steps {
		np, ok := m.plan.Node(s.name)
		if !ok {
			return h, nil, fmt.Errorf("node %q (%s) is missing from the plan", s.name, s.kind)
		}
		nh := nodeHeader{Name: s.name, Kind: s.kind, Inputs: s.inputs, Shape: s.shape, Op: s.op, Plan: planHeaderOf(np), Report: *s.layer}
		switch s.op {
		case opFP32, opInt8:
			attrs, err := nn.LayerAttrs(s.fp32)
			if err != nil {
				return h, nil, fmt.Errorf("node %q (%s): %w", s.name, s.kind, err)
			}
			nh.Attrs = attrs
			for _, p := range layerTensors(s.fp32) {
				recs = append(recs, record{name: s.name + "." + p.Name, elem: elemFloat32, shape: p.Value.Shape(), data: p.Value.Data()})
			}
		case opLinear, opConv2D, opDynamic, opDynamicConv2D:
			var rs []record
			nh.Kernel, rs = kernelContents(s)
			recs = append(recs, rs...)
		case opAdd:
			nh.Add = &addHeader{Output: actHeaderOf(s.addOut)}
			for _, a := range s.addIn {
				nh.Add.Inputs = append(nh.Add.Inputs, actHeaderOf(a))
			}
		}
		h.Nodes = append(h.Nodes, nh)
	}
	return h, recs, nil
}

// kernelContents describes the kernel of an opLinear, opConv2D, opDynamic
// or opDynamicConv2D step: weight codes as declared (int8 or uint8), one
// scale and zero point per channel, and the bias (int32 for static
// kernels, float32 for dynamic ones).
func kernelContents(s *step) (*kernelHeader, []record) {
	qw := s.qweights
	p := qw.Params()
	kh := &kernelHeader{Weights: weightsHeader{DType: p.DType.String(), Axis: p.Axis, QMin: p.QMin, QMax: p.QMax}}
	bias := record{name: s.name + ".bias", elem: elemInt32}
	switch k := s.kernel.(type) {
	case *qnn.Linear:
		kh.In, kh.Out, kh.ReLU = k.In, k.Out, k.ReLU
		kh.Input, kh.Output = ptr(actHeaderOf(k.InAct)), ptr(actHeaderOf(k.OutAct))
		b := k.Int32Bias()
		bias.data, kh.Bias = b, b != nil
	case *qnn.Conv2D:
		kh.In, kh.Out, kh.ReLU = k.InC, k.OutC, k.ReLU
		kh.Conv = &convHeader{KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
		kh.Input, kh.Output = ptr(actHeaderOf(k.InAct)), ptr(actHeaderOf(k.OutAct))
		b := k.Int32Bias()
		bias.data, kh.Bias = b, b != nil
	case *qnn.DynamicLinear:
		kh.In, kh.Out = k.In, k.Out
		bias.elem, bias.data, kh.Bias = elemFloat32, k.Bias, k.Bias != nil
	case *qnn.DynamicConv2D:
		kh.In, kh.Out = k.InC, k.OutC
		kh.Conv = &convHeader{KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
		bias.elem, bias.data, kh.Bias = elemFloat32, k.Bias, k.Bias != nil
	}
	bias.shape = []int{kh.Out}
	codes := record{name: s.name + ".weight", elem: elemInt8, shape: qw.Shape(), data: qw.Int8s()}
	if p.DType == quant.UInt8 {
		codes.elem, codes.data = elemUint8, qw.Uint8s()
	}
	recs := []record{codes,
		{name: s.name + ".weight_scale", elem: elemFloat32, shape: []int{len(p.Scale)}, data: p.Scale},
		{name: s.name + ".weight_zero_point", elem: elemInt32, shape: []int{len(p.ZeroPoint)}, data: p.ZeroPoint},
	}
	if kh.Bias {
		recs = append(recs, bias)
	}
	return kh, recs
}

func ptr[T any](v T) *T { return &v }

func planHeaderOf(np *NodePlan) planHeader {
	return planHeader{Role: np.Role.String(), Reason: np.Reason, Consumers: np.Consumers, FusedInto: np.FusedInto,
		Fused: np.Fused, Int8Out: np.Int8Out, QuantizeInputs: np.QuantizeInputs, DequantizeInputs: np.DequantizeInputs,
		Config: configHeader{KeepFP32: np.Config.KeepFP32, Weights: specHeaderOf(np.Config.Weights),
			Activations: specHeaderOf(np.Config.Activations), Method: np.Config.Method, Overrides: np.Config.Overrides}}
}

func specHeaderOf(s quant.Spec) specHeader {
	return specHeader{DType: s.DType.String(), Scheme: s.Scheme.String(), Granularity: s.Granularity.String(),
		Axis: s.Axis, Restricted: s.Restricted, ReduceRange: s.ReduceRange}
}

func actHeaderOf(a qnn.Act) actHeader {
	d := a.Declared
	return actHeader{DType: d.DType.String(), Scale: d.Scale[0], ZeroPoint: d.ZeroPoint[0], QMin: d.QMin, QMax: d.QMax}
}

// encodeModel writes a header and records, with the checksum.
func encodeModel(w io.Writer, h modelHeader, recs []record, prefix string) error {
	js, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("%s: header: %w", prefix, err)
	}
	for _, r := range recs {
		if len(r.name) > math.MaxUint16 || len(r.shape) > maxRank {
			return fmt.Errorf("%s: tensor record %q: name or rank %d too long", prefix, r.name, len(r.shape))
		}
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	le := binary.LittleEndian
	buf := append([]byte(modelMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	le.PutUint32(buf[8:], modelVersion)
	le.PutUint32(buf[12:], uint32(len(js)))
	buf = append(buf, js...)
	buf = le.AppendUint32(buf, uint32(len(recs)))
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	for _, r := range recs {
		buf = le.AppendUint16(buf[:0], uint16(len(r.name)))
		buf = append(buf, r.name...)
		buf = append(buf, r.elem, byte(len(r.shape)))
		for _, d := range r.shape {
			buf = le.AppendUint32(buf, uint32(d))
		}
		switch d := r.data.(type) {
		case []float32:
			for _, v := range d {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
		case []int32:
			for _, v := range d {
				buf = le.AppendUint32(buf, uint32(v))
			}
		case []int8:
			for _, v := range d {
				buf = append(buf, byte(v))
			}
		case []uint8:
			buf = append(buf, d...)
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("%s: tensor record %q: %w", prefix, r.name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	if _, err := w.Write(le.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("%s: checksum: %w", prefix, err)
	}
	return nil
}

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
	c := nn.NewCursor(data, prefix)
	magic, err := c.Next(len(modelMagic), "the magic number")
	if err != nil {
		return h, nil, err
	}
	if string(magic) != modelMagic {
		hint := ""
		if bytes.HasPrefix(data, []byte("PTQSPEC\x00")) {
			hint = ": this is an FP32 model file of package nn (nn.Load reads it)"
		}
		return h, nil, fmt.Errorf("%s: %w: file starts with %q, want %q%s", prefix, nn.ErrBadMagic, magic, modelMagic, hint)
	}
	version, err := c.Uint32("the format version")
	if err != nil {
		return h, nil, err
	}
	if version != modelVersion {
		return h, nil, fmt.Errorf("%s: %w %d (this code reads version %d)", prefix, nn.ErrVersion, version, modelVersion)
	}
	hlen, err := c.Uint32("the header length")
	if err != nil {
		return h, nil, err
	}
	hdrOff := c.Offset()
	js, err := c.Next(int(hlen), "the model header")
	if err != nil {
		return h, nil, err
	}
	count, err := c.Uint32("the tensor record count")
	if err != nil {
		return h, nil, err
	}
	var recs []record
	for i := range int(count) {
		off := c.Offset()
		what := fmt.Sprintf("tensor record %d", i)
		nl, err := c.Next(2, what+" name length")
		if err != nil {
			return h, nil, err
		}
		name, err := c.Next(int(binary.LittleEndian.Uint16(nl)), what+" name")
		if err != nil {
			return h, nil, err
		}
		what = fmt.Sprintf("tensor record %q", name)
		er, err := c.Next(2, what+" element type and rank")
		if err != nil {
			return h, nil, err
		}
		size := elemSize(er[0])
		if size == 0 {
			return h, nil, fmt.Errorf("%s: %s at byte offset %d: element type %q, want 'f', 'i', 'u' or 'I'", prefix, what, c.Offset()-2, er[0])
		}
		if er[1] > maxRank {
			return h, nil, fmt.Errorf("%s: %s at byte offset %d: rank %d exceeds %d", prefix, what, c.Offset()-1, er[1], maxRank)
		}
		shape, elems, err := c.Shape(int(er[1]), what+" dimensions")
		if err != nil {
			return h, nil, err
		}
		raw, err := c.Next(size*elems, what+" values")
		if err != nil {
			return h, nil, err
		}
		recs = append(recs, record{name: string(name), elem: er[0], shape: shape, raw: raw, off: off})
	}
	if err := c.Finish(); err != nil {
		return h, nil, err
	}
	if err := c.DecodeHeader(js, &h, "model header", hdrOff); err != nil {
		return h, nil, err
	}
	return h, recs, nil
}

// loader rebuilds a model from a decoded file, handing out its records in
// order.
type loader struct {
	recs []record
	next int
}

// modeOps are the model modes, and for each the ops each role may run.
var modeOps = map[string]map[Role][]stepOp{
	"static":  {Quantized: {opLinear, opConv2D, opAdd}, Fused: {opFused}, Transparent: {opInt8, opFP32}, FP32: {opFP32}},
	"dynamic": {Quantized: {opDynamic, opDynamicConv2D}, FP32: {opFP32}},
	"fp32":    {Quantized: {opFP32}, Fused: {opFP32}, Transparent: {opFP32}, FP32: {opFP32}},
}

// build rebuilds the model a header describes.
func (ld *loader) build(h modelHeader) (*Model, error) {
	ops, ok := modeOps[h.Mode]
	if !ok {
		return nil, fmt.Errorf("mode %q, want static, dynamic or fp32", h.Mode)
	}
	if h.Input.Name == "" || len(h.Input.Shape) == 0 || slices.ContainsFunc(h.Input.Shape, func(d int) bool { return d <= 0 }) {
		return nil, fmt.Errorf("input %q of shape %v: want a name and positive dimensions", h.Input.Name, h.Input.Shape)
	}
	if len(h.Nodes) == 0 || h.Nodes[len(h.Nodes)-1].Name != h.Output {
		return nil, fmt.Errorf("output %q is not the last of the %d nodes", h.Output, len(h.Nodes))
	}
	m := &Model{mode: h.Mode, input: h.Input.Name, inputShape: slices.Clone(h.Input.Shape), output: h.Output}
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
			nn.ErrParamShape, len(ld.recs), ld.next, r.name, r.off)
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
		l, err := nn.NewLayer(nh.Kind, nh.Attrs)
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
		return nil, fmt.Errorf("kernel of %d inputs and %d outputs", k.In, k.Out)
	}
	wshape := []int{k.Out, k.In}
	if k.Conv != nil {
		if k.Conv.KH <= 0 || k.Conv.KW <= 0 {
			return nil, fmt.Errorf("kernel %dx%d", k.Conv.KH, k.Conv.KW)
		}
		wshape = append(wshape, k.Conv.KH, k.Conv.KW)
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
			b = float32s(bias.raw)
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
			b = float32s(bias.raw)
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
		b = int32s(bias.raw)
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
	return []int{out, (x[1]+2*c.Pad-c.KH)/c.Stride + 1, (x[2]+2*c.Pad-c.KW)/c.Stride + 1}, nil
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
	p := quant.QParams{DType: dt, Scale: float32s(scale.raw), ZeroPoint: int32s(zero.raw), Axis: wh.Axis, QMin: wh.QMin, QMax: wh.QMax}
	var qw *quant.QTensor
	if dt == quant.UInt8 {
		qw, err = quant.NewQTensor(slices.Clone(codes.raw), p, shape...)
	} else {
		qw, err = quant.NewQTensor(int8s(codes.raw), p, shape...)
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
		copy(p.Value.Data(), float32s(r.raw))
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
	case r.name != full:
		return r, fmt.Errorf("%w: the file holds %q at byte offset %d where %q belongs", nn.ErrParamShape, r.name, r.off, full)
	case r.elem != elem:
		return r, fmt.Errorf("%w: tensor record %q at byte offset %d holds %q values, want %q", nn.ErrParamShape, full, r.off, r.elem, elem)
	case !slices.Equal(r.shape, shape):
		return r, fmt.Errorf("%w: tensor record %q at byte offset %d has shape %v, the node wants %v", nn.ErrParamShape, full, r.off, r.shape, shape)
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

func float32s(raw []byte) []float32 {
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

func int32s(raw []byte) []int32 {
	v := make([]int32, len(raw)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

func int8s(raw []byte) []int8 {
	v := make([]int8, len(raw))
	for i, b := range raw {
		v[i] = int8(b)
	}
	return v
}
