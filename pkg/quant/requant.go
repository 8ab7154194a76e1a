package quant

import (
	"fmt"
	"math"
)

// Requantization maps int32 accumulators of an integer product back to
// 8-bit codes of the output's grid:
//
//	y = saturate(round_half_even(float32(acc + bias) · M) + zeroPoint)
//
// with M = scaleA·scaleW / scaleY per output channel. M is a float32
// multiplier, as ONNX Runtime's MLAS requantizes QLinearMatMul and
// QLinearConv outputs (MlasRequantizeOutput), rather than gemmlowp's
// fixed-point multiplier and shift: the result is then bit-identical to
// ORT's, float32(acc) is exact for |acc| <= 2²⁴ and within half an ulp
// beyond, and the multiply adds at most another half ulp, far below the
// half-step rounding of the output.

// RequantScale returns the per-channel multipliers M[j] = inScale·wScales[j]
// / outScale, computed in float32 in that order as ONNX Runtime does.
func RequantScale(inScale float32, wScales []float32, outScale float32) []float32 {
	m := make([]float32, len(wScales))
	for j, ws := range wScales {
		m[j] = inScale * ws / outScale
	}
	return m
}

// RequantizeValue requantizes one accumulator (bias already added):
// saturate(round_half_even(float32(acc)·multiplier) + zeroPoint). As in
// ORT, the product is clamped to [qmin-zeroPoint, qmax-zeroPoint] before
// rounding, which equals saturating after it since the bounds are
// integers.
func RequantizeValue(acc int32, multiplier float32, zeroPoint, qmin, qmax int32) int32 {
	y := min(max(float32(acc)*multiplier, float32(qmin-zeroPoint)), float32(qmax-zeroPoint))
	return int32(RoundHalfEven(y)) + zeroPoint
}

// Requantize writes out[i·n+j] = saturate(round_half_even(float32(acc[i·n+j]
// + bias[j]) · multiplier[j]) + zeroPoint) to [qmin, qmax] for the m×n
// row-major accumulators. bias is nil or holds n values; multiplier holds
// one value or n (per output channel). The int32 addition of the bias
// wraps as in ORT. Lengths that do not match m and n panic with an error
// wrapping ErrShape.
func Requantize[T int8 | uint8](m, n int, acc, bias []int32, multiplier []float32, zeroPoint, qmin, qmax int32, out []T) {
	switch {
	case len(acc) != m*n || len(out) != m*n:
		shapePanic("requantize: %d accumulators and %d outputs, want m·n = %d·%d", len(acc), len(out), m, n)
	case bias != nil && len(bias) != n:
		shapePanic("requantize: %d biases, want n = %d", len(bias), n)
	case len(multiplier) != 1 && len(multiplier) != n:
		shapePanic("requantize: %d multipliers, want 1 or n = %d", len(multiplier), n)
	}
	for i := range m {
		row := acc[i*n : i*n+n]
		dst := out[i*n : i*n+n]
		for j, v := range row {
			if bias != nil {
				v += bias[j]
			}
			mul := multiplier[0]
			if len(multiplier) > 1 {
				mul = multiplier[j]
			}
			dst[j] = T(RequantizeValue(v, mul, zeroPoint, qmin, qmax))
		}
	}
}

// QuantizeBias quantizes a float bias to int32 with zero point 0 and scale
// inScale·wScales[j] (one weight scale, or one per output channel), as ONNX
// Runtime quantizes the bias of QLinearConv and QLinearMatMul-based Gemm:
// round_half_even(bias[j] / (inScale·wScale_j)), saturated to int32. A NaN
// or infinite bias or scale, or a number of scales that is neither 1 nor
// len(bias), returns an error.
func QuantizeBias(bias []float32, inScale float32, wScales []float32) ([]int32, error) {
	if len(wScales) != 1 && len(wScales) != len(bias) {
		return nil, fmt.Errorf("quant: bias: %d weight scales for %d biases, want 1 or %d: %w",
			len(wScales), len(bias), len(bias), ErrShape)
	}
	if i := firstNonFinite(bias); i >= 0 {
		return nil, nonFiniteError("quant: bias", bias, i)
	}
	if !(inScale > 0) || !finite(inScale) {
		return nil, fmt.Errorf("quant: bias: input scale %v is not positive and finite: %w", inScale, ErrInvalidParams)
	}
	q := make([]int32, len(bias))
	for j, b := range bias {
		ws := wScales[0]
		if len(wScales) > 1 {
			ws = wScales[j]
		}
		if !(ws > 0) || !finite(ws) {
			return nil, fmt.Errorf("quant: bias %d: weight scale %v is not positive and finite: %w", j, ws, ErrInvalidParams)
		}
		scale := inScale * ws
		if scale == 0 {
			return nil, fmt.Errorf("quant: bias %d: scale %v·%v underflows float32: %w", j, inScale, ws, ErrInvalidParams)
		}
		r := math.RoundToEven(float64(b / scale))
		q[j] = int32(min(max(r, math.MinInt32), math.MaxInt32))
	}
	return q, nil
}
