package ptq

import (
	"encoding/json"

	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// This file holds the schema of the int8 model file; save.go writes it
// (the byte layout is documented on Model.Save) and load.go reads it.

// Element types of tensor records.
const (
	elemFloat32 = 'f'
	elemInt8    = 'i'
	elemUint8   = 'u'
	elemInt32   = 'I'
)

// modelFormat is the int8 model file, version 1: the container of
// package modelfile with magic "PTQSPECQ" and typed records.
var modelFormat = &modelfile.Format{
	Magic:    "PTQSPECQ",
	Version:  1,
	Header:   "model header",
	Record:   "tensor record",
	Tag:      "element type",
	Tags:     "'f', 'i', 'u' or 'I'",
	ElemSize: elemSize,
	Others:   map[string]string{"PTQSPEC\x00": "this is an FP32 model file of package nn (nn.Load reads it)"},
}

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

// record is one tensor record: values in Values when saving ([]float32,
// []int8, []uint8 or []int32), as little-endian bytes in Raw, with the
// record's byte Offset, when loading.
type record = modelfile.Record

// modelHeader is the JSON header of a model file.
type modelHeader struct {
	Mode   string          `json:"mode"`
	Input  modelfile.Input `json:"input"`
	Output string          `json:"output"`
	Nodes  []nodeHeader    `json:"nodes"`
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
	KeepFP32    bool         `json:"keep_fp32"`
	Weights     specHeader   `json:"weights"`
	Activations specHeader   `json:"activations"`
	Method      quant.Method `json:"method"`
	Overrides   []string     `json:"overrides"`
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
