package ptq

import (
	"errors"
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// inputCodeRange is the widest range of input codes an int8 or uint8
// kernel multiplies weights by (|x - z| <= 255).
const inputCodeRange = 255

// quantizeWeights quantizes a float weight tensor [out, ...] with a MinMax
// observer of the given spec. It refuses weights holding NaN or Inf,
// naming the first, with an error wrapping ErrNonFinite and
// quant.ErrNonFinite, and weights whose scale would overflow float32 in
// the layer: when scale·(qmax−qmin)·255·fanIn, the largest accumulator of
// the layer dequantized at an input scale of 1, is not a finite float32
// (a weight of 3e38 has a scale of 2.4e36 and would make every output
// infinite). That error wraps ErrNonFinite too.
func quantizeWeights(w *tensor.Tensor, spec quant.Spec) (*quant.QTensor, error) {
	if w == nil || w.Dims() == 0 || w.Len() == 0 {
		return nil, fmt.Errorf("empty weight tensor: %w", ErrShape)
	}
	if i := firstNonFinite(w.Data()); i >= 0 {
		return nil, fmt.Errorf("weight %d of shape %v holds %v: %w (%w)", i, w.Shape(), w.Data()[i], ErrNonFinite, quant.ErrNonFinite)
	}
	obs, err := quant.NewObserver(quant.MethodMinMax, spec)
	if err != nil {
		return nil, err
	}
	if err := obs.Observe(w); err != nil {
		return nil, wrapNonFinite(err)
	}
	qp, err := obs.QParams()
	if err != nil {
		return nil, wrapNonFinite(err)
	}
	lo, hi := qp.Bounds()
	fanIn := w.Len() / w.Dim(0)
	for c, s := range qp.Scale {
		if v := float64(s) * float64(hi-lo) * inputCodeRange * float64(fanIn); math.IsInf(float64(s), 0) || math.IsNaN(float64(s)) || v > math.MaxFloat32 {
			return nil, fmt.Errorf("weight scale %g (channel %d) times accumulators of up to %d·%d·%d codes overflows float32: %w",
				s, c, hi-lo, inputCodeRange, fanIn, ErrNonFinite)
		}
	}
	qw, err := quant.Quantize(w, qp)
	return qw, wrapNonFinite(err)
}

// checkWeights refuses, before calibration, a Linear or Conv2D layer p
// quantizes whose weights hold NaN or Inf: the error is a NodeError naming
// the layer and the weight, wrapping ErrNonFinite and quant.ErrNonFinite.
// Weights too large for their scale are refused by Convert, after
// calibration, which refuses their infinite outputs first on most data.
func checkWeights(g *nn.Graph, p *Plan) error {
	for _, n := range g.Nodes() {
		np, ok := p.Node(n.Name)
		if !ok || np.Role != Quantized {
			continue
		}
		switch n.Layer.(type) {
		case *nn.Linear, *nn.Conv2D:
			w := layerWeight(n.Layer)
			if i := firstNonFinite(w.Data()); i >= 0 {
				return &NodeError{Node: n.Name, Kind: np.Kind, Err: fmt.Errorf("weights: weight %d of shape %v holds %v: %w (%w)",
					i, w.Shape(), w.Data()[i], ErrNonFinite, quant.ErrNonFinite)}
			}
		}
	}
	return nil
}

// wrapNonFinite makes an error of quant that wraps quant.ErrNonFinite also
// wrap ErrNonFinite, keeping quant's sentinel.
func wrapNonFinite(err error) error {
	if err != nil && errors.Is(err, quant.ErrNonFinite) && !errors.Is(err, ErrNonFinite) {
		return fmt.Errorf("%w: %w", ErrNonFinite, err)
	}
	return err
}
