package quant

import (
	"fmt"
	"slices"
	"strings"
)

// QParams are the quantization parameters of one tensor: real =
// (q - ZeroPoint[c]) * Scale[c], q saturated to [QMin, QMax].
//
// Per-tensor parameters have one scale and one zero point and Axis -1.
// Per-channel parameters have one pair per index of dimension Axis.
type QParams struct {
	// DType is the integer element type, Int8 or UInt8.
	DType DType
	// Scale holds one positive, finite scale per channel (one per tensor).
	Scale []float32
	// ZeroPoint holds the integer code of real 0, one per scale.
	ZeroPoint []int32
	// Axis is the channel dimension, or -1 for per-tensor parameters.
	Axis int
	// QMin and QMax are the codes values saturate to. Both zero means the
	// full range of DType; otherwise DType's range must contain them.
	QMin, QMax int32
}

// PerTensorParams returns per-tensor parameters over the full range of
// dtype.
func PerTensorParams(dtype DType, scale float32, zeroPoint int32) QParams {
	return QParams{DType: dtype, Scale: []float32{scale}, ZeroPoint: []int32{zeroPoint}, Axis: -1}
}

// specParams builds parameters with the spec's dtype, axis and bounds.
func specParams(spec Spec, scale []float32, zeroPoint []int32) QParams {
	qmin, qmax := spec.Bounds()
	axis := -1
	if spec.Granularity == PerChannel {
		axis = spec.Axis
	}
	return QParams{DType: spec.DType, Scale: scale, ZeroPoint: zeroPoint, Axis: axis, QMin: qmin, QMax: qmax}
}

// Bounds returns the saturation range: [QMin, QMax], or the dtype's full
// range when both are zero.
func (p QParams) Bounds() (qmin, qmax int32) {
	if p.QMin == 0 && p.QMax == 0 {
		return p.DType.Bounds()
	}
	return p.QMin, p.QMax
}

// PerTensor reports whether the parameters hold a single (scale, zero
// point) pair applied to the whole tensor.
func (p QParams) PerTensor() bool { return p.Axis < 0 }

// Channels returns the number of (scale, zero point) pairs.
func (p QParams) Channels() int { return len(p.Scale) }

// Clone returns a deep copy.
func (p QParams) Clone() QParams {
	p.Scale = slices.Clone(p.Scale)
	p.ZeroPoint = slices.Clone(p.ZeroPoint)
	return p
}

// Validate reports, wrapping ErrInvalidParams, parameters that break their
// invariants: dtype not Int8 or UInt8, no scales, as many zero points as
// scales, Axis -1 with exactly one scale or Axis >= 0, scales positive and
// finite, bounds inside the dtype, zero points inside the bounds.
func (p QParams) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("quant: qparams: "+format+": %w", append(args, ErrInvalidParams)...)
	}
	if p.DType != Int8 && p.DType != UInt8 {
		return bad("dtype %v is not int8 or uint8", p.DType)
	}
	if len(p.Scale) == 0 {
		return bad("no scale")
	}
	if len(p.ZeroPoint) != len(p.Scale) {
		return bad("%d scales but %d zero points", len(p.Scale), len(p.ZeroPoint))
	}
	if p.Axis < -1 {
		return bad("axis %d", p.Axis)
	}
	if p.Axis == -1 && len(p.Scale) != 1 {
		return bad("per-tensor (axis -1) with %d scales", len(p.Scale))
	}
	dmin, dmax := p.DType.Bounds()
	qmin, qmax := p.Bounds()
	if qmin >= qmax || qmin < dmin || qmax > dmax {
		return bad("bounds [%d, %d] not a range inside %v [%d, %d]", qmin, qmax, p.DType, dmin, dmax)
	}
	for c, s := range p.Scale {
		if !(s > 0) || !finite(s) {
			return bad("scale[%d] = %v is not positive and finite", c, s)
		}
		if z := p.ZeroPoint[c]; z < qmin || z > qmax {
			return bad("zero point[%d] = %d outside [%d, %d]", c, z, qmin, qmax)
		}
	}
	return nil
}

// String renders the parameters, for example
// "int8 scale=0.0313725 zp=-128" or "int8 axis=0 scale=[0.1 0.2] zp=[0 0]".
func (p QParams) String() string {
	var b strings.Builder
	b.WriteString(p.DType.String())
	if p.PerTensor() && len(p.Scale) == 1 && len(p.ZeroPoint) == 1 {
		fmt.Fprintf(&b, " scale=%g zp=%d", p.Scale[0], p.ZeroPoint[0])
	} else {
		fmt.Fprintf(&b, " axis=%d scale=%v zp=%v", p.Axis, p.Scale, p.ZeroPoint)
	}
	if p.QMin != 0 || p.QMax != 0 {
		fmt.Fprintf(&b, " [%d,%d]", p.QMin, p.QMax)
	}
	return b.String()
}

