package ptq

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// NodePlan is the decision taken for one node of the graph.
type NodePlan struct {
	Name, Kind string
	// Inputs and Consumers name the node's producers and readers; the graph
	// input appears under its own name.
	Inputs, Consumers []string
	// Shape is the per-sample output shape.
	Shape []int
	Role  Role
	// Reason says why the node got its role, in words.
	Reason string
	// FusedInto names the Quantized node a Fused node was folded into.
	FusedInto string
	// Fused names the nodes folded into a Quantized node, in order.
	Fused []string
	// Int8Out reports whether the node's output is int8 in the converted
	// model (for a fused group: the group's last node).
	Int8Out bool
	// QuantizeInputs lists the inputs that arrive in FP32 and are quantized
	// on entry; DequantizeInputs those that arrive in int8 and are
	// dequantized on entry (at an FP32 node).
	QuantizeInputs, DequantizeInputs []string
	// Config is the configuration resolved for this node.
	Config LayerConfig
}

// groupEnd is the node whose FP32 output a Quantized node's output stands
// for: its last fused node, or itself.
func (n *NodePlan) groupEnd() string {
	if len(n.Fused) > 0 {
		return n.Fused[len(n.Fused)-1]
	}
	return n.Name
}

// Plan is the result of traversing a model: one NodePlan per node in
// topological order, and where int8 and FP32 regions meet.
type Plan struct {
	Input, Output string
	InputShape    []int
	Nodes         []*NodePlan
	byName        map[string]*NodePlan
}

// Node returns the plan of one node.
func (p *Plan) Node(name string) (*NodePlan, bool) {
	if p == nil {
		return nil, false
	}
	n, ok := p.byName[name]
	return n, ok
}

// Count returns how many nodes have the role.
func (p *Plan) Count(r Role) int {
	if p == nil {
		return 0
	}
	c := 0
	for _, n := range p.Nodes {
		if n.Role == r {
			c++
		}
	}
	return c
}

// QuantizedNodes returns the names of the Quantized nodes in order.
func (p *Plan) QuantizedNodes() []string {
	if p == nil {
		return nil
	}
	var s []string
	for _, n := range p.Nodes {
		if n.Role == Quantized {
			s = append(s, n.Name)
		}
	}
	return s
}

// Boundary is an edge where an int8 region meets an FP32 one.
type Boundary struct {
	From, To string
	// Op is "quantize" (FP32 into an int8 kernel) or "dequantize".
	Op string
}

// Boundaries lists every quantize and dequantize edge, including the
// dequantization of an int8 model output.
func (p *Plan) Boundaries() []Boundary {
	if p == nil {
		return nil
	}
	var bs []Boundary
	for _, n := range p.Nodes {
		for _, in := range n.QuantizeInputs {
			bs = append(bs, Boundary{From: in, To: n.Name, Op: "quantize"})
		}
		for _, in := range n.DequantizeInputs {
			bs = append(bs, Boundary{From: in, To: n.Name, Op: "dequantize"})
		}
	}
	if out, ok := p.byName[p.Output]; ok && out.Int8Out {
		bs = append(bs, Boundary{From: p.Output, To: "output", Op: "dequantize"})
	}
	return bs
}

// String renders the plan as a table a reviewer can read.
func (p *Plan) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tKIND\tROLE\tOUT\tINPUTS\tREASON")
	for _, n := range p.Nodes {
		out := "fp32"
		if n.Int8Out {
			out = "int8"
		}
		ins := make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			ins[i] = in
			switch {
			case slices.Contains(n.QuantizeInputs, in):
				ins[i] += " (quantize)"
			case slices.Contains(n.DequantizeInputs, in):
				ins[i] += " (dequantize)"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Kind, n.Role, out, strings.Join(ins, ", "), n.Reason)
	}
	w.Flush()
	return b.String()
}

// transparentKinds run unchanged on int8 data with their input's qparams.
var transparentKinds = map[string]string{
	"ReLU":          "clamps at the zero point in int8",
	"MaxPool2D":     "max commutes with monotone quantization",
	"AvgPool2D":     "averages int8 codes with the input's qparams",
	"GlobalAvgPool": "averages int8 codes with the input's qparams",
	"Flatten":       "reshapes int8 data",
	"Dropout":       "is the identity at inference",
	"Identity":      "passes int8 data through",
}

// Traverse walks the graph in topological order and decides, for every
// node, whether it is quantized, runs int8 data unchanged, is fused into its
// producer, or stays FP32, and where quantize and dequantize boundaries go.
// It returns an error wrapping ErrUnmatchedOverride for an override that
// matches no node, and ErrInvalidConfig for an invalid configuration.
// A nil cfg means the defaults (see Config).
func Traverse(g *nn.Graph, cfg *Config) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("ptq: traverse: %w", ErrNilModel)
	}
	c := cfg.WithDefaults()
	cfg = &c
	nodes := g.Nodes()
	p := &Plan{Input: g.InputName(), Output: g.Output(), InputShape: g.InputShape(), byName: map[string]*NodePlan{}}
	used := make([]bool, len(cfg.Overrides))
	for _, n := range nodes {
		np := &NodePlan{
			Name: n.Name, Kind: n.Layer.Kind(),
			Inputs: slices.Clone(n.Inputs), Consumers: g.Consumers(n.Name),
			Shape:  slices.Clone(n.Shape),
			Config: cfg.resolve(n.Name, n.Layer.Kind(), used),
		}
		p.Nodes = append(p.Nodes, np)
		p.byName[n.Name] = np
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("ptq: override %v: %w", cfg.Overrides[i], ErrUnmatchedOverride)
		}
	}
	for _, n := range nodes {
		p.classify(n, cfg.NoFusion)
	}
	p.propagate()
	return p, nil
}

