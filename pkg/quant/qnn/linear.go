package qnn

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Linear is the int8 twin of nn.Linear: y = requant(x·Wᵀ + b).
type Linear struct {
	In, Out int
	W       Weights // [Out, In]
	InAct   Act
	OutAct  Act
	ReLU    bool // a fused ReLU clamps the output at its zero point
	rq      Requantizer
	// wt is W packed once for the GEMM: the weights are the constant
	// operand of every call.
	wt *quant.PackedB
}

// NewLinear builds the kernel from quantized weights [out, in], a float
// bias (or nil), the input's and the output's qparams.
func NewLinear(w Weights, in, out int, bias []float32, inAct, outAct Act, relu bool) (*Linear, error) {
	return newLinear(w, in, out, inAct, outAct, relu, func() (Requantizer, error) {
		return newRequantizer(inAct, w, outAct, bias, out, relu)
	})
}

// NewLinearInt32Bias is NewLinear with the bias already quantized: int32
// at scale sIn·sW[c] with zero point 0, as Int32Bias returns it, or nil.
// A kernel rebuilt from another's weights, qparams and Int32Bias computes
// exactly what the other does.
func NewLinearInt32Bias(w Weights, in, out int, bias []int32, inAct, outAct Act, relu bool) (*Linear, error) {
	return newLinear(w, in, out, inAct, outAct, relu, func() (Requantizer, error) {
		return int32BiasRequantizer(inAct, w, outAct, bias, out, relu)
	})
}

// newLinear checks the shapes, then builds the requantizer with rq.
func newLinear(w Weights, in, out int, inAct, outAct Act, relu bool, rq func() (Requantizer, error)) (*Linear, error) {
	if len(w.Data) != in*out {
		return nil, fmt.Errorf("qnn: Linear: %d weights for [%d %d]: %w", len(w.Data), out, in, quant.ErrShape)
	}
	if len(w.Scale) != 1 && len(w.Scale) != out {
		return nil, fmt.Errorf("qnn: Linear: %d weight scales for %d output features: %w", len(w.Scale), out, quant.ErrShape)
	}
	r, err := rq()
	if err != nil {
		return nil, fmt.Errorf("qnn: Linear: %w", err)
	}
	return &Linear{In: in, Out: out, W: w, InAct: inAct, OutAct: outAct, ReLU: relu, rq: r,
		wt: quant.PackBT(out, in, w.Data, w.Zero)}, nil
}

// int32BiasRequantizer is newRequantizer for a bias already in int32.
func int32BiasRequantizer(in Act, w Weights, out Act, bias []int32, channels int, relu bool) (Requantizer, error) {
	r, err := newRequantizer(in, w, out, nil, channels, relu)
	if err != nil || bias == nil {
		return r, err
	}
	if len(bias) != channels {
		return r, fmt.Errorf("qnn: bias has %d values for %d output channels: %w", len(bias), channels, quant.ErrShape)
	}
	r.Bias = slices.Clone(bias)
	r.mult32, r.bias32 = r.expand(channels)
	return r, nil
}

// Int32Bias returns a copy of the kernel's bias in int32 (scale sIn·sW[c],
// zero point 0), or nil for a kernel without bias.
func (l *Linear) Int32Bias() []int32 { return slices.Clone(l.rq.Bias) }

// Forward computes a batch of n rows; x is [n, In], the result [n, Out].
func (l *Linear) Forward(x *Tensor) (*Tensor, error) {
	if len(x.Shape) != 2 || x.Shape[1] != l.In {
		return nil, fmt.Errorf("qnn: Linear: input shape %v does not fit weight [%d %d]: %w", x.Shape, l.Out, l.In, quant.ErrShape)
	}
	if err := checkCodes("Linear", x); err != nil {
		return nil, err
	}
	n := x.Shape[0]
	if _, err := tensor.Numel([]int{n, l.Out}); err != nil {
		return nil, fmt.Errorf("qnn: Linear: output: %w", err)
	}
	acc := make([]int32, n*l.Out)
	quant.GemmIntPacked(n, x.Data, []int32{l.InAct.Zero}, l.wt, acc)
	y := &Tensor{Shape: []int{n, l.Out}, Data: make([]int8, n*l.Out), Act: l.OutAct}
	l.rq.requantize(acc, n, l.Out, y.Data, l.Out, 1)
	return y, nil
}

// Bytes is the storage of weights, scales and bias.
func (l *Linear) Bytes() int { return l.W.Bytes() + 4*len(l.rq.Bias) }
