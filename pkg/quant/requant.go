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
// with M = scaleA·scaleW / scaleY per output channel. This file is the one
// definition every int8 path uses: RequantMultiplier forms M,
// RequantizeValue rounds one accumulator, QuantizeBias quantizes a bias.
// package qnn (the int8 layers of a model, and its AVX2 kernels, which are
// tested bit for bit against RequantizeValue) and package onnx
// (QLinearMatMul, QLinearConv) call them; see the package documentation for
// why float32.

// RequantMultiplier returns the requantization multiplier of one output
// channel, M = inScale·wScale/outScale, in float32 and in that order:
// inScale·wScale rounded to float32, then divided by outScale and rounded
// again. ONNX Runtime forms its output scales this way for QLinearConv and
// QLinearMatMul (x_scale * w_scale[i] / y_scale, float arithmetic). It is the
// only place a multiplier is computed. The result may be 0, +Inf or NaN for
// scales that underflow, overflow or are not positive; RequantScale refuses
// those.
func RequantMultiplier(inScale, wScale, outScale float32) float32 {
	return float32(float32(inScale*wScale) / outScale)
}

// RequantScale returns the per-channel multipliers M[j] =
// RequantMultiplier(inScale, wScales[j], outScale), one per weight scale. A
// multiplier that is NaN or infinite (a zero, NaN or infinite scale, or a
// quotient beyond float32) has no defined output and is an error wrapping
// ErrNonFinite that names the channel and its scales.
func RequantScale(inScale float32, wScales []float32, outScale float32) ([]float32, error) {
	m := make([]float32, len(wScales))
	for j, ws := range wScales {
		m[j] = RequantMultiplier(inScale, ws, outScale)
		if !finite(m[j]) {
			return nil, fmt.Errorf("quant: requantization multiplier %d = %v·%v/%v is %v: %w",
				j, inScale, ws, outScale, m[j], ErrNonFinite)
		}
	}
	return m, nil
}

// RequantizeValue requantizes one accumulator (bias already added):
// saturate(round_half_even(float32(acc)·multiplier) + zeroPoint) to [qmin,
// qmax]. As in ONNX Runtime's MlasRequantizeOutput, float32(acc) rounds to
// nearest even, the product is a float32 product, and it is clamped to
// [qmin-zeroPoint, qmax-zeroPoint] before rounding, which equals saturating
// after it since the bounds are integers. The multiplier must be finite
// (RequantScale checks it); with qmin > qmax the result is qmax.
func RequantizeValue(acc int32, multiplier float32, zeroPoint, qmin, qmax int32) int32 {
	y := float32(float32(acc) * multiplier)
	y = min(max(y, float32(qmin-zeroPoint)), float32(qmax-zeroPoint))
	return int32(RoundHalfEven(y)) + zeroPoint
}

// Requantize writes out[i·n+j] = RequantizeValue(acc[i·n+j] + bias[j],
// multiplier[j], zeroPoint, qmin, qmax) for the m×n row-major accumulators.
// bias is nil or holds n values; multiplier holds one value or n (per output
// channel). The int32 addition of the bias wraps as in ORT. Lengths that do
// not match m and n panic with an error wrapping ErrShape.
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
// Runtime's quantizer does for QLinearConv and QGemm: the bias scale is the
// float32 product inScale·wScale_j, and the code is
// round_half_even(bias[j] / scale) with the division in float64 (exact
// operands, one rounding). It is the one bias rule of the module: qnn's
// layers and the model files use it. A NaN or infinite bias or scale, a
// scale product that underflows to 0, or a number of scales that is neither
// 1 nor len(bias) returns an error; so does a code beyond int32 (the scale
// is far too small for the bias), wrapping ErrNonFinite, where ORT's
// quantizer would clip with a warning.
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
		scale := float32(inScale * ws)
		if scale == 0 || !finite(scale) {
			return nil, fmt.Errorf("quant: bias %d: scale %v·%v is %v in float32: %w", j, inScale, ws, scale, ErrInvalidParams)
		}
		r := math.RoundToEven(float64(b) / float64(scale))
		if r > math.MaxInt32 || r < math.MinInt32 {
			return nil, fmt.Errorf("quant: bias %d = %v does not fit int32 at scale %v·%v = %g (code %g): %w",
				j, b, inScale, ws, scale, r, ErrNonFinite)
		}
		q[j] = int32(r)
	}
	return q, nil
}