// classify sets Role and Reason of one node; producers are already done.
func (p *Plan) classify(n *nn.Node, noFusion bool) {
	np := p.byName[n.Name]
	kind := np.Kind
	keep := np.Config.KeepFP32
	why := ""
	if keep {
		why = "kept FP32 by override " + strings.Join(np.Config.Overrides, ", ")
	}
	switch {
	case kind == "Linear" || kind == "Conv2D":
		if keep {
			np.Role, np.Reason = FP32, why
			return
		}
		np.Role, np.Reason = Quantized, kind+" has an int8 kernel ("+np.Config.Weights.Granularity.String()+" weights)"
	case kind == "Add":
		if keep {
			np.Role, np.Reason = FP32, why
			return
		}
		np.Role, np.Reason = Quantized, "residual Add: inputs rescaled to one output scale"
	case kind == "BatchNorm2D" || kind == "ReLU":
		if head := p.fusionHead(n, noFusion); head != nil && !keep {
			np.Role, np.FusedInto = Fused, head.Name
			head.Fused = append(head.Fused, n.Name)
			if kind == "BatchNorm2D" {
				np.Reason = "folded into the weights and bias of " + head.Name
			} else {
				np.Reason = "fused into " + head.Name + " as a clamp of its int8 output"
			}
			return
		}
		switch {
		case keep:
			np.Role, np.Reason = FP32, why
		case kind == "ReLU":
			np.Role, np.Reason = Transparent, "ReLU "+transparentKinds["ReLU"]
		default:
			np.Role, np.Reason = FP32, "BatchNorm2D not directly after a quantized Conv2D cannot be folded"
		}
	default:
		if what, ok := transparentKinds[kind]; ok && !keep {
			np.Role, np.Reason = Transparent, kind+" "+what
			return
		}
		np.Role = FP32
		switch {
		case keep:
			np.Reason = why
		case kind == "Softmax" || kind == "LogSoftmax":
			np.Reason = kind + " stays FP32: its output is a probability, not an activation worth int8"
		default:
			np.Reason = "no int8 kernel for layer kind " + kind
		}
	}
}

// fusionHead returns the Quantized node n folds into, or nil: a BatchNorm2D
// right after a Conv2D, or a ReLU right after a Conv2D or Linear (possibly
// with a folded BatchNorm2D between), when n is the only reader of its
// producer's output.
func (p *Plan) fusionHead(n *nn.Node, noFusion bool) *NodePlan {
	if noFusion || len(n.Inputs) != 1 {
		return nil
	}
	prev, ok := p.byName[n.Inputs[0]]
	if !ok || len(prev.Consumers) != 1 {
		return nil
	}
	head := prev
	if prev.Role == Fused {
		head = p.byName[prev.FusedInto]
	}
	if head.Role != Quantized || head.groupEnd() != prev.Name {
		return nil
	}
	switch n.Layer.Kind() {
	case "BatchNorm2D":
		if head.Kind == "Conv2D" && len(head.Fused) == 0 {
			return head
		}
	case "ReLU":
		if head.Kind == "Conv2D" || head.Kind == "Linear" {
			for _, f := range head.Fused {
				if p.byName[f].Kind == "ReLU" {
					return nil
				}
			}
			return head
		}
	}
	return nil
}

// propagate decides which outputs are int8 and places boundaries.
func (p *Plan) propagate() {
	int8Out := func(name string) bool {
		if name == p.Input {
			return false
		}
		return p.byName[name].Int8Out
	}
	for _, n := range p.Nodes {
		switch n.Role {
		case Quantized:
			n.Int8Out = true
			for _, in := range n.Inputs {
				if !int8Out(in) && !slices.Contains(n.QuantizeInputs, in) {
					n.QuantizeInputs = append(n.QuantizeInputs, in)
				}
			}
		case Fused:
			n.Int8Out = true
		case Transparent:
			n.Int8Out = int8Out(n.Inputs[0])
			if !n.Int8Out {
				n.Reason += "; runs in FP32 here because its input is FP32"
			}
		case FP32:
			for _, in := range n.Inputs {
				if int8Out(in) && !slices.Contains(n.DequantizeInputs, in) {
					n.DequantizeInputs = append(n.DequantizeInputs, in)
				}
			}
		}
	}
}

// ObservedTensors returns, in topological order, the FP32 tensors whose
// ranges calibration must observe, keyed by the node (or graph input) that
// produces them, with the activation spec and method for each: every FP32
// tensor entering a Quantized node, and the output of every Quantized node's
// group (after its fused BatchNorm2D and ReLU).
func (p *Plan) ObservedTensors() []Observed {
	if p == nil {
		return nil
	}
	var obs []Observed
	seen := map[string]bool{}
	add := func(tensor, owner string, lc LayerConfig) {
		if seen[tensor] {
			return
		}
		seen[tensor] = true
		obs = append(obs, Observed{Tensor: tensor, Owner: owner, Spec: lc.Activations, Method: lc.Method})
	}
	for _, n := range p.Nodes {
		if n.Role != Quantized {
			continue
		}
		for _, in := range n.QuantizeInputs {
			add(in, n.Name, n.Config)
		}
		add(n.groupEnd(), n.Name, n.Config)
	}
	return obs
}

// Observed is one activation tensor calibration watches.
type Observed struct {
	// Tensor is the FP32 node (or graph input) whose output is observed.
	Tensor string
	// Owner is the Quantized node that needs the qparams.
	Owner string
	// Spec and Method are the owner's activation configuration.
	Spec   quant.Spec
	Method quant.Method
}
