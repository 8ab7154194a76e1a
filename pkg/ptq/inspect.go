package ptq

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// NodeOp says what one node of a converted Model computes; exporters to
// other formats switch on it.
type NodeOp string

// The operations of a converted model's nodes. They are the op names of
// the int8 model file.
const (
	// OpFP32 runs NodeView.Layer in float, dequantizing int8 inputs.
	OpFP32 NodeOp = NodeOp(opFP32)
	// OpFused passes its input through: the node (a BatchNorm2D or ReLU)
	// is folded into NodeView.FusedInto.
	OpFused NodeOp = NodeOp(opFused)
	// OpInt8PassThrough runs NodeView.Layer (ReLU, MaxPool2D, AvgPool2D,
	// GlobalAvgPool, Flatten, Dropout, Identity) on int8 codes; the output
	// keeps the input's qparams.
	OpInt8PassThrough NodeOp = NodeOp(opInt8)
	// OpInt8Linear and OpInt8Conv2D run an int8 kernel: int32 accumulation
	// of (x - zIn)·(w - zW), plus Bias32, requantized with the multiplier
	// quant.RequantMultiplier(In[0].Scale, Weights scale, Out.Scale) by
	// quant.RequantizeValue, clamped at the output zero point if ReLU.
	OpInt8Linear NodeOp = NodeOp(opLinear)
	OpInt8Conv2D NodeOp = NodeOp(opConv2D)
	// OpInt8Add adds its inputs, read with the qparams In, into Out.
	OpInt8Add NodeOp = NodeOp(opAdd)
	// OpDynamicLinear and OpDynamicConv2D quantize their FP32 input per
	// call (qnn.DynamicParams, uint8), accumulate in int32 and return
	// acc·sIn·sW[c] + BiasFloat in FP32.
	OpDynamicLinear NodeOp = NodeOp(opDynamic)
	OpDynamicConv2D NodeOp = NodeOp(opDynamicConv2D)
)

// ConvGeometry is the geometry of an int8 or dynamic Conv2D node.
type ConvGeometry struct {
	InC, OutC, KH, KW, Stride, Pad int
}

// NodeView is a read-only description of one node of a converted Model:
// what it computes and with which integer data and qparams. Slices and
// tensors are copies, except Layer, which must not be modified.
type NodeView struct {
	// Name, Kind (the FP32 layer kind), Inputs (node names or the model
	// input's name) and Shape (per-sample output shape) are the FP32
	// graph's.
	Name   string
	Kind   string
	Inputs []string
	Shape  []int
	// Role is the node's role in the plan; Op what the converted node runs.
	Role Role
	Op   NodeOp
	// FusedInto names the node an OpFused node is folded into.
	FusedInto string
	// Layer is the float layer of OpFP32 and OpInt8PassThrough nodes.
	Layer nn.Layer
	// Weights holds the int8 (or uint8) weight codes, BatchNorm folded in,
	// [Out, In] for Linear and [OutC, InC, KH, KW] for Conv2D, with their
	// qparams: per tensor, or per channel on axis 0. Nil for other ops.
	Weights *quant.QTensor
	// Bias32 is the int32 bias of OpInt8Linear and OpInt8Conv2D nodes
	// (scale In[0].Scale·sW[c] in float32, zero point 0), or nil.
	Bias32 []int32
	// BiasFloat is the float bias of dynamic nodes, or nil.
	BiasFloat []float32
	// In holds, per input, the activation qparams an int8 kernel or Add
	// reads it with: an input arriving in FP32 is quantized with them. Nil
	// for other ops.
	In []quant.QParams
	// Out holds the qparams of an int8 output (int8 kernels, Add,
	// pass-through nodes reading int8 data, fused nodes of a quantized
	// group), or is nil for an FP32 output.
	Out *quant.QParams
	// ReLU reports a ReLU fused into an int8 kernel's output clamp.
	ReLU bool
	// Conv is the geometry of Conv2D nodes (int8 or dynamic), or nil.
	Conv *ConvGeometry
}

// Input returns the name of the model's input, as NodeView.Inputs names it.
func (m *Model) Input() string {
	if m == nil {
		return ""
	}
	return m.input
}

// Output returns the name of the node whose output is the model's output.
func (m *Model) Output() string {
	if m == nil {
		return ""
	}
	return m.output
}

