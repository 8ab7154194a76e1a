package ptq

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// TestQuantizationRefusesBadWeights gives one weight of the second Linear
// layer a value no int8 kernel can carry, and expects static and dynamic
// quantization alike to refuse it, naming the node (a NodeError), with
// ptq's and quant's ErrNonFinite where quant saw it. Static quantization
// refuses NaN and Inf weights before calibration; weights too large for
// their scale make the layer's output infinite, which calibration refuses
// first on this data, naming the layer too.
func TestQuantizationRefusesBadWeights(t *testing.T) {
	cases := []struct {
		name      string
		value     float32
		wantQuant bool // the error also wraps quant.ErrNonFinite
		overflow  bool // too large, not NaN or Inf
	}{
		{"NaN", float32(math.NaN()), true, false},
		{"+Inf", float32(math.Inf(1)), true, false},
		{"-Inf", float32(math.Inf(-1)), true, false},
		{"3e38: scale 2.4e36 overflows the layer", 3e38, false, true},
		{"-1e36: scale 7.9e33 overflows the layer", -1e36, false, true},
	}
	paths := []struct {
		name  string
		quant func(g *nn.Graph) (*Model, *Report, error)
	}{
		{"static", func(g *nn.Graph) (*Model, *Report, error) {
			return Quantize(context.Background(), g, BatchesOf(normal(g, 16, 1).X, 8), nil)
		}},
		{"dynamic", func(g *nn.Graph) (*Model, *Report, error) {
			return QuantizeDynamic(context.Background(), g, nil)
		}},
	}
	for _, p := range paths {
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				g := mlp(t, 8)
				n, ok := g.Node("linear2")
				require.True(t, ok)
				n.Layer.(*nn.Linear).Weight.Value.Data()[5] = c.value
				m, rep, err := p.quant(g)
				require.Error(t, err)
				assert.Nil(t, m)
				assert.Nil(t, rep)
				assert.ErrorIs(t, err, ErrNonFinite)
				if c.wantQuant {
					assert.ErrorIs(t, err, quant.ErrNonFinite)
				}
				var ne *NodeError
				require.ErrorAs(t, err, &ne)
				assert.Equal(t, "linear2", ne.Node)
				assert.Equal(t, "Linear", ne.Kind)
				want := `ptq: node "linear2" (Linear): weights`
				if p.name == "static" && c.overflow {
					want = `ptq: node "linear2" (Linear): ` // calibration (output +Inf) or Convert (weights)
				}
				assert.Contains(t, err.Error(), want)
			})
		}
	}
}

// TestLargeFiniteWeightsStillQuantize checks that the overflow bound does
// not refuse large weights that an int8 layer can carry.
func TestLargeFiniteWeightsStillQuantize(t *testing.T) {
	g := mlp(t, 8)
	n, ok := g.Node("linear2")
	require.True(t, ok)
	n.Layer.(*nn.Linear).Weight.Value.Data()[5] = 1e30
	m, _, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	assert.Equal(t, ModeDynamic, m.Mode())
}
