package ptq

import (
	"fmt"
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Convert builds the int8 model from the calibrated observers. Before any
// calibration batch it returns an error naming the first quantized node and
// wrapping both ErrNotCalibrated and ErrNoCalibrationData; an activation
// calibration never reached is an error wrapping ErrNotCalibrated naming
// its node. A plan with no quantized node needs no calibration: the model
// is returned in FP32.
func (pr *Prepared) Convert() (*Model, error) {
	if pr == nil || pr.Calibrator == nil || pr.Plan == nil || pr.graph == nil {
		return nil, errNilModel("convert")
	}
	if len(pr.Plan.QuantizedNodes()) == 0 {
		return wrapFP32(pr.graph, pr.Plan), nil
	}
	if pr.Batches() == 0 {
		return nil, fmt.Errorf("ptq: convert before calibration: node %q has no activation statistics: %w (%w)",
			pr.Plan.QuantizedNodes()[0], ErrNotCalibrated, ErrNoCalibrationData)
	}
	m := &Model{mode: ModeStatic, input: pr.graph.InputName(), inputShape: pr.graph.InputShape(),
		output: pr.graph.Output(), plan: pr.Plan}
	acts := map[string]qnn.Act{} // int8 output qparams by node
	actOf := func(tensorName string) (qnn.Act, error) {
		qp, err := pr.QParams(tensorName)
		if err != nil {
			return qnn.Act{}, err
		}
		return qnn.NewAct(qp)
	}
	for _, n := range pr.graph.Nodes() {
		np, _ := pr.Plan.Node(n.Name)
		s := &step{name: n.Name, kind: np.Kind, inputs: n.Inputs, role: np.Role, shape: n.Shape, layer: baseReport(np)}
		var err error
		switch np.Role {
		case Quantized:
			err = pr.convertQuantized(n, np, s, acts, actOf)
		case Fused:
			head, _ := pr.Plan.Node(np.FusedInto)
			acts[n.Name] = acts[head.Name]
			s.runFused()
		case Transparent:
			if np.Int8Out {
				acts[n.Name] = acts[n.Inputs[0]]
				err = s.runInt8(n.Layer.Clone())
			} else {
				s.runFP32(n.Layer.Clone())
			}
		case FP32:
			s.runFP32(n.Layer.Clone())
		}
		if err != nil {
			return nil, err
		}
		if a, ok := acts[n.Name]; ok && np.Int8Out {
			s.layer.Output = actReport(a)
		}
		m.steps = append(m.steps, s)
	}
	return m, nil
}

// inputAct returns the qparams an int8 kernel reads input in with: the
// producer's int8 output qparams, or the calibrated qparams used to
// quantize the FP32 tensor on entry.
func inputAct(in string, np *NodePlan, acts map[string]qnn.Act, actOf func(string) (qnn.Act, error)) (qnn.Act, error) {
	if slices.Contains(np.QuantizeInputs, in) {
		a, err := actOf(in)
		if err != nil {
			return qnn.Act{}, fmt.Errorf("ptq: node %q: input %q: %w", np.Name, in, err)
		}
		return a, nil
	}
	return acts[in], nil
}

// toInt8 brings an input value to int8 with the given qparams.
func toInt8(v value, a qnn.Act) *qnn.Tensor {
	if v.q != nil {
		return v.q
	}
	return qnn.QuantizeTensor(v.f, a)
}

func (pr *Prepared) convertQuantized(n *nn.Node, np *NodePlan, s *step, acts map[string]qnn.Act, actOf func(string) (qnn.Act, error)) error {
	out, err := actOf(np.groupEnd())
	if err != nil {
		return fmt.Errorf("ptq: node %q: output: %w", n.Name, err)
	}
	acts[n.Name] = out
	ins := make([]qnn.Act, len(n.Inputs))
	for i, in := range n.Inputs {
		if ins[i], err = inputAct(in, np, acts, actOf); err != nil {
			return err
		}
	}
	if np.Kind == "Add" {
		s.runAdd(ins, out)
		return nil
	}
	relu := false
	var bn *nn.BatchNorm2D
	for _, f := range np.Fused {
		fn, _ := pr.graph.Node(f)
		switch l := fn.Layer.(type) {
		case *nn.ReLU:
			relu = true
		case *nn.BatchNorm2D:
			bn = l
		}
	}
	var w, b *tensor.Tensor
	switch l := n.Layer.(type) {
	case *nn.Linear:
		w, b = l.Weight.Value, paramValue(l.Bias)
	case *nn.Conv2D:
		w, b = l.Weight.Value, paramValue(l.Bias)
		if bn != nil {
			w, b = foldBatchNorm(w, b, bn)
		}
	default:
		return fmt.Errorf("ptq: node %q: layer kind %s has no int8 kernel: %w", n.Name, np.Kind, ErrInvalidConfig)
	}
	qw, err := quantizeWeights(w, np.Config.Weights)
	if err != nil {
		return &NodeError{Node: n.Name, Kind: np.Kind, Err: fmt.Errorf("weights: %w", err)}
	}
	qweights, err := qnn.NewWeights(qw)
	if err != nil {
		return fmt.Errorf("ptq: layer %q: %w", n.Name, err)
	}
	var bias []float32
	if b != nil {
		bias = b.Data()
	}
	wr := weightReport(qw, np.Config.Weights, w)
	s.layer.Weights = &wr
	s.qweights = qw
	var k int8Kernel
	switch l := n.Layer.(type) {
	case *nn.Linear:
		k, err = qnn.NewLinear(qweights, l.In, l.Out, bias, ins[0], out, relu)
	case *nn.Conv2D:
		k, err = qnn.NewConv2D(qweights, l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad, bias, ins[0], out, relu)
	}
	if err != nil {
		return fmt.Errorf("ptq: layer %q: %w", n.Name, err)
	}
	s.runKernel(k)
	return nil
}

// int8Kernel is what convertQuantized needs of qnn.Linear and qnn.Conv2D.
type int8Kernel interface {
	Forward(x *qnn.Tensor) (*qnn.Tensor, error)
	Bytes() int
}

func paramValue(p *nn.Param) *tensor.Tensor {
	if p == nil {
		return nil
	}
	return p.Value
}

// foldBatchNorm returns conv weights and bias with an inference-mode
// BatchNorm2D folded in: w'[c] = w[c]·γ[c]/√(var[c]+ε), b'[c] = (b[c] -
// mean[c])·γ[c]/√(var[c]+ε) + β[c]. The inputs are not modified.
func foldBatchNorm(w, b *tensor.Tensor, bn *nn.BatchNorm2D) (*tensor.Tensor, *tensor.Tensor) {
	outC := w.Dim(0)
	per := w.Len() / outC
	fw := w.Clone()
	fb := tensor.New(outC)
	gamma, beta := bn.Gamma.Value.Data(), bn.Beta.Value.Data()
	mean, vari := bn.RunningMean.Value.Data(), bn.RunningVar.Value.Data()
	for c := range outC {
		sc := float64(gamma[c]) / math.Sqrt(float64(vari[c])+float64(bn.Eps))
		row := fw.Data()[c*per : (c+1)*per]
		for i := range row {
			row[i] = float32(float64(row[i]) * sc)
		}
		b0 := 0.0
		if b != nil {
			b0 = float64(b.Data()[c])
		}
		fb.Data()[c] = float32((b0-float64(mean[c]))*sc + float64(beta[c]))
	}
	return fw, fb
}

// int8Transparent returns the int8 run function of node's Transparent
// layer.
func int8Transparent(node string, layer nn.Layer) (func([]value) (value, error), error) {
	pass := func(vs []value) (value, error) { return vs[0], nil }
	switch l := layer.(type) {
	case *nn.ReLU:
		return func(vs []value) (value, error) { return value{q: qnn.ReLU(vs[0].q)}, nil }, nil
	case *nn.MaxPool2D:
		return func(vs []value) (value, error) {
			y, err := qnn.MaxPool2D(vs[0].q, l.K, l.Stride)
			return value{q: y}, err
		}, nil
	case *nn.AvgPool2D:
		return func(vs []value) (value, error) {
			y, err := qnn.AvgPool2D(vs[0].q, l.K, l.Stride)
			return value{q: y}, err
		}, nil
	case *nn.GlobalAvgPool:
		return func(vs []value) (value, error) {
			y, err := qnn.GlobalAvgPool(vs[0].q)
			return value{q: y}, err
		}, nil
	case *nn.Flatten:
		return func(vs []value) (value, error) {
			x := vs[0].q
			rest := 1
			for _, d := range x.Shape[1:] {
				rest *= d
			}
			return value{q: qnn.Reshape(x, []int{x.Shape[0], rest})}, nil
		}, nil
	case *nn.Dropout, *nn.Identity:
		return pass, nil
	}
	return nil, fmt.Errorf("ptq: node %q: no int8 pass-through for layer kind %s: %w", node, layer.Kind(), ErrInvalidConfig)
}