// Inspect describes every node of the model, in execution order, for
// exporters to other formats. It is read-only: nothing it returns shares
// storage with the model except the layers (NodeView.Layer).
func (m *Model) Inspect() ([]NodeView, error) {
	if m == nil {
		return nil, fmt.Errorf("ptq: inspect: %w", ErrNilModel)
	}
	outs := map[string]*quant.QParams{} // int8 output qparams by node
	views := make([]NodeView, 0, len(m.steps))
	for _, s := range m.steps {
		v := NodeView{Name: s.name, Kind: s.kind, Inputs: slices.Clone(s.inputs), Shape: slices.Clone(s.shape),
			Role: s.role, Op: NodeOp(s.op)}
		switch s.op {
		case opFP32:
			v.Layer = s.fp32
		case opFused:
			if m.plan != nil {
				if np, ok := m.plan.Node(s.name); ok {
					v.FusedInto = np.FusedInto
				}
			}
			if v.FusedInto == "" && len(s.inputs) > 0 {
				v.FusedInto = s.inputs[0]
			}
			v.Out = outs[s.inputs[0]]
		case opInt8:
			v.Layer = s.fp32
			v.Out = outs[s.inputs[0]]
		case opAdd:
			for _, a := range s.addIn {
				v.In = append(v.In, a.Declared.Clone())
			}
			v.Out = declared(s.addOut)
		case opLinear, opConv2D, opDynamic, opDynamicConv2D:
			if err := viewKernel(&v, s.kernel); err != nil {
				return nil, fmt.Errorf("ptq: inspect: node %q: %w", s.name, err)
			}
		default:
			return nil, fmt.Errorf("ptq: inspect: node %q: unknown op %q", s.name, s.op)
		}
		if v.Out != nil {
			outs[s.name] = v.Out
		}
		views = append(views, v)
	}
	return views, nil
}

// declared returns a copy of an activation's declared qparams.
func declared(a qnn.Act) *quant.QParams {
	p := a.Declared.Clone()
	return &p
}

// viewKernel fills v from an int8 or dynamic kernel.
func viewKernel(v *NodeView, kernel any) error {
	var w qnn.Weights
	var shape []int
	switch k := kernel.(type) {
	case *qnn.Linear:
		w, shape = k.W, []int{k.Out, k.In}
		v.Bias32, v.In, v.Out, v.ReLU = k.Int32Bias(), []quant.QParams{k.InAct.Declared.Clone()}, declared(k.OutAct), k.ReLU
	case *qnn.Conv2D:
		w, shape = k.W, []int{k.OutC, k.InC, k.KH, k.KW}
		v.Bias32, v.In, v.Out, v.ReLU = k.Int32Bias(), []quant.QParams{k.InAct.Declared.Clone()}, declared(k.OutAct), k.ReLU
		v.Conv = &ConvGeometry{InC: k.InC, OutC: k.OutC, KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
	case *qnn.DynamicLinear:
		w, shape, v.BiasFloat = k.W, []int{k.Out, k.In}, slices.Clone(k.Bias)
	case *qnn.DynamicConv2D:
		w, shape, v.BiasFloat = k.W, []int{k.OutC, k.InC, k.KH, k.KW}, slices.Clone(k.Bias)
		v.Conv = &ConvGeometry{InC: k.InC, OutC: k.OutC, KH: k.KH, KW: k.KW, Stride: k.Stride, Pad: k.Pad}
	default:
		return fmt.Errorf("kernel of type %T", kernel)
	}
	if len(v.Bias32) == 0 {
		v.Bias32 = nil
	}
	qt, err := weightCodes(w, shape)
	if err != nil {
		return err
	}
	v.Weights = qt
	return nil
}

// weightCodes returns int8-stored weights as a QTensor of their declared
// type (uint8 codes are the stored ones plus 128).
func weightCodes(w qnn.Weights, shape []int) (*quant.QTensor, error) {
	p := w.Declared.Clone()
	if p.DType == quant.UInt8 {
		u := make([]uint8, len(w.Data))
		for i, q := range w.Data {
			u[i] = uint8(int32(q) + 128)
		}
		return quant.NewQTensor(u, p, shape...)
	}
	return quant.NewQTensor(slices.Clone(w.Data), p, shape...)
}
