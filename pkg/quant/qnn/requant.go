package qnn

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Requantizer turns int32 accumulators of one output channel group into
// int8 codes.
type Requantizer struct {
	// Mult holds sIn*sW[c]/sOut per output channel (or one value).
	Mult []float32
	// Bias holds the int32 bias per output channel, or is nil.
	Bias []int32
	// Zero, Min and Max are the output's int8-domain zero point and bounds;
	// a fused ReLU raises Min to Zero.
	Zero, Min, Max int32
}

// newRequantizer computes multipliers and quantizes the bias. A bias whose
// quantized value does not fit int32, or a non-finite bias, is an error.
func newRequantizer(in Act, w Weights, out Act, bias []float32, channels int, relu bool) (Requantizer, error) {
	r := Requantizer{Mult: make([]float32, channels), Zero: out.Zero, Min: out.Min, Max: out.Max}
	if relu {
		r.Min = max(r.Min, out.Zero)
	}
	for c := range channels {
		r.Mult[c] = float32(float64(in.Scale) * float64(w.Scale[w.channel(c)]) / float64(out.Scale))
	}
	if bias != nil {
		if len(bias) != channels {
			return r, fmt.Errorf("qnn: bias has %d values for %d output channels: %w", len(bias), channels, quant.ErrShape)
		}
		r.Bias = make([]int32, channels)
		for c, b := range bias {
			s := float64(in.Scale) * float64(w.Scale[w.channel(c)])
			v := math.RoundToEven(float64(b) / s)
			if math.IsNaN(v) || math.IsInf(v, 0) || v > math.MaxInt32 || v < math.MinInt32 {
				return r, fmt.Errorf("qnn: bias[%d] = %v does not fit int32 at scale %g: %w", c, b, s, quant.ErrNonFinite)
			}
			r.Bias[c] = int32(v)
		}
	}
	return r, nil
}

// apply requantizes acc (channel c) into one code.
func (r *Requantizer) apply(acc int32, c int) int8 {
	if r.Bias != nil {
		acc += r.Bias[c]
	}
	m := r.Mult[0]
	if len(r.Mult) > 1 {
		m = r.Mult[c]
	}
	v := math.RoundToEven(float64(acc) * float64(m))
	if v >= float64(r.Max-r.Zero) {
		return int8(r.Max)
	}
	if v <= float64(r.Min-r.Zero) {
		return int8(r.Min)
	}
	return int8(int32(v) + r.Zero)
}
