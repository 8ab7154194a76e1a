package ptq

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// convOnly is a model without Linear layers: Conv2D, ReLU, GlobalAvgPool.
func convOnly(t *testing.T) *nn.Graph {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	g, err := nn.Sequential([]int{2, 6, 6}, nn.NewConv2D(2, 4, 3, 1, 1, rng), nn.NewReLU(), nn.NewGlobalAvgPool())
	require.NoError(t, err)
	return g
}

func mlp(t *testing.T, hidden ...int) *nn.Graph {
	t.Helper()
	g, err := models.MLP(4, hidden...)
	require.NoError(t, err)
	return g
}

// paramBits copies the bits of every parameter and buffer of g.
func paramBits(g *nn.Graph) [][]uint32 {
	var out [][]uint32
	for _, p := range slices.Concat(g.Params(), g.Buffers()) {
		b := make([]uint32, p.Value.Len())
		for i, v := range p.Value.Data() {
			b[i] = math.Float32bits(v)
		}
		out = append(out, b)
	}
	return out
}

func TestQuantizeDynamic(t *testing.T) {
	perTensor := DynamicConfig{Weights: new(perTensorWeights())}
	affine := DynamicConfig{Weights: &quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}}
	keep := DynamicConfig{Overrides: []Override{{Name: "linear2", KeepFP32: true}}}
	keepAll := DynamicConfig{Overrides: []Override{{Kind: "Linear", KeepFP32: true}}}
	weightsOnly := DynamicConfig{Weights: new(quant.WeightDefault)}
	cases := []struct {
		name   string
		model  func(t *testing.T) *nn.Graph
		cfg    DynamicConfig
		mode   string
		int8   map[string]int // quantized layer -> weight channels
		scheme string
		// minCos and maxRel bound the outputs against FP32: cosine
		// similarity and the largest error relative to the largest output.
		minCos, maxRel float64
	}{
		{"MLP, per-channel default", func(t *testing.T) *nn.Graph { return mlp(t, 64) }, DynamicConfig{}, "dynamic",
			map[string]int{"linear1": 64, "linear2": 10}, "symmetric", 0.9995, 0.03},
		{"MLP, per-tensor weights", func(t *testing.T) *nn.Graph { return mlp(t, 64) }, perTensor, "dynamic",
			map[string]int{"linear1": 1, "linear2": 1}, "symmetric", 0.9995, 0.03},
		{"MLP, uint8 affine weights", func(t *testing.T) *nn.Graph { return mlp(t, 32, 16) }, affine, "dynamic",
			map[string]int{"linear1": 32, "linear2": 16, "linear3": 10}, "affine", 0.9995, 0.03},
		{"config holding only weights", func(t *testing.T) *nn.Graph { return mlp(t, 64) }, weightsOnly, "dynamic",
			map[string]int{"linear1": 64, "linear2": 10}, "symmetric", 0.9995, 0.03},
		{"one Linear kept FP32", func(t *testing.T) *nn.Graph { return mlp(t, 64) }, keep, "dynamic",
			map[string]int{"linear1": 64}, "symmetric", 0.9995, 0.03},
		{"every Linear kept FP32", func(t *testing.T) *nn.Graph { return mlp(t, 64) }, keepAll, "fp32", nil, "", 0.999999, 0},
		{"no Linear layer", convOnly, DynamicConfig{}, "fp32", nil, "", 0.999999, 0},
		{"logistic regression", func(t *testing.T) *nn.Graph { return mlp(t) }, DynamicConfig{}, "dynamic",
			map[string]int{"linear1": 10}, "symmetric", 0.9995, 0.03},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.model(t)
			before := paramBits(g)
			x := datasets.Gaussian(48, g.InputShape(), 0, 1, 11).X
			want, err := g.Forward(x, nn.Eval)
			require.NoError(t, err)
			m, rep, err := QuantizeDynamic(context.Background(), g, &c.cfg)
			require.NoError(t, err)
			if m.Mode().String() != c.mode || rep.Mode.String() != c.mode {
				t.Errorf("mode %q, report mode %q, want %q", m.Mode(), rep.Mode, c.mode)
			}
			if c.mode == "fp32" && len(rep.Notes) == 0 {
				t.Error("a model returned in FP32 has no note saying so")
			}
			if !slices.EqualFunc(paramBits(g), before, slices.Equal) {
				t.Error("quantization changed the FP32 model's parameters")
			}
			got, err := m.Forward(x)
			require.NoError(t, err)
			if c.int8 == nil {
				for i, w := range want.Data() {
					if math.Float32bits(w) != math.Float32bits(got.Data()[i]) {
						t.Fatalf("output %d is %g, FP32 gives %g; nothing was quantized", i, got.Data()[i], w)
					}
				}
			}
			cos := quant.CosineSimilarity(want.Data(), got.Data())
			rel := quant.MaxAbsError(want.Data(), got.Data()) / quant.MaxAbsError(want.Data(), make([]float32, want.Len()))
			if cos < c.minCos || rel > c.maxRel {
				t.Errorf("cosine %.6f (want >= %g), largest error %.4f of the largest output (want <= %g)", cos, c.minCos, rel, c.maxRel)
			}
			quantized := map[string]int{}
			for _, l := range rep.Layers {
				if l.Output != nil {
					t.Errorf("layer %q reports activation qparams %+v", l.Name, *l.Output)
				}
				if l.Weights == nil {
					if l.Quantized {
						t.Errorf("layer %q is quantized without int8 weights", l.Name)
					}
					continue
				}
				quantized[l.Name] = l.Weights.Channels
				w, ok := m.Weights(l.Name)
				if !ok || w.DType().String() != l.Weights.DType || l.Weights.Scheme != c.scheme {
					t.Errorf("layer %q: report %+v, weights %v", l.Name, *l.Weights, w)
				}
			}
			if len(quantized) != len(c.int8) || !sameChannels(quantized, c.int8) {
				t.Errorf("quantized layers %v, want %v", quantized, c.int8)
			}
			if rep.Calibration != nil {
				t.Error("dynamic quantization reports a calibration")
			}
			tr, err := m.Trace(x)
			require.NoError(t, err)
			for _, e := range tr {
				if e.DType != "fp32" || e.Scale != 0 {
					t.Errorf("node %s outputs %s (scale %g), want fp32", e.Node, e.DType, e.Scale)
				}
			}
		})
	}
}

