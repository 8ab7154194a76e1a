package nn

import (
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Optimizer updates parameters in place from their gradients. Optimizers
// with state (momentum, moment estimates) key it by the parameter's Value
// tensor, so the Params returned by different Graph.Params calls on one
// graph share state, and one optimizer must not be shared by two graphs
// trained at the same time.
type Optimizer interface {
	// Step applies one update to every parameter with a non-nil Grad.
	Step(params []*Param)
}

// LearningRater is implemented by optimizers whose learning rate can be
// scheduled, as Fit does with TrainConfig.LRDecay.
type LearningRater interface {
	LearningRate() float32
	SetLearningRate(lr float32)
}

// SGD is stochastic gradient descent with optional momentum and L2 weight
// decay, with PyTorch's update rule (no dampening, no Nesterov):
//
//	g = grad + WeightDecay*w
//	v = Momentum*v + g          (v = g on the first step)
//	w = w - LR*v
type SGD struct {
	LR          float32
	Momentum    float32
	WeightDecay float32

	velocity map[*tensor.Tensor][]float32
}

// NewSGD returns SGD with learning rate lr, the given momentum (0 for
// plain SGD) and no weight decay.
func NewSGD(lr, momentum float32) *SGD {
	return &SGD{LR: lr, Momentum: momentum, velocity: map[*tensor.Tensor][]float32{}}
}

// LearningRate returns LR.
func (o *SGD) LearningRate() float32 { return o.LR }

// SetLearningRate sets LR.
func (o *SGD) SetLearningRate(lr float32) { o.LR = lr }

// Step implements Optimizer.
func (o *SGD) Step(params []*Param) {
	if o.velocity == nil {
		o.velocity = map[*tensor.Tensor][]float32{}
	}
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		w, g := p.Value.Data(), p.Grad.Data()
		if o.Momentum == 0 {
			for i := range w {
				w[i] -= o.LR * (g[i] + o.WeightDecay*w[i])
			}
			continue
		}
		v, seen := o.velocity[p.Value]
		if !seen || len(v) != len(w) {
			v = make([]float32, len(w))
			o.velocity[p.Value] = v
		}
		for i := range w {
			gi := g[i] + o.WeightDecay*w[i]
			if seen {
				v[i] = o.Momentum*v[i] + gi
			} else {
				v[i] = gi
			}
			w[i] -= o.LR * v[i]
		}
	}
}

// Adam is the Adam optimizer (Kingma and Ba) with PyTorch's update rule;
// WeightDecay adds an L2 term to the gradient as torch.optim.Adam does:
//
//	g = grad + WeightDecay*w
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g*g
//	w = w - LR * (m/(1-Beta1^t)) / (sqrt(v/(1-Beta2^t)) + Eps)
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32

	state map[*tensor.Tensor]*adamState
}

type adamState struct {
	step int
	m, v []float32
}

// NewAdam returns Adam with learning rate lr and PyTorch's defaults:
// Beta1 0.9, Beta2 0.999, Eps 1e-8, no weight decay.
func NewAdam(lr float32) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, state: map[*tensor.Tensor]*adamState{}}
}

// LearningRate returns LR.
func (o *Adam) LearningRate() float32 { return o.LR }

// SetLearningRate sets LR.
func (o *Adam) SetLearningRate(lr float32) { o.LR = lr }

// Step implements Optimizer.
func (o *Adam) Step(params []*Param) {
	if o.state == nil {
		o.state = map[*tensor.Tensor]*adamState{}
	}
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		w, g := p.Value.Data(), p.Grad.Data()
		s := o.state[p.Value]
		if s == nil || len(s.m) != len(w) {
			s = &adamState{m: make([]float32, len(w)), v: make([]float32, len(w))}
			o.state[p.Value] = s
		}
		s.step++
		bc1 := 1 - math.Pow(float64(o.Beta1), float64(s.step))
		bc2 := 1 - math.Pow(float64(o.Beta2), float64(s.step))
		stepSize := float32(float64(o.LR) / bc1)
		sqrtBC2 := float32(math.Sqrt(bc2))
		b1, b2 := o.Beta1, o.Beta2
		for i := range w {
			gi := g[i] + o.WeightDecay*w[i]
			s.m[i] = b1*s.m[i] + (1-b1)*gi
			s.v[i] = b2*s.v[i] + (1-b2)*gi*gi
			denom := float32(math.Sqrt(float64(s.v[i])))/sqrtBC2 + o.Eps
			w[i] -= stepSize * s.m[i] / denom
		}
	}
}
