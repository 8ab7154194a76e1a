package ptq

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dynamicConvConfig returns the default DynamicConfig with Conv2D set,
// changed by edit.
func dynamicConvConfig(edit func(*DynamicConfig)) DynamicConfig {
	c := DynamicConfig{Conv2D: true}
	edit(&c)
	return c
}

// TestQuantizeDynamicConv2D quantizes Conv2D layers dynamically on
// request: int8 weights in the report, BatchNorm2D unfolded in FP32, FP32
// at every boundary, outputs within the stated cosine and largest
// relative error of FP32.
func TestQuantizeDynamicConv2D(t *testing.T) {
	cnn := func(t *testing.T) *nn.Graph { return withBatchNormStats(convBNReLUGraph(t)) }
	cases := []struct {
		name  string
		model func(t *testing.T) *nn.Graph
		cfg   DynamicConfig
		mode  string
		int8  map[string]int // quantized layer -> weight channels
		// minCos and maxRel bound the outputs against FP32 on 48
		// standard normal samples.
		minCos, maxRel float64
	}{
		{"CNN, per-channel", cnn, dynamicConvConfig(func(*DynamicConfig) {}), "dynamic",
			map[string]int{"conv1": 4, "fc": 3}, 0.9999, 0.015},
		{"CNN, per-tensor", cnn, dynamicConvConfig(func(c *DynamicConfig) { c.Weights = new(perTensorWeights()) }), "dynamic",
			map[string]int{"conv1": 1, "fc": 1}, 0.9999, 0.015},
		{"CNN, uint8 affine weights", cnn, dynamicConvConfig(func(c *DynamicConfig) { c.Weights = new(uint8PerCh) }), "dynamic",
			map[string]int{"conv1": 4, "fc": 3}, 0.9999, 0.015},
		{"CNN, Conv2D kept FP32 by a kind override", cnn,
			dynamicConvConfig(func(c *DynamicConfig) { c.Overrides = []Override{{Kind: "Conv2D", KeepFP32: true}} }), "dynamic",
			map[string]int{"fc": 3}, 0.9999, 0.015},
		{"CNN without the option: Conv2D stays FP32", cnn, DynamicConfig{}, "dynamic",
			map[string]int{"fc": 3}, 0.9999, 0.015},
		{"no Linear layer, Conv2D on request", convOnly, dynamicConvConfig(func(*DynamicConfig) {}), "dynamic",
			map[string]int{"conv2d1": 4}, 0.9999, 0.015},
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
			if !slices.EqualFunc(paramBits(g), before, slices.Equal) {
				t.Error("quantization changed the FP32 model's parameters")
			}
			got, err := m.Forward(x)
			require.NoError(t, err)
			cos := quant.CosineSimilarity(want.Data(), got.Data())
			rel := quant.MaxAbsError(want.Data(), got.Data()) / quant.MaxAbsError(want.Data(), make([]float32, want.Len()))
			if cos < c.minCos || rel > c.maxRel {
				t.Errorf("cosine %.6f (want >= %g), largest error %.4f of the largest output (want <= %g)", cos, c.minCos, rel, c.maxRel)
			}
			t.Logf("cosine %.7f, largest error %.5f of the largest output", cos, rel)
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
				if w, ok := m.Weights(l.Name); !ok || w.DType().String() != l.Weights.DType || w.Params().Channels() != l.Weights.Channels {
					t.Errorf("layer %q: report %+v, weights %v", l.Name, *l.Weights, w)
				}
			}
			if len(quantized) != len(c.int8) || !sameChannels(quantized, c.int8) {
				t.Errorf("quantized layers %v, want %v", quantized, c.int8)
			}
			if np, ok := m.Plan().Node("bn1"); ok && (np.Role != FP32 || np.FusedInto != "") {
				t.Errorf("bn1: role %s, fused into %q; want FP32, unfolded", np.Role, np.FusedInto)
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

// TestQuantizeDynamicConv2DReportsTheConv checks the plan reason, the
// weight scales (max|w|/127 per output channel) and the bytes of a
// dynamically quantized Conv2D.
func TestQuantizeDynamicConv2DReportsTheConv(t *testing.T) {
	g := convOnly(t)
	m, rep, err := QuantizeDynamic(context.Background(), g, new(dynamicConvConfig(func(*DynamicConfig) {})))
	require.NoError(t, err)
	np, _ := m.Plan().Node("conv2d1")
	if np.Role != Quantized || !strings.Contains(np.Reason, "Conv2D: int8 weights, input quantized per call") {
		t.Errorf("conv2d1: role %s, reason %q", np.Role, np.Reason)
	}
	n, _ := g.Node("conv2d1")
	conv := n.Layer.(*nn.Conv2D)
	w, _ := m.Weights("conv2d1")
	per := conv.Weight.Value.Len() / conv.OutC
	for c, s := range w.Params().Scale {
		mx := 0.0
		for _, v := range conv.Weight.Value.Data()[c*per : (c+1)*per] {
			mx = math.Max(mx, math.Abs(float64(v)))
		}
		assert.InEpsilon(t, mx/127, s, 1e-6, "channel %d scale", c)
	}
	// 4·2·3·3 codes, 4 (scale, zero point) pairs, 4 FP32 biases.
	if got, want := m.Bytes(), 72+4*8+4*4; got != want || rep.Int8Bytes != want {
		t.Errorf("model bytes %d (report %d), want %d", got, rep.Int8Bytes, want)
	}
	checkConcurrentForward(t, m, datasets.Gaussian(16, g.InputShape(), 0, 1, 13).X)
}

func TestQuantizeDynamicConv2DRefusesNaNWeights(t *testing.T) {
	g := convOnly(t)
	n, _ := g.Node("conv2d1")
	n.Layer.(*nn.Conv2D).Weight.Value.Data()[7] = float32(math.NaN())
	m, rep, err := QuantizeDynamic(context.Background(), g, new(dynamicConvConfig(func(*DynamicConfig) {})))
	require.ErrorIs(t, err, ErrNonFinite)
	var ne *NodeError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, "conv2d1", ne.Node)
	assert.Nil(t, m)
	assert.Nil(t, rep)
	// Without the option the Conv2D stays FP32 and its weights are not
	// quantized, NaN or not.
	if _, _, err := QuantizeDynamic(context.Background(), g, nil); err != nil {
		t.Fatalf("without DynamicConv2D: %v", err)
	}
}

// TestLoadRefusesInconsistentDynamicConv2D edits the file of a model with
// a dynamic Conv2D; each edit must be refused with an error naming it.
func TestLoadRefusesInconsistentDynamicConv2D(t *testing.T) {
	m, _ := dynamicWith(t, withBatchNormStats(convBNReLUGraph(t)), dynamicConvConfig(func(*DynamicConfig) {}))
	craft := func(f func(n *nodeHeader, recs []record) []record) []byte {
		h, recs, err := m.contents()
		require.NoError(t, err)
		h.Nodes = slices.Clone(h.Nodes)
		i := slices.IndexFunc(h.Nodes, func(n nodeHeader) bool { return n.Name == "conv1" })
		n := &h.Nodes[i]
		if n.Op != opDynamicConv2D {
			t.Fatalf("conv1 runs %s, want %s", n.Op, opDynamicConv2D)
		}
		k := *n.Kernel
		conv := *k.Conv
		k.Conv, n.Kernel = &conv, &k
		n.Shape = slices.Clone(n.Shape)
		recs = f(n, slices.Clone(recs))
		var b bytes.Buffer
		require.NoError(t, encodeModel(&b, h, recs, "test"))
		return b.Bytes()
	}
	biasAt := func(recs []record) int {
		return slices.IndexFunc(recs, func(r record) bool { return r.Name == "conv1.bias" })
	}
	checkLoadErrors(t, []loadErrCase{
		{"without conv geometry", craft(func(n *nodeHeader, r []record) []record { n.Kernel.Conv = nil; return r }), nil,
			`node "conv1" (Conv2D): op dynamic_conv2d with conv geometry <nil>`},
		{"with activation qparams", craft(func(n *nodeHeader, r []record) []record {
			n.Kernel.Input = &actHeader{DType: "uint8", Scale: 0.1, ZeroPoint: 128}
			return r
		}), nil, `node "conv1" (Conv2D): op dynamic_conv2d quantizes its input per call: it keeps no activation qparams`},
		{"with a fused ReLU", craft(func(n *nodeHeader, r []record) []record { n.Kernel.ReLU = true; return r }), nil,
			`node "conv1" (Conv2D): op dynamic_conv2d fuses no ReLU`},
		{"on a Linear layer", craft(func(n *nodeHeader, r []record) []record {
			n.Kind, n.Report.Kind = "Linear", "Linear"
			return r
		}), nil, `node "conv1" (Linear): op dynamic_conv2d runs a Conv2D layer`},
		{"int32 bias", craft(func(n *nodeHeader, r []record) []record {
			i := biasAt(r)
			r[i].Tag, r[i].Values = elemInt32, make([]int32, r[i].Shape[0])
			return r
		}), nn.ErrParamShape, `tensor record "conv1.bias" at byte offset`},
		{"stride 0", craft(func(n *nodeHeader, r []record) []record { n.Kernel.Conv.Stride = 0; return r }), nil,
			`node "conv1" (Conv2D): kernel 3x3, stride 0, pad 1: sizes and stride must be positive, pad non-negative`},
		{"header shape disagrees with the geometry", craft(func(n *nodeHeader, r []record) []record { n.Kernel.Conv.Stride = 2; return r }), nil,
			`node "conv1" (Conv2D): header says output shape [4 8 8], the node computes [4 4 4]`},
		{"kernel larger than the padded input", craft(func(n *nodeHeader, r []record) []record {
			n.Kernel.Conv.Pad = 0
			n.Kernel.Conv.KH, n.Kernel.Conv.KW = 9, 9
			return r
		}), nn.ErrParamShape, `tensor record "conv1.weight" at byte offset`},
	})
}