func sameChannels(a, b map[string]int) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// TestQuantizeDynamicScalesFollowWeights checks the report's weight scales
// by hand: symmetric restricted int8 gives each output channel the scale
// max|w|/127.
func TestQuantizeDynamicScalesFollowWeights(t *testing.T) {
	l := nn.NewLinear(3, 2, nil)
	copy(l.Weight.Value.Data(), []float32{0.5, -1.27, 0.25, 0.01, 0.02, -0.0254})
	g, err := nn.NewBuilder("x", 3).Add("fc", l).Build()
	require.NoError(t, err)
	m, rep, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	w, _ := m.Weights("fc")
	p := w.Params()
	cases := []struct {
		name  string
		got   float32
		want  float32
		codes []int32
	}{
		{"channel 0", p.Scale[0], 1.27 / 127, []int32{50, -127, 25}},
		{"channel 1", p.Scale[1], 0.0254 / 127, []int32{50, 100, -127}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.InEpsilon(t, c.want, c.got, 1e-6, "scale")
			for j, want := range c.codes {
				if q := w.At(3*i + j); q != want {
					t.Errorf("weight %d: code %d, want %d", j, q, want)
				}
			}
		})
	}
	lr, _ := rep.Layer("fc")
	if lr.Weights.ScaleMin != p.Scale[1] || lr.Weights.ScaleMax != p.Scale[0] || lr.Weights.ZeroPointMin != 0 || lr.Weights.ZeroPointMax != 0 {
		t.Errorf("report %+v does not match the weights' qparams %v", *lr.Weights, p)
	}
	if got, want := m.Bytes(), 6+2*8+2*4; got != want {
		t.Errorf("model bytes %d, want %d (codes, one scale and zero point per channel, FP32 bias)", got, want)
	}
}

