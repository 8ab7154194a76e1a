package nn

import (
	"sync"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// bufPool recycles the storage of the inner tensors of Eval-mode graph
// passes (Graph.runEval): the outputs of fused Conv2D blocks, which nobody
// outside the pass sees, are returned at its end and reused by the next
// pass of the same shape, so that a steady stream of batches does not
// allocate, zero and collect megabytes per batch. Buffers are kept per
// length; a sync.Pool per length lets concurrent passes share them and
// lets the garbage collector drop them when they go unused.
type bufPool struct {
	byLen sync.Map // int -> *sync.Pool of *[]float32
}

// evalBufs is the pool of every graph's Eval-mode passes.
var evalBufs bufPool

func (p *bufPool) pool(n int) *sync.Pool {
	if sp, ok := p.byLen.Load(n); ok {
		return sp.(*sync.Pool)
	}
	sp, _ := p.byLen.LoadOrStore(n, &sync.Pool{})
	return sp.(*sync.Pool)
}

// tensor returns a tensor of the given shape whose contents are
// unspecified (recycled storage, or new zeros): the caller overwrites
// every element.
func (p *bufPool) tensor(shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n == 0 {
		return tensor.New(shape...)
	}
	if b, ok := p.pool(n).Get().(*[]float32); ok {
		if t, err := tensor.FromData(*b, shape...); err == nil {
			return t
		}
	}
	return tensor.New(shape...)
}

// put gives t's storage back for reuse. Nothing may use t afterwards.
func (p *bufPool) put(t *tensor.Tensor) {
	if t == nil || t.Len() == 0 {
		return
	}
	d := t.Data()
	p.pool(len(d)).Put(&d)
}
