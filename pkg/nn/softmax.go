package nn

import (
	"encoding/json"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Softmax", func(raw json.RawMessage) (Layer, error) {
		if err := decodeAttrs("Softmax", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewSoftmax(), nil
	})
	Register("LogSoftmax", func(raw json.RawMessage) (Layer, error) {
		if err := decodeAttrs("LogSoftmax", raw, &noAttrs{}); err != nil {
			return nil, err
		}
		return NewLogSoftmax(), nil
	})
}

// Softmax maps each row along the last dimension to exp(x_i)/sum_j exp(x_j).
// The row maximum is subtracted first and the sum is taken in float64, so
// large inputs do not overflow.
type Softmax struct {
	y *tensor.Tensor // copy of the output of the last Train-mode Forward
}

// NewSoftmax returns a Softmax layer.
func NewSoftmax() *Softmax { return &Softmax{} }

// Kind returns "Softmax".
func (l *Softmax) Kind() string { return "Softmax" }

// OutputShape returns the input shape, which needs at least one dimension.
func (l *Softmax) OutputShape(inputs [][]int) ([]int, error) {
	return lastDimShape(l.Kind(), inputs)
}

// Forward applies softmax over the last dimension.
func (l *Softmax) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	y, err := softmaxForward(l.Kind(), inputs, false)
	if err != nil {
		return nil, err
	}
	if mode == Train {
		l.y = y.Clone()
	}
	return y, nil
}

// Backward returns y·(gradOut - sum(gradOut·y)) row by row.
func (l *Softmax) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.y == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.y.Shape()); err != nil {
		return nil, err
	}
	dx := tensor.New(l.y.Shape()...)
	d, g, y := dx.Data(), gradOut.Data(), l.y.Data()
	cols := l.y.Dim(l.y.Dims() - 1)
	for r := 0; r < len(y); r += cols {
		var dot float64
		for j := r; j < r+cols; j++ {
			dot += float64(g[j]) * float64(y[j])
		}
		for j := r; j < r+cols; j++ {
			d[j] = float32(float64(y[j]) * (float64(g[j]) - dot))
		}
	}
	return []*tensor.Tensor{dx}, nil
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
type LogSoftmax struct {
	y *tensor.Tensor // copy of the output of the last Train-mode Forward
}

// NewLogSoftmax returns a LogSoftmax layer.
func NewLogSoftmax() *LogSoftmax { return &LogSoftmax{} }

// Kind returns "LogSoftmax".
func (l *LogSoftmax) Kind() string { return "LogSoftmax" }

// OutputShape returns the input shape, which needs at least one dimension.
func (l *LogSoftmax) OutputShape(inputs [][]int) ([]int, error) {
	return lastDimShape(l.Kind(), inputs)
}

// Forward applies log-softmax over the last dimension.
func (l *LogSoftmax) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	y, err := softmaxForward(l.Kind(), inputs, true)
	if err != nil {
		return nil, err
	}
	if mode == Train {
		l.y = y.Clone()
	}
	return y, nil
}

// Backward returns gradOut - exp(y)·sum(gradOut) row by row.
func (l *LogSoftmax) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.y == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := checkGradOut(l.Kind(), gradOut, l.y.Shape()); err != nil {
		return nil, err
	}
	dx := tensor.New(l.y.Shape()...)
	d, g, y := dx.Data(), gradOut.Data(), l.y.Data()
	cols := l.y.Dim(l.y.Dims() - 1)
	for r := 0; r < len(y); r += cols {
		var sum float64
		for j := r; j < r+cols; j++ {
			sum += float64(g[j])
		}
		for j := r; j < r+cols; j++ {
			d[j] = float32(float64(g[j]) - math.Exp(float64(y[j]))*sum)
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns nil: LogSoftmax has no parameters.
func (l *LogSoftmax) Params() []*Param { return nil }

// Clone returns a new LogSoftmax.
func (l *LogSoftmax) Clone() Layer { return NewLogSoftmax() }

// Attrs returns an empty attribute set.
func (l *LogSoftmax) Attrs() any { return noAttrs{} }

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
