package ptq

import (
	"errors"
	"fmt"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// QuantizeDynamic quantizes every Linear layer of g dynamically: weights
// become int8 with cfg.Weights (per-channel symmetric by default), and each
// call quantizes the layer's FP32 input per tensor to uint8 as ONNX
// DynamicQuantizeLinear does and dequantizes its output, so every layer's
// inputs and outputs stay FP32 and no activation qparams are stored.
// Overrides with KeepFP32 leave layers in float; cfg.Activations,
// cfg.Method and cfg.Calibration are not used, so they need not be set
// (overrides are still checked). g is never modified. Conv2D layers stay
// FP32: dynamic quantization pays where weights dominate, in Linear
// layers. A model with no Linear layer left to quantize is returned as
// it is, in FP32, with Mode "fp32" and a note saying so.
func QuantizeDynamic(g *nn.Graph, cfg Config) (*Model, *Report, error) {
	t0 := time.Now()
	if g == nil {
		return nil, nil, fmt.Errorf("ptq: nil model: %w", ErrInvalidConfig)
	}
	g = g.Clone()
	// The activation settings only matter to static quantization; fill
	// them so that a Config holding just Weights is valid here.
	cfg.Activations, cfg.Method, cfg.Calibration = quant.ActivationDefault, MethodMinMax, CalibrationOptions{}
	cfg.NoFusion = true
	p, err := Traverse(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, np := range p.Nodes {
		np.Int8Out, np.QuantizeInputs, np.DequantizeInputs, np.Fused, np.FusedInto = false, nil, nil, nil, ""
		switch {
		case np.Kind == "Linear" && np.Role == Quantized:
			np.Reason = "Linear: int8 weights, input quantized per call to uint8, output dequantized to FP32"
		case np.Role == FP32:
		default:
			np.Role, np.Reason = FP32, np.Kind+" runs in FP32 under dynamic quantization"
		}
	}
	m := &Model{mode: "dynamic", input: g.InputName(), inputShape: g.InputShape(), output: g.Output(), plan: p}
	for _, n := range g.Nodes() {
		np, _ := p.Node(n.Name)
		s := &step{name: n.Name, kind: np.Kind, inputs: n.Inputs, role: np.Role, shape: n.Shape, layer: baseReport(np)}
		s.layer.Quantized = np.Role == Quantized
		if np.Role != Quantized {
			s.runFP32(n.Layer.Clone())
			m.steps = append(m.steps, s)
			continue
		}
		l := n.Layer.(*nn.Linear)
		qw, err := quantizeWeights(l.Weight.Value, np.Config.Weights)
		if err != nil {
			if errors.Is(err, quant.ErrNonFinite) {
				return nil, nil, fmt.Errorf("ptq: layer %q: weights hold NaN or Inf: %w", n.Name, ErrNonFinite)
			}
			return nil, nil, fmt.Errorf("ptq: layer %q: weights: %w", n.Name, err)
		}
		w, err := qnn.NewWeights(qw)
		if err != nil {
			return nil, nil, fmt.Errorf("ptq: layer %q: %w", n.Name, err)
		}
		var bias []float32
		if l.Bias != nil {
			bias = l.Bias.Value.Clone().Data()
		}
		k, err := qnn.NewDynamicLinear(w, l.In, l.Out, bias)
		if err != nil {
			return nil, nil, fmt.Errorf("ptq: layer %q: %w", n.Name, err)
		}
		wr := weightReport(qw, np.Config.Weights, l.Weight.Value)
		s.layer.Weights = &wr
		s.qweights = qw
		s.runDynamic(k)
		m.steps = append(m.steps, s)
	}
	if len(p.QuantizedNodes()) == 0 {
		m.mode = "fp32"
	}
	rep := &Report{Mode: m.mode, Layers: m.Layers(), FP32Bytes: fp32Bytes(g), Int8Bytes: m.Bytes()}
	rep.Times.Convert = time.Since(t0)
	if m.mode == "fp32" {
		rep.Notes = append(rep.Notes, "the model has no quantizable layer for dynamic quantization (no Linear layer): returned unchanged, in FP32")
	}
	return m, rep, nil
}
