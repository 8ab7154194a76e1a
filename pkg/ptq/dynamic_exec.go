package ptq

import (
	"fmt"
	"sync"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// How a dynamically quantized chain runs with fewer fresh buffers.
//
// Run step by step (Model.run), a dynamic MLP allocates every node's
// output: Flatten's copy of the input, each DynamicLinear's and each
// ReLU's output. On this VM a fresh large buffer costs page faults on
// first touch, which dominated `ptq bench`'s dynamic MLP. A dynamic model
// whose steps form one chain from the input to the output (each step
// reading the one before; no Add) runs instead on two buffers recycled
// between calls: Flatten, Dropout and Identity pass their input through
// (in eval they copy it unchanged), ReLU rewrites its input in place with
// nn.ReLU's rule (+0 for v <= 0, v itself otherwise, NaN included), each
// DynamicLinear or DynamicConv2D writes the buffer its input is not in
// (ForwardInto), and other FP32 layers (BatchNorm2D, pooling, and a ReLU
// after one of them, whose vectorised nn form beats the in-place loop
// there) run as Model.run runs them, on the same values and shape. An MLP
// then allocates only its result; SmallCNN its FP32 layers' outputs. The outputs are those of Model.run bit for bit; errors too,
// since the input is checked the same way and steps' errors are wrapped
// the same way; anything else falls back to Model.run.

// dynamicBuffers are the two FP32 buffers a dynamic chain alternates
// between.
type dynamicBuffers struct{ a, b []float32 }

// dynamicBufferPool recycles dynamicBuffers across calls and models.
var dynamicBufferPool sync.Pool // of *dynamicBuffers

// dynamicChain reports whether m runs on forwardDynamicChain: a dynamic
// model whose steps form one chain from the input to the output, each of
// one input, whose dynamic kernels' shapes fit.
func (m *Model) dynamicChain() bool {
	if m.mode != ModeDynamic || len(m.steps) == 0 || m.steps[len(m.steps)-1].name != m.output {
		return false
	}
	prev, shape := m.input, m.inputShape
	for _, s := range m.steps {
		if len(s.inputs) != 1 || s.inputs[0] != prev {
			return false
		}
		switch s.op {
		case opDynamic:
			k, ok := s.kernel.(*qnn.DynamicLinear)
			if !ok || len(shape) != 1 || shape[0] != k.In {
				return false
			}
		case opDynamicConv2D:
			k, ok := s.kernel.(*qnn.DynamicConv2D)
			if !ok || len(shape) != 3 || shape[0] != k.InC || len(s.shape) != 3 || s.shape[0] != k.OutC {
				return false
			}
		case opFP32:
		default:
			return false
		}
		prev, shape = s.name, s.shape
	}
	return true
}

// Where forwardDynamicChain's current values are.
const (
	inX     = iota // the caller's input: read only
	inA            // bufs.a
	inB            // bufs.b
	inFresh        // a new output of an FP32 layer, ours to rewrite
)

// forwardDynamicChain runs x through a dynamic chain (see above) and
// reports whether it did; when m is not one, or x is an empty batch or
// does not fit, the caller runs Model.run.
func (m *Model) forwardDynamicChain(x *tensor.Tensor) (*tensor.Tensor, bool, error) {
	if !m.dynamicChain() || !m.inputFits(x) || x.Dim(0) == 0 {
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
	cur, in := x.Data(), inX
	shape := append([]int{n}, m.inputShape...) // the batch shape of cur
	for _, s := range m.steps {
		var err error
		switch s.op {
		case opDynamic, opDynamicConv2D:
			dst, to := &bufs.a, inA
			if in == inA {
				dst, to = &bufs.b, inB
			}
			*dst = growFloats(*dst, n*numel(s.shape))
			if k, ok := s.kernel.(*qnn.DynamicLinear); ok {
				err = k.ForwardInto(*dst, cur, n)
			} else {
				err = s.kernel.(*qnn.DynamicConv2D).ForwardInto(*dst, cur, shape)
			}
			cur, in = *dst, to
			shape = append(shape[:1], s.shape...)
		case opFP32:
			_, isReLU := s.fp32.(*nn.ReLU)
			switch s.fp32.(type) {
			case *nn.Flatten, *nn.Dropout, *nn.Identity:
				// The same values (in eval these layers copy their input).
				shape = append(shape[:1], s.shape...)
			case *nn.ReLU:
				if in == inFresh {
					isReLU = false
					break
				}
				if in == inX {
					bufs.a = growFloats(bufs.a, len(cur))
					copy(bufs.a, cur)
					cur, in = bufs.a, inA
				}
				reluInPlace(cur)
			}
			if !isReLU && !passThrough(s.fp32) {
				var t, y *tensor.Tensor
				if t, err = tensor.FromData(cur, shape...); err == nil {
					y, err = s.fp32.Forward([]*tensor.Tensor{t}, nn.Eval)
				}
				if err == nil {
					yd := y.Data()
					if len(yd) == 0 || len(cur) == 0 || &yd[0] != &cur[0] {
						in = inFresh
					}
					cur, shape = yd, append(shape[:0], y.Shape()...)
				}
			}
		}
		if err != nil {
			return nil, true, fmt.Errorf("ptq: node %q (%s): %w", s.name, s.kind, err)
		}
	}
	if in == inFresh {
		y, err := tensor.FromData(cur, shape...)
		return y, true, err
	}
	y := tensor.New(shape...)
	copy(y.Data(), cur)
	return y, true, nil
}

// passThrough reports whether l is Flatten, Dropout or Identity.
func passThrough(l nn.Layer) bool {
	switch l.(type) {
	case *nn.Flatten, *nn.Dropout, *nn.Identity:
		return true
	}
	return false
}

// reluInPlace applies nn.ReLU's rule to v: +0 where v <= 0, v itself
// otherwise (NaN included), which is Go's max(v, 0) (NaN for NaN, +0 for
// -0), computed without a branch on the data.
func reluInPlace(v []float32) {
	for i, f := range v {
		v[i] = max(f, 0)
	}
}

// growFloats returns s with length n, reallocated only when too short.
func growFloats(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
