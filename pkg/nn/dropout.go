package nn

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Dropout", func(raw json.RawMessage, _ int) (Layer, error) {
		var a DropoutAttrs
		if err := decodeAttrs("Dropout", raw, &a); err != nil {
			return nil, err
		}
		if err := checkDropout(a.P); err != nil {
			return nil, err
		}
		return NewDropout(a.P, a.Seed), nil
	})
}

// dropoutStream is the second PCG seed word of Dropout's generator.
const dropoutStream = 0x9e3779b97f4a7c15

// Dropout is inverted dropout, as torch.nn.Dropout: in Train mode each
// element is zeroed with probability P and the others are scaled by
// 1/(1-P), so the expected output equals the input; P = 1 zeroes
// everything. In Eval mode it is the identity. The mask comes from the
// layer's own PCG generator seeded at construction, so a given seed gives
// the same masks in the same order; Clone copies the generator's state.
type Dropout struct {
	// P is the probability of zeroing an element.
	P float32

	seed  uint64
	src   *rand.PCG // nil until the first Train-mode Forward of a literal
	shape []int     // output shape of the last Train-mode Forward; nil before
	mask  []float32 // per element, 0 or 1/(1-P)
}

// DropoutAttrs are the hyperparameters Dropout saves. The generator's
// state is not saved: a loaded layer starts again from Seed.
type DropoutAttrs struct {
	P    float32 `json:"p"`    // Dropout.P
	Seed uint64  `json:"seed"` // the seed given to NewDropout
}

// NewDropout returns a Dropout zeroing with probability p, its generator
// seeded with seed. It panics if p is not in [0, 1].
func NewDropout(p float32, seed uint64) *Dropout {
	if err := checkDropout(p); err != nil {
		panic(err.Error())
	}
	return &Dropout{P: p, seed: seed, src: rand.NewPCG(seed, dropoutStream)}
}

func checkDropout(p float32) error {
	if !(p >= 0 && p <= 1) {
		return configErrorf("Dropout", "probability %g is not in [0, 1]", p)
	}
	return nil
}

// Kind returns "Dropout".
func (l *Dropout) Kind() string { return "Dropout" }

// OutputShape returns the input shape.
func (l *Dropout) OutputShape(inputs [][]int) ([]int, error) {
	if err := checkDropout(l.P); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	return append([]int(nil), s...), nil
}

// Forward applies a fresh random mask (Train) or copies the input (Eval).
func (l *Dropout) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if err := checkDropout(l.P); err != nil {
		return nil, err
	}
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	y := x.Clone()
	if mode == Eval {
		return y, nil
	}
	if l.src == nil {
		l.src = rand.NewPCG(l.seed, dropoutStream)
	}
	rng := rand.New(l.src)
	var keep float32
	if l.P < 1 {
		keep = 1 / (1 - l.P)
	}
	mask := make([]float32, y.Len())
	yd := y.Data()
	for i := range mask {
		if rng.Float32() >= l.P {
			mask[i] = keep
		}
		yd[i] *= mask[i]
	}
	l.shape, l.mask = y.Shape(), mask
	return y, nil
}

// Backward multiplies gradOut by the mask of the last Train-mode Forward.
func (l *Dropout) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.shape); err != nil {
		return nil, err
	}
	dx := gradOut.Clone()
	d := dx.Data()
	for i, m := range l.mask {
		d[i] *= m
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: Dropout has no parameters.
func (l *Dropout) Params() []*Param { return nil }

// Clone returns a Dropout with the same P, seed and generator state, so
// the clone draws the masks the original would draw next.
func (l *Dropout) Clone() Layer {
	c := &Dropout{P: l.P, seed: l.seed}
	if l.src != nil {
		src := *l.src
		c.src = &src
	}
	return c
}

// Attrs returns P and the seed as DropoutAttrs.
func (l *Dropout) Attrs() any { return DropoutAttrs{P: l.P, Seed: l.seed} }
