package nn

import (
	"encoding/json"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Softmax", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("Softmax", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewSoftmax(), nil
	})
	Register("LogSoftmax", func(raw json.RawMessage, _ int) (Layer, error) {
		if err := decodeAttrs("LogSoftmax", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewLogSoftmax(), nil
	})
}

// Softmax maps each row along the last dimension to exp(x_i)/sum_j exp(x_j).
// The row maximum is subtracted first and the sum is taken in float64, so
// large inputs do not overflow.
type Softmax struct{ out savedOutput }

// NewSoftmax returns a Softmax layer.
func NewSoftmax() *Softmax { return &Softmax{} }

// Kind returns "Softmax".
func (l *Softmax) Kind() string { return "Softmax" }

// OutputShape returns the input shape, whose last dimension must be non-empty.
func (l *Softmax) OutputShape(inputs [][]int) ([]int, error) {
	return lastDimShape(l.Kind(), inputs)
}

// Forward applies softmax over the last dimension.
func (l *Softmax) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	return l.out.forward(l.Kind(), inputs, mode, false)
}

// Backward returns y·(gradOut - sum(gradOut·y)) row by row.
func (l *Softmax) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	return l.out.backward(l.Kind(), gradOut, func(d, g, y []float32) {
		var dot float64
		for j := range y {
			dot += float64(g[j]) * float64(y[j])
		}
		for j := range y {
			d[j] = float32(float64(y[j]) * (float64(g[j]) - dot))
		}
	})
}

// Params returns nil: Softmax has no parameters.
func (l *Softmax) Params() []*Param { return nil }

// Clone returns a new Softmax.
func (l *Softmax) Clone() Layer { return NewSoftmax() }

// Attrs returns an empty attribute set.
func (l *Softmax) Attrs() any { return noAttrs{} }

// LogSoftmax maps each row along the last dimension to
// x_i - max - log(sum_j exp(x_j - max)), the logarithm of Softmax computed
// without overflow or log(0).
type LogSoftmax struct{ out savedOutput }

// NewLogSoftmax returns a LogSoftmax layer.
func NewLogSoftmax() *LogSoftmax { return &LogSoftmax{} }

// Kind returns "LogSoftmax".
func (l *LogSoftmax) Kind() string { return "LogSoftmax" }

// OutputShape returns the input shape, whose last dimension must be non-empty.
func (l *LogSoftmax) OutputShape(inputs [][]int) ([]int, error) {
	return lastDimShape(l.Kind(), inputs)
}

// Forward applies log-softmax over the last dimension.
func (l *LogSoftmax) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	return l.out.forward(l.Kind(), inputs, mode, true)
}

// Backward returns gradOut - exp(y)·sum(gradOut) row by row.
func (l *LogSoftmax) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	return l.out.backward(l.Kind(), gradOut, func(d, g, y []float32) {
		var sum float64
		for j := range y {
			sum += float64(g[j])
		}
		for j := range y {
			d[j] = float32(float64(g[j]) - math.Exp(float64(y[j]))*sum)
		}
	})
}

// Params returns nil: LogSoftmax has no parameters.
func (l *LogSoftmax) Params() []*Param { return nil }

// Clone returns a new LogSoftmax.
func (l *LogSoftmax) Clone() Layer { return NewLogSoftmax() }

// Attrs returns an empty attribute set.
func (l *LogSoftmax) Attrs() any { return noAttrs{} }

// savedOutput is the state of Softmax and LogSoftmax, whose gradients are
// written in terms of their output.
type savedOutput struct {
	y *tensor.Tensor // copy of the output of the last Train-mode Forward
}

// forward computes softmax (or, with logOut, log-softmax) of the single
// input and, in Train mode, keeps a copy of the output.
func (s *savedOutput) forward(kind string, inputs []*tensor.Tensor, mode Mode, logOut bool) (*tensor.Tensor, error) {
	y, err := softmaxForward(kind, inputs, logOut)
	if err != nil {
		return nil, err
	}
	if mode == Train {
		s.y = y.Clone()
	}
	return y, nil
}

// backward checks gradOut against the saved output and returns the input
// gradient that rowGrad fills one row along the last dimension at a time,
// given that row of the input gradient d, of gradOut g and of the output y.
func (s *savedOutput) backward(kind string, gradOut *tensor.Tensor, rowGrad func(d, g, y []float32)) ([]*tensor.Tensor, error) {
	if s.y == nil {
		return nil, noForwardError(kind)
	}
	if err := checkGradOut(kind, gradOut, s.y.Shape()); err != nil {
		return nil, err
	}
	dx := tensor.New(s.y.Shape()...)
	d, g, y := dx.Data(), gradOut.Data(), s.y.Data()
	cols := s.y.Dim(s.y.Dims() - 1)
	for r := 0; r < len(y); r += cols {
		rowGrad(d[r:r+cols], g[r:r+cols], y[r:r+cols])
	}
	return []*tensor.Tensor{dx}, nil
}

// lastDimShape is the OutputShape of Softmax and LogSoftmax: the input
// shape, which must have a non-empty last dimension.
func lastDimShape(kind string, inputs [][]int) ([]int, error) {
	s, err := oneShape(kind, inputs)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 || s[len(s)-1] == 0 {
		return nil, shapeErrorf(kind, "input shape %s has no last dimension to normalize over", batchShape(s))
	}
	return append([]int(nil), s...), nil
}

// softmaxForward computes softmax (or log-softmax) over the last dimension
// of the single input, which must have a non-empty last dimension besides
// the batch.
func softmaxForward(kind string, inputs []*tensor.Tensor, logOut bool) (*tensor.Tensor, error) {
	x, err := oneInput(kind, inputs)
	if err != nil {
		return nil, err
	}
	if x.Dims() < 2 || x.Dim(x.Dims()-1) == 0 {
		return nil, shapeErrorf(kind, "input shape %v has no last dimension to normalize over besides the batch", x.Shape())
	}
	cols := x.Dim(x.Dims() - 1)
	y := tensor.New(x.Shape()...)
	xd, yd := x.Data(), y.Data()
	for r := 0; r < len(xd); r += cols {
		row := xd[r : r+cols]
		m := float64(row[0])
		for _, v := range row[1:] {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		if logOut {
			ls := math.Log(sum)
			for j, v := range row {
				yd[r+j] = float32(float64(v) - m - ls)
			}
			continue
		}
		for j, v := range row {
			yd[r+j] = float32(math.Exp(float64(v)-m) / sum)
		}
	}
	return y, nil
}
