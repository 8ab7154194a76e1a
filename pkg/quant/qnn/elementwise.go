package qnn

import (
	"fmt"
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Add sums int8 tensors of one shape, each with its own qparams, onto the
// output's grid: y = saturate(round(Σ sᵢ/sOut·(qᵢ - zᵢ)) + zOut). Every input
// is thereby brought to the output's scale, which is how the two branches
// of a residual block meet.
func Add(out Act, xs ...*Tensor) (*Tensor, error) {
	if len(xs) < 2 {
		return nil, fmt.Errorf("qnn: Add needs at least two inputs, got %d: %w", len(xs), quant.ErrShape)
	}
	for _, x := range xs[1:] {
		if !slices.Equal(x.Shape, xs[0].Shape) {
			return nil, fmt.Errorf("qnn: Add: input shapes %v and %v differ: %w", xs[0].Shape, x.Shape, quant.ErrShape)
		}
	}
	ratio := make([]float64, len(xs))
	for i, x := range xs {
		ratio[i] = float64(x.Act.Scale) / float64(out.Scale)
	}
	y := &Tensor{Shape: slices.Clone(xs[0].Shape), Data: make([]int8, len(xs[0].Data)), Act: out}
	for j := range y.Data {
		var v float64
		for i, x := range xs {
			v += ratio[i] * float64(int32(x.Data[j])-x.Act.Zero)
		}
		y.Data[j] = int8(quant.Saturate(int32(math.RoundToEven(v))+out.Zero, out.Min, out.Max))
	}
	return y, nil
}

// ReLU clamps codes below the zero point (real 0) to it.
func ReLU(x *Tensor) *Tensor {
	y := &Tensor{Shape: slices.Clone(x.Shape), Data: make([]int8, len(x.Data)), Act: x.Act}
	z := int8(x.Act.Zero)
	for i, q := range x.Data {
		y.Data[i] = max(q, z)
	}
	return y
}

// Reshape returns x with a new shape (same codes, same qparams).
func Reshape(x *Tensor, shape []int) *Tensor {
	return &Tensor{Shape: slices.Clone(shape), Data: x.Data, Act: x.Act}
}
