package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("BatchNorm2D", func(raw json.RawMessage, limit int) (Layer, error) {
		a := BatchNorm2DAttrs{Eps: 1e-5, Momentum: 0.1}
		if err := decodeAttrs("BatchNorm2D", raw, &a); err != nil {
			return nil, err
		}
		l := &BatchNorm2D{C: a.C, Eps: a.Eps, Momentum: a.Momentum}
		if err := l.checkHyper(); err != nil {
			return nil, err
		}
		if err := reserve("BatchNorm2D", limit, []int{a.C}, []int{a.C}, []int{a.C}, []int{a.C}); err != nil {
			return nil, err
		}
		d := NewBatchNorm2D(a.C)
		l.Gamma, l.Beta, l.RunningMean, l.RunningVar = d.Gamma, d.Beta, d.RunningMean, d.RunningVar
		return l, nil
	})
}

// BatchNorm2D normalizes each channel of an input [N, C, H, W], as
// torch.nn.BatchNorm2d with affine parameters and tracked statistics:
//
//	y = (x - mean) / sqrt(var + Eps) * Gamma + Beta
//
// In Train mode mean and var are the batch's, over N, H and W (var biased),
// and the running statistics are updated as
//
//	RunningMean = (1 - Momentum)·RunningMean + Momentum·mean
//	RunningVar  = (1 - Momentum)·RunningVar  + Momentum·var·M/(M-1)
//
// with M = N·H·W values per channel (the unbiased variance), so training
// needs M > 1. In Eval mode mean and var are RunningMean and RunningVar.
// Statistics are accumulated in float64.
type BatchNorm2D struct {
	// C is the channel count.
	C int
	// Eps is added to the variance; Momentum weighs the batch statistics
	// in the running ones.
	Eps, Momentum float32
	// Gamma and Beta, of shape [C], are the trainable scale and shift.
	Gamma, Beta *Param
	// RunningMean and RunningVar, of shape [C], are buffers with a nil Grad.
	RunningMean, RunningVar *Param

	shape  []int     // input shape of the last Train-mode Forward; nil before
	xhat   []float32 // normalized input of that pass
	invStd []float64 // 1/sqrt(var+Eps) per channel of that pass
}

// BatchNorm2DAttrs are the hyperparameters BatchNorm2D saves.
type BatchNorm2DAttrs struct {
	C        int     `json:"channels"` // BatchNorm2D.C
	Eps      float32 `json:"eps"`      // BatchNorm2D.Eps; 1e-5 if absent
	Momentum float32 `json:"momentum"` // BatchNorm2D.Momentum; 0.1 if absent
}

// NewBatchNorm2D returns a BatchNorm2D over c channels with PyTorch's
// defaults: Eps 1e-5, Momentum 0.1, Gamma 1, Beta 0, RunningMean 0 and
// RunningVar 1. It panics if c is not positive.
func NewBatchNorm2D(c int) *BatchNorm2D {
	if c <= 0 {
		panic(fmt.Sprintf("nn: NewBatchNorm2D: %d channels, want a positive number", c))
	}
	l := &BatchNorm2D{
		C: c, Eps: 1e-5, Momentum: 0.1,
		Gamma:       newParam("gamma", c),
		Beta:        newParam("beta", c),
		RunningMean: newParam("running_mean", c),
		RunningVar:  newParam("running_var", c),
	}
	l.Gamma.Value.Fill(1)
	l.RunningVar.Value.Fill(1)
	return l
}

// Kind returns "BatchNorm2D".
func (l *BatchNorm2D) Kind() string { return "BatchNorm2D" }

func (l *BatchNorm2D) checkHyper() error {
	eps, m := float64(l.Eps), float64(l.Momentum)
	if l.C <= 0 || !(eps >= 0) || math.IsInf(eps, 1) || !(m >= 0 && m <= 1) {
		return configErrorf(l.Kind(), "%d channels, eps %g, momentum %g: want channels > 0, finite eps >= 0, momentum in [0, 1]",
			l.C, l.Eps, l.Momentum)
	}
	return nil
}

func (l *BatchNorm2D) check() error {
	if err := l.checkHyper(); err != nil {
		return err
	}
	for _, p := range []struct {
		what string
		p    *Param
	}{{"gamma", l.Gamma}, {"beta", l.Beta}, {"running mean", l.RunningMean}, {"running variance", l.RunningVar}} {
		if err := checkParam(l.Kind(), p.what, p.p, l.C); err != nil {
			return err
		}
	}
	return nil
}

func (l *BatchNorm2D) fits(s []int) bool { return len(s) == 3 && s[0] == l.C }

// OutputShape returns the input shape [C, H, W].
func (l *BatchNorm2D) OutputShape(inputs [][]int) ([]int, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if !l.fits(s) {
		return nil, shapeErrorf(l.Kind(), "input shape %s does not fit %d channels [N %d H W]", batchShape(s), l.C, l.C)
	}
	return slices.Clone(s), nil
}

