package ptq

import (
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// planNode is one node of a test graph: a name, a layer and its inputs
// (none: the node before it).
type planNode struct {
	name   string
	layer  nn.Layer
	inputs []string
}

// testGraph builds a graph from nodes with weights drawn from a fixed seed
// through the layers' own constructors (the caller passes rng-built
// layers).
func testGraph(t testing.TB, in []int, nodes ...planNode) *nn.Graph {
	t.Helper()
	b := nn.NewBuilder("input", in...)
	for _, n := range nodes {
		b.Add(n.name, n.layer, n.inputs...)
	}
	g, err := b.Build()
	require.NoError(t, err)
	return g
}

func testRand() *rand.Rand { return rand.New(rand.NewPCG(3, 5)) }

// convBNReLUGraph is conv1, bn1, relu1, pool1, flat, fc, softmax on
// 1x8x8 inputs.
func convBNReLUGraph(t testing.TB) *nn.Graph {
	r := testRand()
	return testGraph(t, []int{1, 8, 8},
		planNode{name: "conv1", layer: nn.NewConv2D(1, 4, 3, 1, 1, r)},
		planNode{name: "bn1", layer: nn.NewBatchNorm2D(4)},
		planNode{name: "relu1", layer: nn.NewReLU()},
		planNode{name: "pool1", layer: nn.NewMaxPool2D(2, 2)},
		planNode{name: "flat", layer: nn.NewFlatten()},
		planNode{name: "fc", layer: nn.NewLinear(64, 3, r)},
		planNode{name: "softmax", layer: nn.NewSoftmax()},
	)
}

func TestTraverseRoles(t *testing.T) {
	type want struct {
		role   Role
		reason string // a substring of the reason
	}
	cases := []struct {
		name       string
		graph      func(testing.TB) *nn.Graph
		cfg        func(*Config)
		roles      map[string]want
		boundaries []Boundary
		int8Out    []string // nodes whose output is int8
	}{
		{
			name:  "conv bn relu pool linear softmax",
			graph: convBNReLUGraph,
			roles: map[string]want{
				"conv1":   {Quantized, "int8 kernel"},
				"bn1":     {Fused, "folded into the weights and bias of conv1"},
				"relu1":   {Fused, "fused into conv1"},
				"pool1":   {Transparent, "MaxPool2D"},
				"flat":    {Transparent, "reshapes"},
				"fc":      {Quantized, "int8 kernel"},
				"softmax": {FP32, "Softmax stays FP32"},
			},
			boundaries: []Boundary{{"input", "conv1", "quantize"}, {"fc", "softmax", "dequantize"}},
			int8Out:    []string{"conv1", "bn1", "relu1", "pool1", "flat", "fc"},
		},
		{
			name:  "fusion disabled",
			graph: convBNReLUGraph,
			cfg:   func(c *Config) { c.NoFusion = true },
			roles: map[string]want{
				"conv1":   {Quantized, "int8 kernel"},
				"bn1":     {FP32, "cannot be folded"},
				"relu1":   {Transparent, "runs in FP32 here"},
				"pool1":   {Transparent, "runs in FP32 here"},
				"flat":    {Transparent, "runs in FP32 here"},
				"fc":      {Quantized, "int8 kernel"},
				"softmax": {FP32, "Softmax"},
			},
			boundaries: []Boundary{{"input", "conv1", "quantize"}, {"conv1", "bn1", "dequantize"},
				{"flat", "fc", "quantize"}, {"fc", "softmax", "dequantize"}},
			int8Out: []string{"conv1", "fc"},
		},
		{
			name: "BatchNorm after ReLU is not folded",
			graph: func(t testing.TB) *nn.Graph {
				r := testRand()
				return testGraph(t, []int{1, 6, 6},
					planNode{name: "conv1", layer: nn.NewConv2D(1, 2, 3, 1, 1, r)},
					planNode{name: "relu1", layer: nn.NewReLU()},
					planNode{name: "bn1", layer: nn.NewBatchNorm2D(2)},
					planNode{name: "conv2", layer: nn.NewConv2D(2, 2, 3, 1, 1, r)},
				)
			},
			roles: map[string]want{
				"conv1": {Quantized, "Conv2D"},
				"relu1": {Fused, "fused into conv1"},
				"bn1":   {FP32, "cannot be folded"},
				"conv2": {Quantized, "Conv2D"},
			},
			boundaries: []Boundary{{"input", "conv1", "quantize"}, {"relu1", "bn1", "dequantize"},
				{"bn1", "conv2", "quantize"}, {"conv2", "output", "dequantize"}},
			int8Out: []string{"conv1", "relu1", "conv2"},
		},
		{
			name: "ReLU on a fanned-out output is not fused",
			graph: func(t testing.TB) *nn.Graph {
				r := testRand()
				return testGraph(t, []int{2, 4, 4},
					planNode{name: "conv1", layer: nn.NewConv2D(2, 2, 3, 1, 1, r)},
					planNode{name: "relu1", layer: nn.NewReLU()},
					planNode{name: "add", layer: nn.NewAdd(), inputs: []string{"relu1", "conv1"}},
				)
			},
			roles: map[string]want{
				"conv1": {Quantized, "Conv2D"},
				"relu1": {Transparent, "clamps at the zero point"},
				"add":   {Quantized, "residual Add"},
			},
			boundaries: []Boundary{{"input", "conv1", "quantize"}, {"add", "output", "dequantize"}},
			int8Out:    []string{"conv1", "relu1", "add"},
		},
		{
			name:  "residual network",
			graph: func(t testing.TB) *nn.Graph { return mustGraph(t)(models.ResidualCNN(1, 3, 8, 8, 4)) },
			roles: map[string]want{
				"stem_conv": {Quantized, "Conv2D"}, "stem_bn": {Fused, "stem_conv"}, "stem_relu": {Fused, "stem_conv"},
				"block_conv1": {Quantized, "Conv2D"}, "block_bn1": {Fused, "block_conv1"}, "block_relu1": {Fused, "block_conv1"},
				"block_conv2": {Quantized, "Conv2D"}, "block_bn2": {Fused, "block_conv2"},
				"block_add": {Quantized, "one output scale"}, "block_relu2": {Transparent, "ReLU"},
				"pool": {Transparent, "MaxPool2D"}, "flatten": {Transparent, "Flatten"}, "fc": {Quantized, "Linear"},
			},
			boundaries: []Boundary{{"input", "stem_conv", "quantize"}, {"fc", "output", "dequantize"}},
			int8Out: []string{"stem_conv", "stem_bn", "stem_relu", "block_conv1", "block_bn1", "block_relu1",
				"block_conv2", "block_bn2", "block_add", "block_relu2", "pool", "flatten", "fc"},
		},
		{
			name: "a transparent first layer runs in FP32",
			graph: func(t testing.TB) *nn.Graph {
				return testGraph(t, []int{4},
					planNode{name: "relu", layer: nn.NewReLU()},
					planNode{name: "fc", layer: nn.NewLinear(4, 2, testRand())},
				)
			},
			roles: map[string]want{
				"relu": {Transparent, "runs in FP32 here because its input is FP32"},
				"fc":   {Quantized, "Linear"},
			},
			boundaries: []Boundary{{"relu", "fc", "quantize"}, {"fc", "output", "dequantize"}},
			int8Out:    []string{"fc"},
		},
		{
			name:  "a layer kept by an override",
			graph: convBNReLUGraph,
			cfg:   func(c *Config) { c.Overrides = []Override{{Name: "fc", KeepFP32: true}} },
			roles: map[string]want{
				"conv1": {Quantized, "Conv2D"}, "bn1": {Fused, "conv1"}, "relu1": {Fused, "conv1"},
				"pool1": {Transparent, "MaxPool2D"}, "flat": {Transparent, "Flatten"},
				"fc":      {FP32, `kept FP32 by override name "fc"`},
				"softmax": {FP32, "Softmax"},
			},
			boundaries: []Boundary{{"input", "conv1", "quantize"}, {"flat", "fc", "dequantize"}},
			int8Out:    []string{"conv1", "bn1", "relu1", "pool1", "flat"},
		},
		{
			name: "nothing to quantize",
			graph: func(t testing.TB) *nn.Graph {
				return testGraph(t, []int{2, 3},
					planNode{name: "flat", layer: nn.NewFlatten()},
					planNode{name: "softmax", layer: nn.NewSoftmax()},
				)
			},
			roles: map[string]want{
				"flat":    {Transparent, "runs in FP32 here"},
				"softmax": {FP32, "Softmax"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := configWith(c.cfg)
			p := mustTraverse(t, c.graph(t), cfg)
			if len(p.Nodes) != len(c.roles) {
				t.Fatalf("plan has %d nodes, want %d:\n%s", len(p.Nodes), len(c.roles), p)
			}
			var int8Out []string
			for _, n := range p.Nodes {
				w, ok := c.roles[n.Name]
				if !ok {
					t.Fatalf("unexpected node %q", n.Name)
				}
				if n.Role != w.role || !strings.Contains(n.Reason, w.reason) {
					t.Errorf("%s: %v (%s), want %v with a reason saying %q", n.Name, n.Role, n.Reason, w.role, w.reason)
				}
				if n.Int8Out {
					int8Out = append(int8Out, n.Name)
				}
			}
			if !slices.Equal(int8Out, c.int8Out) {
				t.Errorf("int8 outputs %q, want %q", int8Out, c.int8Out)
			}
			if got := p.Boundaries(); !slices.Equal(got, c.boundaries) {
				t.Errorf("boundaries %v, want %v", got, c.boundaries)
			}
		})
	}
}

// mustGraph adapts a (graph, error) constructor for table cases.
func mustGraph(t testing.TB) func(*nn.Graph, error) *nn.Graph {
	return func(g *nn.Graph, err error) *nn.Graph {
		t.Helper()
		require.NoError(t, err)
		return g
	}
}

func TestObservedTensors(t *testing.T) {
	cases := []struct {
		name  string
		graph func(testing.TB) *nn.Graph
		cfg   func(*Config)
		want  []string // tensor <- owner
	}{
		{"conv bn relu", convBNReLUGraph, nil, []string{"input <- conv1", "relu1 <- conv1", "fc <- fc"}},
		{"fusion disabled", convBNReLUGraph, func(c *Config) { c.NoFusion = true },
			[]string{"input <- conv1", "conv1 <- conv1", "flat <- fc", "fc <- fc"}},
		{"residual", func(t testing.TB) *nn.Graph { return mustGraph(t)(models.ResidualCNN(1, 1, 4, 4, 2)) }, nil,
			[]string{"input <- stem_conv", "stem_relu <- stem_conv", "block_relu1 <- block_conv1",
				"block_bn2 <- block_conv2", "block_add <- block_add", "fc <- fc"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := configWith(c.cfg)
			p := mustTraverse(t, c.graph(t), cfg)
			var got []string
			for _, o := range p.ObservedTensors() {
				got = append(got, o.Tensor+" <- "+o.Owner)
				if o.Method != quant.MethodMinMax || o.Spec != quant.ActivationDefault {
					t.Errorf("%s: method %q spec %v, want the defaults", o.Tensor, o.Method, o.Spec)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("observed %q, want %q", got, c.want)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	p := mustTraverse(t, convBNReLUGraph(t), Config{})
	lines := strings.Split(strings.TrimRight(p.String(), "\n"), "\n")
	if len(lines) != 1+len(p.Nodes) {
		t.Fatalf("%d lines for %d nodes:\n%s", len(lines), len(p.Nodes), p)
	}
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"NODE", "KIND", "ROLE", "OUT", "INPUTS", "REASON"}) {
		t.Errorf("header %q", lines[0])
	}
	for i, n := range p.Nodes {
		f := strings.Fields(lines[i+1])
		if len(f) < 5 || f[0] != n.Name || f[1] != n.Kind || f[2] != n.Role.String() {
			t.Errorf("line %d %q does not describe node %s", i+1, lines[i+1], n.Name)
		}
		if !strings.HasSuffix(lines[i+1], n.Reason) {
			t.Errorf("line %d %q does not end with the reason %q", i+1, lines[i+1], n.Reason)
		}
	}
	for _, want := range []string{"input (quantize)", "fc (dequantize)"} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, p)
		}
	}
}

func TestTraverseRefusals(t *testing.T) {
	cases := []struct {
		name string
		g    *nn.Graph
		cfg  Config
		want error
		msg  string
	}{
		{"nil model", nil, Config{}, ErrNilModel, "nil model"},
		{"unknown method", convBNReLUGraph(t), Config{Method: quant.Method(42)}, ErrInvalidConfig, "unknown calibration method"},
		{"unmatched name", convBNReLUGraph(t), withOverrides(Override{Name: "conv9", KeepFP32: true}), ErrUnmatchedOverride, `name "conv9"`},
		{"unmatched glob", convBNReLUGraph(t), withOverrides(Override{Glob: "block_*", KeepFP32: true}), ErrUnmatchedOverride, `glob "block_*"`},
		{"unmatched kind", convBNReLUGraph(t), withOverrides(Override{Kind: "LSTM", KeepFP32: true}), ErrUnmatchedOverride, `kind "LSTM"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Traverse(c.g, &c.cfg)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			assert.Nil(t, p)
		})
	}
}

// configWith returns the default Config changed by edit, if edit is not nil.
func configWith(edit func(*Config)) Config {
	cfg := Config{}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

// mustTraverse returns the plan of g under cfg, failing the test if there
// is none.
func mustTraverse(t testing.TB, g *nn.Graph, cfg Config) *Plan {
	t.Helper()
	p, err := Traverse(g, &cfg)
	require.NoError(t, err)
	return p
}

// perTensorWeights returns quant.WeightDefault made per tensor.
func perTensorWeights() quant.Spec {
	w := quant.WeightDefault
	w.Granularity = quant.PerTensor
	return w
}

// withOverrides returns the default Config with the overrides.
func withOverrides(o ...Override) Config {
	c := Config{}
	c.Overrides = o
	return c
}
