package quant

import "github.com/ptqspec/ptqspec/pkg/tensor"

// MinMaxObserver is PyTorch's MinMaxObserver: it keeps the running minimum and
// maximum of everything observed, per tensor, and maps that range to
// qparams with ChooseQParams. The result does not depend on how the data
// was split into batches.
type MinMaxObserver struct{ r ranges }

// NewMinMaxObserver returns a MinMaxObserver for a per-tensor spec.
func NewMinMaxObserver(spec Spec) (*MinMaxObserver, error) {
	if err := checkGranularity("minmax", spec, PerTensor); err != nil {
		return nil, err
	}
	return &MinMaxObserver{r: newRanges("minmax", spec, 0)}, nil
}

// Observe records the batch's minimum and maximum.
func (o *MinMaxObserver) Observe(x *tensor.Tensor) error { return o.r.observe(x) }

// QParams returns ChooseQParams of the running range.
func (o *MinMaxObserver) QParams() (QParams, error) { return o.r.qparams() }

// Stats returns the counts and the running range.
func (o *MinMaxObserver) Stats() Stats { return o.r.stats() }

// Reset forgets all batches.
func (o *MinMaxObserver) Reset() { o.r.reset() }

// Clone returns a fresh MinMaxObserver with the same spec.
func (o *MinMaxObserver) Clone() Observer {
	return &MinMaxObserver{r: newRanges("minmax", o.r.spec, 0)}
}