// Forward normalizes x [N, C, H, W] with batch statistics (Train, which
// also updates the running statistics) or running statistics (Eval).
func (l *BatchNorm2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if !l.fits(shape[1:]) {
		return nil, shapeErrorf(l.Kind(), "input shape %v does not fit %d channels [N %d H W]", shape, l.C, l.C)
	}
	n, hw := shape[0], shape[2]*shape[3]
	y := tensor.New(shape...)
	xd, yd := x.Data(), y.Data()
	gamma, beta := l.Gamma.Value.Data(), l.Beta.Value.Data()
	rm, rv := l.RunningMean.Value.Data(), l.RunningVar.Value.Data()
	if mode == Eval {
		// One pass per channel over its N planes, C·H·W apart.
		for c := range l.C {
			e := f32gemm.Epilogue{Affine: true}
			e.Scale, e.Shift = l.evalAffine(c)
			e.Apply(yd[c*hw:], l.C*hw, xd[c*hw:], l.C*hw, n, hw)
		}
		return y, nil
	}
	m := n * hw
	if m < 2 {
		return nil, shapeErrorf(l.Kind(), "input shape %v: training needs more than 1 value per channel", shape)
	}
	xhat := make([]float32, len(xd))
	invStd := make([]float64, l.C)
	mom := float64(l.Momentum)
	workpool.For(l.C, workpool.Workers(l.C, 0), func(_, c int) {
		var sum float64
		for i := range n {
			off := (i*l.C + c) * hw
			for _, v := range xd[off : off+hw] {
				sum += float64(v)
			}
		}
		mean := sum / float64(m)
		var ss float64
		for i := range n {
			off := (i*l.C + c) * hw
			for _, v := range xd[off : off+hw] {
				d := float64(v) - mean
				ss += d * d
			}
		}
		variance := ss / float64(m)
		is := 1 / math.Sqrt(variance+float64(l.Eps))
		invStd[c] = is
		g, b := float64(gamma[c]), float64(beta[c])
		for i := range n {
			off := (i*l.C + c) * hw
			for j, v := range xd[off : off+hw] {
				h := (float64(v) - mean) * is
				xhat[off+j] = float32(h)
				yd[off+j] = float32(h*g + b)
			}
		}
		rm[c] = float32((1-mom)*float64(rm[c]) + mom*mean)
		rv[c] = float32((1-mom)*float64(rv[c]) + mom*variance*float64(m)/float64(m-1))
	})
	l.shape, l.xhat, l.invStd = shape, xhat, invStd
	return y, nil
}

// evalAffine returns the Eval-mode normalization of channel c as
// y = float32(float64(float64(x)·scale) + shift): scale = Gamma/sqrt(
// RunningVar + Eps) and shift = Beta - RunningMean·scale, in float64, each
// operation rounded on its own.
func (l *BatchNorm2D) evalAffine(c int) (scale, shift float64) {
	gamma, beta := l.Gamma.Value.Data(), l.Beta.Value.Data()
	rm, rv := l.RunningMean.Value.Data(), l.RunningVar.Value.Data()
	scale = float64(gamma[c]) / math.Sqrt(float64(rv[c])+float64(l.Eps))
	shift = float64(beta[c]) - float64(float64(rm[c])*scale)
	return scale, shift
}

// Backward adds the Gamma and Beta gradients and returns the input gradient
// of the Train-mode normalization with batch statistics.
func (l *BatchNorm2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.shape == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	if !l.fits(l.shape[1:]) {
		return nil, shapeErrorf(l.Kind(), "recorded input shape %v does not fit %d channels", l.shape, l.C)
	}
	if err := checkGradOut(l.Kind(), gradOut, l.shape); err != nil {
		return nil, err
	}
	n, hw := l.shape[0], l.shape[2]*l.shape[3]
	m := float64(n * hw)
	dx := tensor.New(l.shape...)
	g, d := gradOut.Data(), dx.Data()
	gamma := l.Gamma.Value.Data()
	dgamma, dbeta := gradOf(l.Gamma), gradOf(l.Beta)
	workpool.For(l.C, workpool.Workers(l.C, 0), func(_, c int) {
		var sumDy, sumDyXhat float64
		for i := range n {
			off := (i*l.C + c) * hw
			for j, v := range g[off : off+hw] {
				sumDy += float64(v)
				sumDyXhat += float64(v) * float64(l.xhat[off+j])
			}
		}
		dgamma[c] += float32(sumDyXhat)
		dbeta[c] += float32(sumDy)
		k := float64(gamma[c]) * l.invStd[c] / m
		for i := range n {
			off := (i*l.C + c) * hw
			for j, v := range g[off : off+hw] {
				d[off+j] = float32(k * (m*float64(v) - sumDy - float64(l.xhat[off+j])*sumDyXhat))
			}
		}
	})
	return []*tensor.Tensor{dx}, nil
}

// Params returns Gamma, then Beta.
func (l *BatchNorm2D) Params() []*Param { return []*Param{l.Gamma, l.Beta} }

// Buffers returns RunningMean, then RunningVar.
func (l *BatchNorm2D) Buffers() []*Param { return []*Param{l.RunningMean, l.RunningVar} }

// Clone returns a deep copy, running statistics included, without the
// record of a forward pass.
func (l *BatchNorm2D) Clone() Layer {
	return &BatchNorm2D{C: l.C, Eps: l.Eps, Momentum: l.Momentum,
		Gamma: cloneParam(l.Gamma), Beta: cloneParam(l.Beta),
		RunningMean: cloneParam(l.RunningMean), RunningVar: cloneParam(l.RunningVar)}
}

// Attrs returns the layer's BatchNorm2DAttrs.
func (l *BatchNorm2D) Attrs() any {
	return BatchNorm2DAttrs{C: l.C, Eps: l.Eps, Momentum: l.Momentum}
}
