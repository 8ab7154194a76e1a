package nn

import (
	"math"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// scalarParam returns a one-element parameter whose Grad is set by steps.
func scalarParam(w float32) *Param {
	return &Param{Name: "w", Value: tensor.MustFromData([]float32{w}, 1), Grad: tensor.New(1)}
}

func TestOptimizerSteps(t *testing.T) {
	const tol = 1e-6
	adamRef := func(lr, wd float64, w float64, grads []float64) float64 {
		const b1, b2, eps = 0.9, 0.999, 1e-8
		m, v := 0.0, 0.0
		for i, g := range grads {
			g += wd * w
			m = b1*m + (1-b1)*g
			v = b2*v + (1-b2)*g*g
			step := float64(i + 1)
			w -= lr * (m / (1 - math.Pow(b1, step))) / (math.Sqrt(v/(1-math.Pow(b2, step))) + eps)
		}
		return w
	}
	cases := []struct {
		name  string
		opt   func() Optimizer
		grads []float32
		want  float64
	}{
		{"sgd", func() Optimizer { return NewSGD(0.1, 0) }, []float32{0.5}, 0.95},
		{"sgd weight decay", func() Optimizer { o := NewSGD(0.1, 0); o.WeightDecay = 0.1; return o }, []float32{0.5}, 0.94},
		{"sgd momentum first step", func() Optimizer { return NewSGD(0.1, 0.9) }, []float32{0.5}, 0.95},
		{"sgd momentum second step", func() Optimizer { return NewSGD(0.1, 0.9) }, []float32{0.5, 0.5}, 0.855},
		{"sgd zero value", func() Optimizer { return &SGD{LR: 0.1, Momentum: 0.9} }, []float32{0.5, 0.5}, 0.855},
		{"adam constant gradient moves lr per step", func() Optimizer { return NewAdam(0.1) }, []float32{0.5, 0.5}, 0.8},
		{"adam varying gradient", func() Optimizer { return NewAdam(0.1) }, []float32{0.5, -1, 0.25}, adamRef(0.1, 0, 1, []float64{0.5, -1, 0.25})},
		{"adam weight decay", func() Optimizer { o := NewAdam(0.01); o.WeightDecay = 0.5; return o }, []float32{0.5, -1},
			adamRef(0.01, 0.5, 1, []float64{0.5, -1})},
		{"adam zero value uses its fields", func() Optimizer { return &Adam{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }, []float32{0.5, 0.5}, 0.8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt()
			p := scalarParam(1)
			for _, g := range c.grads {
				p.Grad.Data()[0] = g
				// A fresh wrapper per step, as Graph.Params returns: state
				// must follow the Value tensor.
				opt.Step([]*Param{{Name: p.Name, Value: p.Value, Grad: p.Grad}})
			}
			if got := float64(p.Value.Data()[0]); math.Abs(got-c.want) > tol {
				t.Errorf("w = %.7f, want %.7f", got, c.want)
			}
		})
	}
}

func TestOptimizerSkipsBuffers(t *testing.T) {
	for _, opt := range []Optimizer{NewSGD(0.1, 0.9), NewAdam(0.1)} {
		buf := &Param{Name: "running_mean", Value: tensor.MustFromData([]float32{3}, 1)}
		opt.Step([]*Param{buf})
		if buf.Value.Data()[0] != 3 {
			t.Errorf("%T changed a buffer to %g", opt, buf.Value.Data()[0])
		}
	}
}
