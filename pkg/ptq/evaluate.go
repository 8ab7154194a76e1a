package ptq

import (
	"context"
	"fmt"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Forwarder is anything that maps an FP32 batch to FP32 outputs: a
// quantized Model, or an FP32 graph in Eval mode (see FP32Model).
type Forwarder interface {
	Forward(x *tensor.Tensor) (*tensor.Tensor, error)
}

// FP32Model adapts an FP32 graph to a Forwarder that runs it in Eval mode.
func FP32Model(g *nn.Graph) Forwarder { return fp32Forwarder{g} }

type fp32Forwarder struct{ g *nn.Graph }

func (f fp32Forwarder) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if f.g == nil {
		return nil, errNilModel("FP32 model")
	}
	return f.g.Forward(x, nn.Eval)
}

// ctxForwarder runs f while ctx is live: each batch checks ctx first, so
// that an evaluation stops within one batch of a cancellation.
type ctxForwarder struct {
	ctx context.Context
	f   Forwarder
}

func (c ctxForwarder) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return c.f.Forward(x)
}

// outputsInBatches runs f over x in batches of size bs, in parallel over
// GOMAXPROCS workers, and returns the outputs concatenated in order.
func outputsInBatches(f Forwarder, x *tensor.Tensor, bs int) (*tensor.Tensor, error) {
	if bs < 1 {
		bs = defaultEvalBatch
	}
	n := x.Dim(0)
	nb := (n + bs - 1) / bs
	outs := make([]*tensor.Tensor, nb)
	err := workpool.ForErr(nb, workpool.Workers(nb, 0), func(_, b int) error {
		xb, err := x.Slice(b*bs, min(n, (b+1)*bs))
		if err == nil {
			outs[b], err = f.Forward(xb)
		}
		if err != nil {
			return fmt.Errorf("batch %d: %w", b, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("ptq: no samples to evaluate: %w", ErrShape)
	}
	return tensor.Concat(outs...)
}

// Accuracy returns the fraction of samples of d whose largest output is
// their label, evaluating f on d in parallel batches of batchSize. It
// refuses a nil f (ErrNilModel), data without samples
// (ErrNoEvaluationData), without labels or with a label count that
// differs from the sample count (ErrShape), a batchSize below 1
// (ErrInvalidConfig), and a label outside [0, classes) where classes is
// the width of f's output (ErrShape).
func Accuracy(f Forwarder, d Data, batchSize int) (float64, error) {
	if isNil(f) {
		return 0, fmt.Errorf("ptq: accuracy: %w", ErrNilModel)
	}
	if err := d.check("accuracy"); err != nil {
		return 0, err
	}
	if d.Labels == nil {
		return 0, fmt.Errorf("ptq: accuracy: no labels for data of shape %v: %w", d.X.Shape(), ErrShape)
	}
	if batchSize < 1 {
		return 0, fmt.Errorf("ptq: accuracy: batch size %d, want >= 1: %w", batchSize, ErrInvalidConfig)
	}
	x, labels := d.X, d.Labels
	out, err := outputsInBatches(f, x, batchSize)
	if err != nil {
		return 0, fmt.Errorf("ptq: accuracy: %w", err)
	}
	classes := out.RowLen()
	for i, y := range labels {
		if y < 0 || y >= classes {
			return 0, fmt.Errorf("ptq: accuracy: sample %d has label %d, want one in [0, %d): %w", i, y, classes, ErrShape)
		}
	}
	v := out.Data()
	correct := 0
	for i, y := range labels {
		row := v[i*classes : (i+1)*classes]
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

// isNil reports whether f is nil or a nil pointer of a Forwarder this
// package defines.
func isNil(f Forwarder) bool {
	switch f := f.(type) {
	case nil:
		return true
	case *Model:
		return f == nil
	case fp32Forwarder:
		return f.g == nil
	}
	return false
}
