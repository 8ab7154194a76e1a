package ptq

import (
	"context"
	"fmt"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// QuantizeDynamic quantizes every Linear layer of g dynamically: weights
// become int8 with cfg.Weights (per-channel symmetric by default), and each
// call quantizes the layer's FP32 input per tensor to uint8 as ONNX
// DynamicQuantizeLinear does and dequantizes its output, so every layer's
// inputs and outputs stay FP32 and no activation qparams are stored. A nil
// cfg means the defaults (see DynamicConfig). Overrides with KeepFP32 leave
// layers in float. g is never modified. Conv2D layers stay FP32 unless
// cfg.Conv2D is set: dynamic quantization pays where weights dominate, in
// Linear layers. With it, Conv2D layers are quantized the same way
// (qnn.DynamicConv2D), and a BatchNorm2D after one runs in FP32, unfolded.
// A model with no layer left to quantize is returned as it is, in FP32,
// with ModeFP32 and a note saying so. ctx is checked between layers.
func QuantizeDynamic(ctx context.Context, g *nn.Graph, cfg *DynamicConfig) (*Model, *Report, error) {
	t0 := time.Now()
	if g == nil {
		return nil, nil, fmt.Errorf("ptq: quantize dynamic: %w", ErrNilModel)
	}
	conv2D := cfg != nil && cfg.Conv2D
	g = g.Clone()
	static := cfg.static()
	p, err := Traverse(g, &static)
	if err != nil {
		return nil, nil, err
	}
	for _, np := range p.Nodes {
		np.Int8Out, np.QuantizeInputs, np.DequantizeInputs, np.Fused, np.FusedInto = false, nil, nil, nil, ""
		switch {
		case np.Kind == "Linear" && np.Role == Quantized:
			np.Reason = "Linear: int8 weights, input quantized per call to uint8, output dequantized to FP32"
		case np.Kind == "Conv2D" && np.Role == Quantized && conv2D:
			np.Reason = "Conv2D: int8 weights, input quantized per call to uint8, output dequantized to FP32"
		case np.Role == FP32:
		default:
			np.Role, np.Reason = FP32, np.Kind+" runs in FP32 under dynamic quantization"
		}
	}
	m := &Model{mode: ModeDynamic, input: g.InputName(), inputShape: g.InputShape(), output: g.Output(), plan: p}
	for _, n := range g.Nodes() {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("ptq: quantize dynamic: stopped before node %q: %w", n.Name, err)
		}
		np, _ := p.Node(n.Name)
		s := &step{name: n.Name, kind: np.Kind, inputs: n.Inputs, role: np.Role, shape: n.Shape, layer: baseReport(np)}
		s.layer.Quantized = np.Role == Quantized
		if np.Role != Quantized {
			s.runFP32(n.Layer.Clone())
			m.steps = append(m.steps, s)
			continue
		}
		k, qw, err := dynamicKernelOf(n.Layer, np.Config.Weights)
		if err != nil {
			return nil, nil, &NodeError{Node: n.Name, Kind: np.Kind, Err: fmt.Errorf("weights: %w", err)}
		}
		wr := weightReport(qw, np.Config.Weights, layerWeight(n.Layer))
		s.layer.Weights = &wr
		s.qweights = qw
		s.runDynamic(k)
		m.steps = append(m.steps, s)
	}
	if len(p.QuantizedNodes()) == 0 {
		m.mode = ModeFP32
	}
	rep := &Report{Mode: m.mode, Layers: m.Layers(), FP32Bytes: fp32Bytes(g), Int8Bytes: m.Bytes()}
	rep.Times.Convert = time.Since(t0)
	if m.mode == ModeFP32 {
		what := "no Linear layer"
		if conv2D {
			what = "no Linear or Conv2D layer"
		}
		rep.Notes = append(rep.Notes, "the model has no quantizable layer for dynamic quantization ("+what+"): returned unchanged, in FP32")
	}
	return m, rep, nil
}

// layerWeight returns the weight of a Linear or Conv2D layer.
func layerWeight(l nn.Layer) *tensor.Tensor {
	if c, ok := l.(*nn.Conv2D); ok {
		return c.Weight.Value
	}
	return l.(*nn.Linear).Weight.Value
}

// dynamicKernelOf quantizes the weights of a Linear or Conv2D layer with
// spec and builds its dynamic kernel. Errors from quantizing the weights
// are returned as they are, for the caller to name the layer.
func dynamicKernelOf(l nn.Layer, spec quant.Spec) (dynamicKernel, *quant.QTensor, error) {
	qw, err := quantizeWeights(layerWeight(l), spec)
	if err != nil {
		return nil, nil, err
	}
	w, err := qnn.NewWeights(qw)
	if err != nil {
		return nil, nil, err
	}
	var bias *nn.Param
	switch l := l.(type) {
	case *nn.Linear:
		bias = l.Bias
	case *nn.Conv2D:
		bias = l.Bias
	}
	var b []float32
	if bias != nil {
		b = bias.Value.Clone().Data()
	}
	switch l := l.(type) {
	case *nn.Conv2D:
		k, err := qnn.NewDynamicConv2D(w, l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad, b)
		return k, qw, err
	default:
		lin := l.(*nn.Linear)
		k, err := qnn.NewDynamicLinear(w, lin.In, lin.Out, b)
		return k, qw, err
	}
}
