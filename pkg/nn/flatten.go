package nn

import (
	"encoding/json"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Flatten", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("Flatten", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewFlatten(), nil
	})
}

// Flatten reshapes [N, d1, d2, ...] to [N, d1*d2*...], keeping the row-major
// order of the elements. Its output is a copy of the input's storage.
type Flatten struct {
	inShape []int // batch shape of the last Train-mode input; nil before
}

// NewFlatten returns a Flatten layer.
func NewFlatten() *Flatten { return &Flatten{} }

// Kind returns "Flatten".
func (l *Flatten) Kind() string { return "Flatten" }

// OutputShape returns [d1*d2*...] for an input shape [d1, d2, ...]; a
// per-sample scalar becomes [1].
func (l *Flatten) OutputShape(inputs [][]int) ([]int, error) {
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	n, err := tensor.Numel(s)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: input shape %s: %w", l.Kind(), batchShape(s), err)
	}
	return []int{n}, nil
}

// Forward returns the input reshaped to [N, RowLen].
func (l *Flatten) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	y, err := x.Clone().Reshape(x.Dim(0), x.RowLen())
	if err != nil {
		return nil, shapeErrorf(l.Kind(), "input shape %v: %v", x.Shape(), err)
	}
	if mode == Train {
		l.inShape = x.Shape()
	}
	return y, nil
}

// Backward returns gradOut reshaped to the input's shape.
func (l *Flatten) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.inShape == nil {
		return nil, noForwardError(l.Kind())
	}
	n, row := l.inShape[0], 1
	for _, d := range l.inShape[1:] {
		row *= d
	}
	if err := checkGradOut(l.Kind(), gradOut, []int{n, row}); err != nil {
		return nil, err
	}
	dx, err := gradOut.Clone().Reshape(l.inShape...)
	if err != nil {
		return nil, shapeErrorf(l.Kind(), "output gradient shape %v: %v", gradOut.Shape(), err)
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: Flatten has no parameters.
func (l *Flatten) Params() []*Param { return nil }

// Clone returns a new Flatten.
func (l *Flatten) Clone() Layer { return NewFlatten() }

// Attrs returns an empty attribute set.
func (l *Flatten) Attrs() any { return noAttrs{} }
