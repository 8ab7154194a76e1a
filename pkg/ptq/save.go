package ptq

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// Save writes the model: the mode, the graph, every node's plan and
// report, FP32 layers with their parameters and buffers, and the int8
// kernels with their codes, qparams and int32 biases. LoadModel reads it
// back into a model with bit-identical outputs.
//
// The file is version 1 of the int8 model file. Its container is that of
// package nn's FP32 model file (nn.Save) with another magic and typed
// tensor records. All integers are little-endian.
//
//	offset   size  field
//	0        8     magic "PTQSPECQ" (50 54 51 53 50 45 43 51)
//	8        4     format version (uint32) = 1
//	12       4     header length H (uint32)
//	16       H     model header, UTF-8 JSON (see below)
//	16+H     4     tensor record count T (uint32)
//	               T tensor records, in node order (see below), each:
//	                 2    name length L (uint16)
//	                 L    name "node.tensor", e.g. "fc1.weight"
//	                 1    element type: 'f' float32 (IEEE-754), 'i' int8,
//	                      'u' uint8, 'I' int32 (two's complement)
//	                 1    rank R (at most 8)
//	                 4R   dimensions (uint32 each)
//	                 s·n  the n = product-of-dimensions values, row-major,
//	                      s = 4 bytes for 'f' and 'I', 1 for 'i' and 'u'
//	end-4    4     CRC-32 (IEEE polynomial, hash/crc32.ChecksumIEEE) of
//	               every preceding byte
//
// The header is a JSON object:
//
//	{"mode": "static",                       // "static", "dynamic" or "fp32"
//	 "input": {"name": "input", "shape": [1, 28, 28]},
//	 "output": "fc",                          // the last node
//	 "nodes": [{
//	   "name": "conv1", "kind": "Conv2D", "inputs": ["input"], "shape": [8, 28, 28],
//	   "op": "int8_conv2d",
//	   "plan": {"role": "int8", "reason": "...", "consumers": ["bn1"],
//	            "fused_into": "", "fused": ["bn1", "relu1"], "int8_out": true,
//	            "quantize_inputs": ["input"], "dequantize_inputs": null,
//	            "config": {"keep_fp32": false, "method": "minmax", "overrides": null,
//	                       "weights": {"dtype": "int8", "scheme": "symmetric",
//	                                   "granularity": "per-channel", "axis": 0,
//	                                   "restricted": true, "reduce_range": false},
//	                       "activations": {...}}},
//	   "report": {...},                       // the node's LayerReport
//	   "kernel": {"in": 1, "out": 8, "conv": {"kh": 3, "kw": 3, "stride": 1, "pad": 1},
//	              "weights": {"dtype": "int8", "axis": 0, "qmin": -127, "qmax": 127},
//	              "bias": true, "relu": true,
//	              "input":  {"dtype": "int8", "scale": 0.0275, "zero_point": -1, "qmin": -128, "qmax": 127},
//	              "output": {...}}}, ...]}
//
// Each node names its inputs (the model input or earlier nodes), its
// per-sample output shape, its NodePlan (the node's name, kind, inputs
// and shape are the node's own; "role" as Role.String renders it) and
// its LayerReport in the JSON of Report. "op" says what the node runs and
// which fields and records follow:
//
//	op                fields    records (in this order)
//	fp32              attrs     the layer's parameters, then its buffers:
//	                            "node.param", 'f', named and shaped as in
//	                            package nn's format
//	int8_passthrough  attrs     as fp32 (the built-in pass-through layers
//	                            have none): ReLU, pooling, Flatten, Dropout,
//	                            Identity on int8 codes
//	fused             -         -: the node passes on its input, folded
//	                            into the int8 node before it
//	int8_add          add       -: "add" holds the qparams of each input
//	                            (FP32 inputs are quantized with them) and of
//	                            the output
//	int8_linear,      kernel    "node.weight": codes in the declared dtype
//	int8_conv2d,                ('i' or 'u'), [out, in] or [out, in, kh, kw];
//	dynamic_linear,             "node.weight_scale": 'f' [channels];
//	dynamic_conv2d              "node.weight_zero_point": 'I' [channels];
//	                            "node.bias" when "bias": 'I' [out] at scale
//	                            sIn·sW[c] (int8 kernels), 'f' [out]
//	                            (dynamic_linear, dynamic_conv2d)
//
// "attrs" is the layer's nn attributes (nn.Serializable's Attrs, as
// package nn's model file stores them), rebuilt with the constructor
// registered for "kind" (nn.Lookup). In "kernel", "in" and
// "out" count features or channels, channels is 1 for per-tensor weights
// (axis -1) or "out" (axis 0), "relu" is a fused ReLU clamping the int8
// output at its zero point, and "input" and "output" are the activation
// qparams of int8 kernels (absent for dynamic_linear and dynamic_conv2d,
// which quantize per call and fuse no ReLU); "conv" is the geometry of
// int8_conv2d and dynamic_conv2d. Activation and weight qparams are as
// declared, int8 or uint8, with "qmin" and "qmax" the saturation bounds
// (both 0: the dtype's range). Which ops a role may run depends on the
// mode: static runs int8 ops, fused and fp32 nodes; dynamic runs
// dynamic_linear, dynamic_conv2d and fp32; fp32 runs fp32 only.
//
// Nothing is written when the model cannot be saved: a nil model
// (ErrNilModel), an FP32 layer that is not nn.Serializable (an error
// wrapping nn.ErrNotSerializable) or an FP32 parameter or buffer, weight
// scale or float bias holding NaN or ±Inf (ErrNonFinite) is an error
// naming the node, returned before the first byte.
func (m *Model) Save(w io.Writer) error {
	if w == nil {
		return errors.New("ptq: save: nil writer")
	}
	return m.save(w, "ptq: save")
}

