package quant

import "math"

// Eps is the smallest scale any qparams computation returns: float32
// machine epsilon, torch.finfo(torch.float32).eps, as PyTorch's observers
// clamp to. A constant or all-zero range therefore still gets a valid,
// non-zero scale.
const Eps float32 = 1.1920929e-07

// RoundHalfEven rounds to the nearest integer, ties to even, as ONNX
// QuantizeLinear and numpy.round do: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2.
func RoundHalfEven(x float32) float32 {
	return float32(math.RoundToEven(float64(x)))
}

// Saturate clamps v to [qmin, qmax].
func Saturate(v, qmin, qmax int32) int32 {
	return min(max(v, qmin), qmax)
}

// QuantizeValue maps one real value to the integer grid as ONNX
// QuantizeLinear defines it: saturate(round_half_even(x / scale) + zeroPoint)
// with the division done in float32. NaN maps to the zero point.
func QuantizeValue(x, scale float32, zeroPoint, qmin, qmax int32) int32 {
	r := RoundHalfEven(x / scale)
	switch {
	case r != r: // NaN
		return Saturate(zeroPoint, qmin, qmax)
	case r >= float32(math.MaxInt32)/2:
		return qmax
	case r <= float32(math.MinInt32)/2:
		return qmin
	}
	return Saturate(int32(r)+zeroPoint, qmin, qmax)
}

// DequantizeValue maps an integer back to the real line: (q - zeroPoint) *
// scale, as ONNX DequantizeLinear defines it.
func DequantizeValue(q int32, scale float32, zeroPoint int32) float32 {
	return float32(q-zeroPoint) * scale
}