// ChooseQParams returns the scale and zero point for the real range
// [minVal, maxVal] under spec, as PyTorch's observers compute them
// (_ObserverBase._calculate_qparams), in float32:
//
//   - the range is widened to include 0: minNeg = min(minVal, 0),
//     maxPos = max(maxVal, 0), so real 0 is always exactly representable;
//   - Symmetric: scale = max(-minNeg, maxPos) / ((qmax-qmin)/2); the zero
//     point is 0 for int8 and the middle code (qmin+qmax+1)/2 for uint8
//     (128, as PyTorch; 64 with ReduceRange);
//   - Affine: scale = (maxPos-minNeg) / (qmax-qmin) and zeroPoint =
//     qmin - round_half_even(minNeg/scale), clamped to [qmin, qmax];
//   - scale is at least Eps, so a constant or all-zero range still gets a
//     valid scale.
//
// (qmin, qmax) is spec.Bounds(). A NaN or infinite bound, or a range whose
// width overflows float32, returns an error wrapping ErrNonFinite; minVal
// > maxVal and an invalid spec return errors too.
func ChooseQParams(minVal, maxVal float32, spec Spec) (scale float32, zeroPoint int32, err error) {
	if err := spec.Validate(); err != nil {
		return 0, 0, err
	}
	if !finite(minVal) || !finite(maxVal) {
		return 0, 0, fmt.Errorf("quant: range [%v, %v]: %w", minVal, maxVal, ErrNonFinite)
	}
	if minVal > maxVal {
		return 0, 0, fmt.Errorf("quant: range [%v, %v]: min is greater than max", minVal, maxVal)
	}
	qmin, qmax := spec.Bounds()
	minNeg := min(minVal, 0)
	maxPos := max(maxVal, 0)
	if spec.Scheme == Symmetric {
		scale = max(-minNeg, maxPos) / (float32(qmax-qmin) / 2)
		scale = max(scale, Eps)
		if spec.DType == UInt8 {
			zeroPoint = (qmin + qmax + 1) / 2
		}
		return scale, zeroPoint, nil
	}
	scale = (maxPos - minNeg) / float32(qmax-qmin)
	if !finite(scale) {
		return 0, 0, fmt.Errorf("quant: range [%v, %v] is too wide for float32: %w", minVal, maxVal, ErrNonFinite)
	}
	scale = max(scale, Eps)
	zeroPoint = Saturate(qmin-int32(RoundHalfEven(minNeg/scale)), qmin, qmax)
	return scale, zeroPoint, nil
}

// ChooseQParamsPerChannel applies ChooseQParams to each channel's range
// and returns per-channel parameters on spec.Axis with the spec's bounds.
// spec must be PerChannel; minVals and maxVals must have the same, non-zero
// length. Errors name the channel.
func ChooseQParamsPerChannel(minVals, maxVals []float32, spec Spec) (QParams, error) {
	if err := spec.Validate(); err != nil {
		return QParams{}, err
	}
	if spec.Granularity != PerChannel {
		return QParams{}, fmt.Errorf("quant: per-channel qparams need a per-channel spec, got %v: %w", spec, ErrInvalidSpec)
	}
	if len(minVals) != len(maxVals) || len(minVals) == 0 {
		return QParams{}, fmt.Errorf("quant: per-channel qparams: %d minima and %d maxima: %w", len(minVals), len(maxVals), ErrShape)
	}
	scales := make([]float32, len(minVals))
	zps := make([]int32, len(minVals))
	for c := range minVals {
		s, z, err := ChooseQParams(minVals[c], maxVals[c], spec)
		if err != nil {
			return QParams{}, fmt.Errorf("quant: channel %d: %w", c, err)
		}
		scales[c], zps[c] = s, z
	}
	return specParams(spec, scales, zps), nil
}

// chooseSpecParams is ChooseQParams wrapped as per-tensor QParams of spec.
func chooseSpecParams(minVal, maxVal float32, spec Spec) (QParams, error) {
	s, z, err := ChooseQParams(minVal, maxVal, spec)
	if err != nil {
		return QParams{}, err
	}
	spec.Granularity = PerTensor
	return specParams(spec, []float32{s}, []int32{z}), nil
}
