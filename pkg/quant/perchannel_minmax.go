package quant

import "github.com/ptqspec/ptqspec/pkg/tensor"

// PerChannelMinMaxObserver is PyTorch's PerChannelMinMaxObserver: it keeps the
// running minimum and maximum of each index of the spec's axis (output
// channels of a weight, axis 0) and returns per-channel qparams. Every
// batch must have the same number of channels.
type PerChannelMinMaxObserver struct{ r ranges }

// NewPerChannelMinMaxObserver returns a PerChannelMinMaxObserver for a per-channel
// spec; spec.Axis is the channel axis.
func NewPerChannelMinMaxObserver(spec Spec) (*PerChannelMinMaxObserver, error) {
	if err := checkGranularity("per-channel minmax", spec, PerChannel); err != nil {
		return nil, err
	}
	return &PerChannelMinMaxObserver{r: newRanges("per-channel minmax", spec, 0)}, nil
}

// Observe records each channel's minimum and maximum. A batch whose rank
// does not reach the axis, or with a different channel count than earlier
// batches, returns an error wrapping ErrShape.
func (o *PerChannelMinMaxObserver) Observe(x *tensor.Tensor) error { return o.r.observe(x) }

// QParams returns ChooseQParamsPerChannel of the running ranges.
func (o *PerChannelMinMaxObserver) QParams() (QParams, error) { return o.r.qparams() }

// Stats returns the counts and the per-channel ranges.
func (o *PerChannelMinMaxObserver) Stats() Stats { return o.r.stats() }

// Reset forgets all batches.
func (o *PerChannelMinMaxObserver) Reset() { o.r.reset() }

// Clone returns a fresh observer with the same spec.
func (o *PerChannelMinMaxObserver) Clone() Observer {
	return &PerChannelMinMaxObserver{r: newRanges("per-channel minmax", o.r.spec, 0)}
}
