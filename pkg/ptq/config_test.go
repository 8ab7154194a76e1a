package ptq

import (
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overrideGraph has two Linear layers, fc1 and fc2, and a ReLU between.
func overrideGraph(t testing.TB) *nn.Graph {
	r := testRand()
	return testGraph(t, []int{4},
		planNode{name: "fc1", layer: nn.NewLinear(4, 4, r)},
		planNode{name: "relu", layer: nn.NewReLU()},
		planNode{name: "fc2", layer: nn.NewLinear(4, 2, r)},
	)
}

func TestOverridePrecedence(t *testing.T) {
	perTensor := quant.Spec{DType: quant.Int8, Scheme: quant.Symmetric, Granularity: quant.PerTensor, Restricted: true}
	uint8Act := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerTensor}
	cases := []struct {
		name      string
		overrides []Override
		node      string
		want      LayerConfig
	}{
		{
			name: "no override",
			node: "fc2",
			want: LayerConfig{Weights: quant.WeightDefault, Activations: quant.ActivationDefault, Method: quant.MethodMinMax},
		},
		{
			name: "name beats glob beats kind, whatever the order given",
			overrides: []Override{
				{Name: "fc2", Method: quant.MethodEntropy},
				{Glob: "fc*", Method: quant.MethodPercentile, Weights: &perTensor},
				{Kind: "Linear", Method: quant.MethodMSE, Activations: &uint8Act},
			},
			node: "fc2",
			want: LayerConfig{Weights: perTensor, Activations: uint8Act, Method: quant.MethodEntropy,
				Overrides: []string{`kind "Linear"`, `glob "fc*"`, `name "fc2"`}},
		},
		{
			name: "a name override leaves other nodes to the glob",
			overrides: []Override{
				{Name: "fc2", Method: quant.MethodEntropy},
				{Glob: "fc*", Method: quant.MethodPercentile},
			},
			node: "fc1",
			want: LayerConfig{Weights: quant.WeightDefault, Activations: quant.ActivationDefault, Method: quant.MethodPercentile,
				Overrides: []string{`glob "fc*"`}},
		},
		{
			name: "within one level the later override wins",
			overrides: []Override{
				{Kind: "Linear", Method: quant.MethodMSE},
				{Kind: "Linear", Method: quant.MethodMovingAverage},
			},
			node: "fc1",
			want: LayerConfig{Weights: quant.WeightDefault, Activations: quant.ActivationDefault, Method: quant.MethodMovingAverage,
				Overrides: []string{`kind "Linear"`, `kind "Linear"`}},
		},
		{
			name: "KeepFP32 from any level sticks",
			overrides: []Override{
				{Kind: "Linear", KeepFP32: true},
				{Name: "fc1", Method: quant.MethodEntropy},
			},
			node: "fc1",
			want: LayerConfig{KeepFP32: true, Weights: quant.WeightDefault, Activations: quant.ActivationDefault, Method: quant.MethodEntropy,
				Overrides: []string{`kind "Linear"`, `name "fc1"`}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := withOverrides(c.overrides...)
			p := mustTraverse(t, overrideGraph(t), cfg)
			n, _ := p.Node(c.node)
			got := n.Config
			if got.KeepFP32 != c.want.KeepFP32 || got.Weights != c.want.Weights || got.Activations != c.want.Activations ||
				got.Method != c.want.Method || !slices.Equal(got.Overrides, c.want.Overrides) {
				t.Errorf("%s resolved to %+v, want %+v", c.node, got, c.want)
			}
			if wantRole := Quantized; c.want.KeepFP32 && n.Role != FP32 || !c.want.KeepFP32 && n.Role != wantRole {
				t.Errorf("%s has role %v (keep FP32: %v)", c.node, n.Role, c.want.KeepFP32)
			}
		})
	}
}

func TestOverrideAppliesToObservers(t *testing.T) {
	uint8Act := quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerTensor}
	cfg := withOverrides(Override{Name: "fc2", Activations: &uint8Act, Method: quant.MethodMovingAverage})
	p := mustTraverse(t, overrideGraph(t), cfg)
	for _, o := range p.ObservedTensors() {
		wantSpec, wantMethod := quant.ActivationDefault, quant.MethodMinMax
		if o.Owner == "fc2" {
			wantSpec, wantMethod = uint8Act, quant.MethodMovingAverage
		}
		if o.Spec != wantSpec || o.Method != wantMethod {
			t.Errorf("tensor %s (for %s): %v %s, want %v %s", o.Tensor, o.Owner, o.Spec, o.Method, wantSpec, wantMethod)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	perChannelAct := quant.Spec{DType: quant.Int8, Scheme: quant.Affine, Granularity: quant.PerChannel}
	cases := []struct {
		name   string
		change func(*Config)
		want   error  // nil: valid
		msg    string // a substring of the error
	}{
		{"default", func(*Config) {}, nil, ""},
		{"every method", func(c *Config) { c.Method = quant.MethodEntropy }, nil, ""},
		{"no method means minmax", func(c *Config) { c.Method = 0 }, nil, ""},
		{"unknown method", func(c *Config) { c.Method = quant.Method(42) }, ErrInvalidConfig, "Method(42)"},
		{"per-channel activations", func(c *Config) { c.Activations = &perChannelAct }, ErrInvalidConfig, "activations are quantized per tensor"},
		{"negative patience", func(c *Config) { c.Calibration.Patience = -1 }, ErrInvalidConfig, "negative"},
		{"negative tolerance", func(c *Config) { c.Calibration.Tolerance = -0.1 }, ErrInvalidConfig, "negative"},
		{"negative max batches", func(c *Config) { c.Calibration.MaxBatches = -3 }, ErrInvalidConfig, "negative"},
		{"override without selector", func(c *Config) { c.Overrides = []Override{{KeepFP32: true}} }, ErrInvalidConfig, "exactly one of Name, Glob and Kind"},
		{"override with two selectors", func(c *Config) { c.Overrides = []Override{{Name: "a", Kind: "Linear"}} }, ErrInvalidConfig, "exactly one"},
		{"bad glob", func(c *Config) { c.Overrides = []Override{{Glob: "fc["}} }, ErrInvalidConfig, `glob "fc["`},
		{"override method", func(c *Config) { c.Overrides = []Override{{Name: "fc1", Method: quant.Method(99)}} }, ErrInvalidConfig, "Method(99)"},
		{"override activations per channel", func(c *Config) { c.Overrides = []Override{{Name: "fc1", Activations: &perChannelAct}} },
			ErrInvalidConfig, `name "fc1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{}
			c.change(&cfg)
			err := cfg.Validate()
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	var zero *Config
	c := zero.WithDefaults()
	if *c.Weights != quant.WeightDefault || *c.Activations != quant.ActivationDefault || c.Method != quant.MethodMinMax {
		t.Errorf("Config{} = %+v", c)
	}
	if c.Calibration != (CalibrationOptions{Tolerance: 0.01, Patience: 3}) {
		t.Errorf("calibration options %+v, want 1%% tolerance, patience 3, no early stop, no limit", c.Calibration)
	}
}
