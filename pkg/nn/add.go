package nn

import (
	"encoding/json"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Add", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("Add", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewAdd(), nil
	})
}

// Add sums two or more inputs of equal shape elementwise: the join of a
// residual connection. The sum runs over the inputs in order.
type Add struct {
	outShape []int // batch shape of the last Train-mode Forward; nil before
	n        int   // number of inputs of that pass
}

// NewAdd returns an Add layer.
func NewAdd() *Add { return &Add{} }

// Kind returns "Add".
func (l *Add) Kind() string { return "Add" }

// OutputShape returns the common shape of the inputs.
func (l *Add) OutputShape(inputs [][]int) ([]int, error) {
	if len(inputs) < 2 {
		return nil, shapeErrorf(l.Kind(), "takes 2 or more inputs, got %d", len(inputs))
	}
	for i, s := range inputs[1:] {
		if !slices.Equal(s, inputs[0]) {
			return nil, shapeErrorf(l.Kind(), "input %d shape %s does not fit input 0 shape %s",
				i+1, batchShape(s), batchShape(inputs[0]))
		}
	}
	return slices.Clone(inputs[0]), nil
}

// Forward returns the elementwise sum of the inputs.
func (l *Add) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if len(inputs) < 2 {
		return nil, shapeErrorf(l.Kind(), "takes 2 or more inputs, got %d", len(inputs))
	}
	for i, x := range inputs {
		if x == nil {
			return nil, shapeErrorf(l.Kind(), "input %d is a nil tensor", i)
		}
		if i > 0 && !x.SameShape(inputs[0]) {
			return nil, shapeErrorf(l.Kind(), "input %d shape %v does not fit input 0 shape %v",
				i, x.Shape(), inputs[0].Shape())
		}
	}
	y := inputs[0].Clone()
	yd := y.Data()
	for _, x := range inputs[1:] {
		for i, v := range x.Data() {
			yd[i] += v
		}
	}
	if mode == Train {
		l.outShape, l.n = y.Shape(), len(inputs)
	}
	return y, nil
}

// Backward returns a copy of gradOut for every input.
func (l *Add) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.outShape == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.outShape); err != nil {
		return nil, err
	}
	gs := make([]*tensor.Tensor, l.n)
	for i := range gs {
		gs[i] = gradOut.Clone()
	}
	return gs, nil
}

// Params returns nil: Add has no parameters.
func (l *Add) Params() []*Param { return nil }

// Clone returns a new Add.
func (l *Add) Clone() Layer { return NewAdd() }

// Attrs returns an empty attribute set.
func (l *Add) Attrs() any { return noAttrs{} }
