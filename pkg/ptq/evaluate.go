package ptq

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Forwarder is anything that maps an FP32 batch to FP32 outputs: a
// quantized Model, or an FP32 graph in Eval mode (see FP32Model).
type Forwarder interface {
	Forward(x *tensor.Tensor) (*tensor.Tensor, error)
}

// outputsInBatches runs f over x in batches of size bs, in parallel over
// GOMAXPROCS workers, and returns the outputs concatenated in order.
func outputsInBatches(f Forwarder, x *tensor.Tensor, bs int) (*tensor.Tensor, error) {
	if bs < 1 {
		bs = 256
	}
	n := x.Dim(0)
	nb := (n + bs - 1) / bs
	outs := make([]*tensor.Tensor, nb)
	errs := make([]error, nb)
	workers := min(runtime.GOMAXPROCS(0), nb)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := w; b < nb; b += workers {
				xb, err := x.Slice(b*bs, min(n, (b+1)*bs))
				if err == nil {
					outs[b], err = f.Forward(xb)
				}
				if err != nil {
					errs[b] = fmt.Errorf("batch %d: %w", b, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("ptq: no samples to evaluate: %w", ErrShape)
	}
	return tensor.Concat(outs...)
}

// Accuracy returns the fraction of samples whose largest output is the
// label, evaluating f on x in parallel batches.
func Accuracy(f Forwarder, x *tensor.Tensor, labels []int, batchSize int) (float64, error) {
	if x == nil || x.Dims() == 0 || x.Dim(0) != len(labels) || len(labels) == 0 {
		var shape []int
		if x != nil {
			shape = x.Shape()
		}
		return 0, fmt.Errorf("ptq: accuracy: %d labels for data of shape %v: %w", len(labels), shape, ErrShape)
	}
	out, err := outputsInBatches(f, x, batchSize)
	if err != nil {
		return 0, fmt.Errorf("ptq: accuracy: %w", err)
	}
	classes := out.RowLen()
	d := out.Data()
	correct := 0
	for i, y := range labels {
		row := d[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
	}
	return float64(correct) / float64(len(labels)), nil
}
