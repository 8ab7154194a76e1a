package quant

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// MovingAverageMinMaxObserver is PyTorch's MovingAverageMinMaxObserver (per-tensor
// spec) and MovingAveragePerChannelMinMaxObserver (per-channel spec): the
// first non-empty batch sets the range; each later batch moves it towards
// the batch's extremes, min += c·(batch_min - min), max likewise, in
// float32, with averaging constant c.
type MovingAverageMinMaxObserver struct{ r ranges }

// NewMovingAverageMinMaxObserver returns a moving-average observer with averaging
// constant c in (0, 1] (DefaultAveragingConstant is PyTorch's 0.01;
// c = 1 keeps only the last batch).
func NewMovingAverageMinMaxObserver(spec Spec, c float32) (*MovingAverageMinMaxObserver, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if !(c > 0 && c <= 1) {
		return nil, fmt.Errorf("quant: moving-average observer: averaging constant %v not in (0, 1]", c)
	}
	return &MovingAverageMinMaxObserver{r: newRanges("moving-average minmax", spec, c)}, nil
}

// Observe moves the range towards the batch's extremes.
func (o *MovingAverageMinMaxObserver) Observe(x *tensor.Tensor) error { return o.r.observe(x) }

// QParams returns ChooseQParams of the averaged range (per channel for a
// per-channel spec).
func (o *MovingAverageMinMaxObserver) QParams() (QParams, error) { return o.r.qparams() }

// Stats returns the counts and the averaged range.
func (o *MovingAverageMinMaxObserver) Stats() Stats { return o.r.stats() }

// Reset forgets all batches.
func (o *MovingAverageMinMaxObserver) Reset() { o.r.reset() }

// Clone returns a fresh observer with the same spec and constant.
func (o *MovingAverageMinMaxObserver) Clone() Observer {
	return &MovingAverageMinMaxObserver{r: newRanges("moving-average minmax", o.r.spec, o.r.averaging)}
}