func TestQuantizeDynamicRefusals(t *testing.T) {
	nanModel := func(t *testing.T) *nn.Graph {
		g := mlp(t, 8)
		n, _ := g.Node("linear2")
		n.Layer.(*nn.Linear).Weight.Value.Data()[5] = float32(math.NaN())
		return g
	}
	badAxis := DynamicConfig{Weights: new(quant.WeightDefault)}
	badAxis.Weights.Axis = 1
	cases := []struct {
		name  string
		model func(t *testing.T) *nn.Graph
		cfg   DynamicConfig
		want  error
		names string
	}{
		{"nil model", func(*testing.T) *nn.Graph { return nil }, DynamicConfig{}, ErrNilModel, "nil model"},
		{"NaN weight", nanModel, DynamicConfig{}, ErrNonFinite, `"linear2"`},
		{"override matching nothing", func(t *testing.T) *nn.Graph { return mlp(t, 8) },
			DynamicConfig{Overrides: []Override{{Name: "fc9", KeepFP32: true}}}, ErrUnmatchedOverride, `"fc9"`},
		{"invalid weight spec", func(t *testing.T) *nn.Graph { return mlp(t, 8) },
			DynamicConfig{Weights: &quant.Spec{DType: quant.Int32}}, quant.ErrInvalidSpec, "weights"},
		{"weights per channel on the input axis", func(t *testing.T) *nn.Graph { return mlp(t, 8) }, badAxis, quant.ErrInvalidParams, `"linear1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rep, err := QuantizeDynamic(context.Background(), c.model(t), &c.cfg)
			require.ErrorIs(t, err, c.want)
			if m != nil || rep != nil {
				t.Error("a model or report came back with the error")
			}
			if msg := err.Error(); !strings.Contains(msg, c.names) {
				t.Errorf("error %q does not name %s", msg, c.names)
			}
		})
	}
}

// TestQuantizeDynamicInputRangePerCall feeds a batch 100 times larger than
// any earlier one: a dynamic model has no stored activation range to
// saturate against, so the outputs stay as close to FP32 as before.
func TestQuantizeDynamicInputRangePerCall(t *testing.T) {
	g := mlp(t, 64)
	m, _, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	cases := []struct {
		name  string
		scale float32
	}{{"unit", 1}, {"x100", 100}, {"x0.001", 0.001}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := datasets.Gaussian(32, g.InputShape(), 0, 1, 12).X
			for i := range x.Data() {
				x.Data()[i] *= c.scale
			}
			want, _ := g.Forward(x, nn.Eval)
			got, err := m.Forward(x)
			require.NoError(t, err)
			if cos := quant.CosineSimilarity(want.Data(), got.Data()); cos < 0.9995 {
				t.Errorf("cosine %.6f, want >= 0.9995", cos)
			}
		})
	}
}

// TestQuantizeDynamicConcurrentForward runs one model from several
// goroutines (go test -race) and expects the same bits as a lone run.
func TestQuantizeDynamicConcurrentForward(t *testing.T) {
	g := mlp(t, 32)
	m, _, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	checkConcurrentForward(t, m, datasets.Gaussian(16, g.InputShape(), 0, 1, 13).X)
}

func TestQuantizeDynamicRefusesBadInput(t *testing.T) {
	g := mlp(t, 8)
	m, _, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	nan := datasets.Gaussian(2, g.InputShape(), 0, 1, 1).X
	nan.Data()[17] = float32(math.Inf(1))
	checkForwardRefusals(t, m, []forwardRefusal{
		{"Inf in the input", nan, ErrNonFinite, []string{"sample 0"}},
		{"wrong input shape", tensor.New(2, 1, 14, 14), ErrShape, []string{"[2 1 14 14]"}},
	})
}