// SaveFile saves the model to path atomically: path holds its old
// contents or the whole new file, never a part, and no temporary file is
// left behind on error. The file is created with mode 0644.
func (m *Model) SaveFile(path string) error {
	prefix := "ptq: save " + path
	var saveErr error
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
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
	if m == nil {
		return fmt.Errorf("%s: %w", prefix, ErrNilModel)
	}
	h, recs, err := m.contents()
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return encodeModel(w, h, recs, prefix)
}

// contents returns the header and the records describing m.
func (m *Model) contents() (modelHeader, []record, error) {
	h := modelHeader{Mode: m.mode.String(), Input: modelfile.Input{Name: m.input, Shape: m.inputShape}, Output: m.output}
	var recs []record
	for _, s := range m.steps {
		np, ok := m.plan.Node(s.name)
		if !ok {
			return h, nil, fmt.Errorf("node %q (%s) is missing from the plan", s.name, s.kind)
		}
		nh := nodeHeader{Name: s.name, Kind: s.kind, Inputs: s.inputs, Shape: s.shape, Op: s.op, Plan: planHeaderOf(np), Report: *s.layer}
		switch s.op {
		case opFP32, opInt8:
			attrs, err := layerAttrs(s.fp32)
			if err != nil {
				return h, nil, fmt.Errorf("node %q (%s): %w", s.name, s.kind, err)
			}
			nh.Attrs = attrs
			for _, p := range layerTensors(s.fp32) {
				recs = append(recs, record{Name: s.name + "." + p.Name, Tag: elemFloat32, Shape: p.Value.Shape(), Values: p.Value.Data()})
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
	for _, r := range recs {
		if v, ok := r.Values.([]float32); ok {
			if i := slices.IndexFunc(v, func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }); i >= 0 {
				node, _, _ := strings.Cut(r.Name, ".")
				return h, nil, fmt.Errorf("node %q: %w: tensor %q holds %g at index %d", node, ErrNonFinite, r.Name, v[i], i)
			}
		}
	}
	return h, recs, nil
}

// layerAttrs returns an FP32 layer's attributes as JSON, as package nn's
// model file stores them; a layer that is not nn.Serializable is an error
// wrapping nn.ErrNotSerializable.
func layerAttrs(l nn.Layer) (json.RawMessage, error) {
	s, ok := l.(nn.Serializable)
	if !ok {
		return nil, nn.ErrNotSerializable
	}
	attrs, err := json.Marshal(s.Attrs())
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	return attrs, nil
}

// kernelContents describes the kernel of an opLinear, opConv2D, opDynamic
// or opDynamicConv2D step: weight codes as declared (int8 or uint8), one
// scale and zero point per channel, and the bias (int32 for static
// kernels, float32 for dynamic ones).
func kernelContents(s *step) (*kernelHeader, []record) {
	qw := s.qweights
	p := qw.Params()
	kh := &kernelHeader{Weights: weightsHeader{DType: p.DType.String(), Axis: p.Axis, QMin: p.QMin, QMax: p.QMax}}
	bias := record{Name: s.name + ".bias", Tag: elemInt32}
	switch k := s.kernel.(type) {
	case *qnn.Linear:
		kh.In, kh.Out, kh.ReLU = k.In, k.Out, k.ReLU
		kh.Input, kh.Output = ptr(actHeaderOf(k.InAct)), ptr(actHeaderOf(k.OutAct))
		b := k.Int32Bias()
		bias.Values, kh.Bias = b, b != nil
	case *qnn.Conv2D:
		kh.In, kh.Out, kh.ReLU = k.InC, k.OutC, k.ReLU
		kh.Conv = &convHeader{KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
		kh.Input, kh.Output = ptr(actHeaderOf(k.InAct)), ptr(actHeaderOf(k.OutAct))
		b := k.Int32Bias()
		bias.Values, kh.Bias = b, b != nil
	case *qnn.DynamicLinear:
		kh.In, kh.Out = k.In, k.Out
		bias.Tag, bias.Values, kh.Bias = elemFloat32, k.Bias, k.Bias != nil
	case *qnn.DynamicConv2D:
		kh.In, kh.Out = k.InC, k.OutC
		kh.Conv = &convHeader{KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
		bias.Tag, bias.Values, kh.Bias = elemFloat32, k.Bias, k.Bias != nil
	}
	bias.Shape = []int{kh.Out}
	codes := record{Name: s.name + ".weight", Tag: elemInt8, Shape: qw.Shape(), Values: qw.Int8s()}
	if p.DType == quant.UInt8 {
		codes.Tag, codes.Values = elemUint8, qw.Uint8s()
	}
	recs := []record{codes,
		{Name: s.name + ".weight_scale", Tag: elemFloat32, Shape: []int{len(p.Scale)}, Values: p.Scale},
		{Name: s.name + ".weight_zero_point", Tag: elemInt32, Shape: []int{len(p.ZeroPoint)}, Values: p.ZeroPoint},
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

// encodeModel writes a header and records, with the checksum; its errors
// start with prefix.
func encodeModel(w io.Writer, h modelHeader, recs []record, prefix string) error {
	if err := modelFormat.Write(w, h, recs); err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return nil
}
