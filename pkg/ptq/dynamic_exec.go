package ptq

import (
	"fmt"
	"sync"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// How a dynamically quantized chain runs without fresh buffers.
//
// Run step by step (Model.run), a dynamic MLP allocates every node's
// output: Flatten's copy of the input, each DynamicLinear's and each
// ReLU's output. On this VM a fresh large buffer costs page faults on
// first touch, which dominated `ptq bench`'s dynamic MLP. A dynamic model
// whose steps form one chain from the input to the output of only
// DynamicLinear, ReLU, Flatten, Dropout and Identity (FP32, eval) runs
// instead on two buffers recycled between calls: Flatten, Dropout and
// Identity pass their input through (in eval they copy it unchanged),
// ReLU rewrites its input in place with nn.ReLU's rule (+0 for v <= 0, v
// itself otherwise, NaN included), and each DynamicLinear writes the other
// buffer (DynamicLinear.ForwardInto). Only the result is allocated. The
// outputs are those of Model.run bit for bit; errors too, since the input
// is checked the same way and anything else falls back to Model.run.

// dynamicBuffers are the two FP32 buffers a dynamic chain alternates
// between.
type dynamicBuffers struct{ a, b []float32 }

// dynamicBufferPool recycles dynamicBuffers across calls and models.
var dynamicBufferPool sync.Pool // of *dynamicBuffers

// dynamicChain reports whether m runs on forwardDynamicChain: a dynamic
// model whose steps form one chain of the supported kinds whose shapes
// fit, and returns the per-sample output shape.
func (m *Model) dynamicChain() ([]int, bool) {
	if m.mode != ModeDynamic || len(m.steps) == 0 || m.steps[len(m.steps)-1].name != m.output {
		return nil, false
	}
	prev, shape := m.input, m.inputShape
	for _, s := range m.steps {
		if len(s.inputs) != 1 || s.inputs[0] != prev {
			return nil, false
		}
		switch s.op {
		case opDynamic:
			k, ok := s.kernel.(*qnn.DynamicLinear)
			if !ok || len(shape) != 1 || shape[0] != k.In {
				return nil, false
			}
			shape = []int{k.Out}
		case opFP32:
			switch s.fp32.(type) {
			case *nn.Flatten:
				shape = []int{numel(shape)}
			case *nn.ReLU, *nn.Dropout, *nn.Identity:
			default:
				return nil, false
			}
		default:
			return nil, false
		}
		prev = s.name
	}
	return shape, true
}

// forwardDynamicChain runs x through a dynamic chain (see above) and
// reports whether it did; when m is not one, or x is an empty batch or
// does not fit, the caller runs Model.run.
func (m *Model) forwardDynamicChain(x *tensor.Tensor) (*tensor.Tensor, bool, error) {
	outShape, ok := m.dynamicChain()
	if !ok || !m.inputFits(x) || x.Dim(0) == 0 {
		return nil, false, nil
	}
	if err := checkInput(x, m.inputShape, "forward", m.readers(m.input)); err != nil {
		return nil, true, err
	}
	n := x.Dim(0)
	bufs, _ := dynamicBufferPool.Get().(*dynamicBuffers)
	if bufs == nil {
		bufs = new(dynamicBuffers)
	}
	defer dynamicBufferPool.Put(bufs)
	// in says where the current values are: 0 in x, 1 in bufs.a, 2 in
	// bufs.b.
	cur, in := x.Data(), 0
	for _, s := range m.steps {
		switch s.op {
		case opDynamic:
			k := s.kernel.(*qnn.DynamicLinear)
			dst, to := &bufs.a, 1
			if in == 1 {
				dst, to = &bufs.b, 2
			}
			*dst = growFloats(*dst, n*k.Out)
			if err := k.ForwardInto(*dst, cur, n); err != nil {
				return nil, true, fmt.Errorf("ptq: node %q (%s): %w", s.name, s.kind, err)
			}
			cur, in = *dst, to
		case opFP32:
			if _, isReLU := s.fp32.(*nn.ReLU); !isReLU {
				continue // Flatten, Dropout, Identity: the same values
			}
			if in == 0 {
				bufs.a = growFloats(bufs.a, len(cur))
				copy(bufs.a, cur)
				cur, in = bufs.a, 1
			}
			reluInPlace(cur)
		}
	}
	y := tensor.New(append([]int{n}, outShape...)...)
	copy(y.Data(), cur)
	return y, true, nil
}

// reluInPlace applies nn.ReLU's rule to v: +0 where v <= 0, v itself
// otherwise (NaN included).
func reluInPlace(v []float32) {
	for i, f := range v {
		if f <= 0 {
			v[i] = 0
		}
	}
}

// growFloats returns s with length n, reallocated only when too short.
func growFloats(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
