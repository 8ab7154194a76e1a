package nn

import (
	"encoding/json"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("ReLU", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("ReLU", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewReLU(), nil
	})
}

// ReLU is the elementwise rectifier max(x, 0) on inputs of any shape. Its
// gradient at 0 is taken as 0, as PyTorch does.
type ReLU struct {
	x *tensor.Tensor // input of the last Train-mode Forward
}

// NewReLU returns a ReLU layer.
func NewReLU() *ReLU { return &ReLU{} }

// Kind returns "ReLU".
func (l *ReLU) Kind() string { return "ReLU" }

// OutputShape returns the input shape.
func (l *ReLU) OutputShape(inputs [][]int) ([]int, error) {
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	return append([]int(nil), s...), nil
}

// Forward returns max(x, 0) elementwise. NaN inputs stay NaN.
func (l *ReLU) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	y := tensor.New(x.Shape()...)
	if n := x.Len(); n > 0 {
		// Branch-free and vectorized: +0 for x <= 0, x itself (NaN
		// included) otherwise.
		f32gemm.Epilogue{ReLU: true}.Apply(y.Data(), n, x.Data(), n, 1, n)
	}
	if mode == Train {
		l.x = x
	}
	return y, nil
}

// Backward passes gradOut where the input was positive and 0 elsewhere.
func (l *ReLU) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.x == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.x.Shape()); err != nil {
		return nil, err
	}
	dx := tensor.New(l.x.Shape()...)
	d, g := dx.Data(), gradOut.Data()
	for i, v := range l.x.Data() {
		if v > 0 {
			d[i] = g[i]
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: ReLU has no parameters.
func (l *ReLU) Params() []*Param { return nil }

// Clone returns a new ReLU.
func (l *ReLU) Clone() Layer { return NewReLU() }

// Attrs returns an empty attribute set.
func (l *ReLU) Attrs() any { return noAttrs{} }
