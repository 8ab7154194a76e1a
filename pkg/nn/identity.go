package nn

import (
	"encoding/json"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Identity", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("Identity", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewIdentity(), nil
	})
}

// Identity passes its single input through unchanged. Its output is a copy,
// so it never shares storage with its input.
type Identity struct {
	outShape []int // batch shape of the last Train-mode Forward; nil before
}

// NewIdentity returns an Identity layer.
func NewIdentity() *Identity { return &Identity{} }

// Kind returns "Identity".
func (l *Identity) Kind() string { return "Identity" }

// OutputShape returns the input shape.
func (l *Identity) OutputShape(inputs [][]int) ([]int, error) {
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	return append([]int(nil), s...), nil
}

// Forward returns a copy of the input.
func (l *Identity) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if mode == Train {
		l.outShape = x.Shape()
	}
	return x.Clone(), nil
}

// Backward returns a copy of gradOut.
func (l *Identity) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.outShape == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.outShape); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{gradOut.Clone()}, nil
}

// Params returns nil: Identity has no parameters.
func (l *Identity) Params() []*Param { return nil }

// Clone returns a new Identity.
func (l *Identity) Clone() Layer { return NewIdentity() }

// Attrs returns an empty attribute set.
func (l *Identity) Attrs() any { return noAttrs{} }
