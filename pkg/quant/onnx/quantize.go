package onnx

import (
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// axisLayout maps each element of a tensor to the scale and zero point that
// quantize it: element i uses parameter (i / inner) % n. Per-tensor
// parameters have n == 1.
type axisLayout struct {
	n     int // number of parameters: 1, or the size of the axis
	inner int // product of the dimensions after the axis
}

// each calls f(lo, hi, c) for every maximal run [lo, hi) of the total
// elements that share parameter c, in order.
func (l axisLayout) each(total int, f func(lo, hi, c int)) {
	if total == 0 {
		return
	}
	if l.n == 1 || l.inner == 0 {
		f(0, total, 0)
		return
	}
	for lo, c := 0, 0; lo < total; lo += l.inner {
		f(lo, lo+l.inner, c)
		if c++; c == l.n {
			c = 0
		}
	}
}

// resolveAxis validates a scale and zero point pair against x and returns
// their layout. One element means per-tensor, whatever the axis; otherwise
// the scale must be 1-D with x.Shape[axis] elements.
func resolveAxis[Q int8 | uint8 | int32](op string, xShape []int, scaleName string, scale Tensor[float32], zpName string, zp Tensor[Q], axis int) (axisLayout, error) {
	if err := checkRequired(op, scaleName, scale); err != nil {
		return axisLayout{}, err
	}
	if err := checkOptional(op, zpName, zp); err != nil {
		return axisLayout{}, err
	}
	if !zp.absent() && len(zp.Data) != len(scale.Data) {
		return axisLayout{}, opErr(op, ErrShape, "%s shape %v and %s shape %v differ", zpName, zp.Shape, scaleName, scale.Shape)
	}
	if len(scale.Data) == 1 {
		return axisLayout{n: 1}, nil
	}
	if len(scale.Shape) != 1 || (!zp.absent() && len(zp.Shape) != 1) {
		return axisLayout{}, opErr(op, ErrShape, "%s shape %v is neither one element nor 1-D (blocked quantization is not supported)", scaleName, scale.Shape)
	}
	a, ok := normAxis(axis, len(xShape))
	if !ok {
		return axisLayout{}, opErr(op, ErrAxis, "axis %d for per-axis %s %v, x shape %v has rank %d", axis, scaleName, scale.Shape, xShape, len(xShape))
	}
	if xShape[a] != len(scale.Data) {
		return axisLayout{}, opErr(op, ErrShape, "per-axis %s has %d elements but x shape %v has %d along axis %d", scaleName, len(scale.Data), xShape, xShape[a], axis)
	}
	inner := 1
	for _, d := range xShape[a+1:] {
		inner *= d
	}
	return axisLayout{n: len(scale.Data), inner: inner}, nil
}

// QuantizeLinear is the ONNX QuantizeLinear operator for int8 and uint8
// outputs: y = saturate(round_half_even(x / y_scale) + y_zero_point), the
// division in float32, saturation to Q's range.
//
// yScale and yZeroPoint have one element (per-tensor; axis is then ignored)
// or are 1-D with x.Shape[axis] elements (per-axis; a negative axis counts
// from the end). An absent yZeroPoint means 0. NaN maps to the zero point,
// ±Inf saturates. Blocked quantization (opset 21 block_size) is not
// supported.
func QuantizeLinear[Q int8 | uint8](x Tensor[float32], yScale Tensor[float32], yZeroPoint Tensor[Q], axis int) (Tensor[Q], error) {
	const op = "QuantizeLinear"
	if err := checkTensor(op, "x", x); err != nil {
		return Tensor[Q]{}, err
	}
	lay, err := resolveAxis(op, x.Shape, "y_scale", yScale, "y_zero_point", yZeroPoint, axis)
	if err != nil {
		return Tensor[Q]{}, err
	}
	zps := zeroPoints(yZeroPoint)
	qmin, qmax := bounds[Q]()
	y := Tensor[Q]{Shape: cloneShape(x.Shape), Data: make([]Q, len(x.Data))}
	lay.each(len(x.Data), func(lo, hi, c int) {
		s, z := yScale.Data[c], zps[min(c, len(zps)-1)]
		for i := lo; i < hi; i++ {
			y.Data[i] = Q(quant.QuantizeValue(x.Data[i], s, z, qmin, qmax))
		}
	})
	return y, nil
}

// DequantizeLinear is the ONNX DequantizeLinear operator for int8, uint8
// and int32 inputs: y = (x - x_zero_point) * x_scale in float32.
//
// xScale and xZeroPoint have one element (per-tensor; axis is then ignored)
// or are 1-D with x.Shape[axis] elements (per-axis). An absent xZeroPoint
// means 0. For int32 input the zero point must be absent or all zeros, as
// the specification says int32 has no zero point.
func DequantizeLinear[Q int8 | uint8 | int32](x Tensor[Q], xScale Tensor[float32], xZeroPoint Tensor[Q], axis int) (Tensor[float32], error) {
	const op = "DequantizeLinear"
	if err := checkTensor(op, "x", x); err != nil {
		return Tensor[float32]{}, err
	}
	lay, err := resolveAxis(op, x.Shape, "x_scale", xScale, "x_zero_point", xZeroPoint, axis)
	if err != nil {
		return Tensor[float32]{}, err
	}
	zps := zeroPoints(xZeroPoint)
	if _, isInt32 := any(x.Data).([]int32); isInt32 {
		for i, z := range zps {
			if z != 0 {
				return Tensor[float32]{}, opErr(op, ErrZeroPoint, "int32 x_zero_point[%d] is %d, int32 has no zero point (must be absent or 0)", i, z)
			}
		}
	}
	y := Tensor[float32]{Shape: cloneShape(x.Shape), Data: make([]float32, len(x.Data))}
	lay.each(len(x.Data), func(lo, hi, c int) {
		s, z := xScale.Data[c], zps[min(c, len(zps)-1)]
		for i := lo; i < hi; i++ {
			y.Data[i] = quant.DequantizeValue(int32(x.Data[i]), s, z)
		}
	})
	return y, nil
}

// DynamicQuantizeLinear is the ONNX DynamicQuantizeLinear operator: it
// derives uint8 quantization parameters from the range of x, widened to
// contain 0, and quantizes x with them. In float32, as the operator's
// function body does:
//
//	x_min = min(0, min(x)), x_max = max(0, max(x))
//	y_scale = (x_max - x_min) / 255
//	y_zero_point = saturate(round_half_even(-x_min / y_scale))
//	y = saturate(round_half_even(x / y_scale) + y_zero_point)
//
// When x_max == x_min (x all zeros, or empty) the range is empty and, as in
// ONNX Runtime and the ONNX reference implementation, y_scale is 1,
// y_zero_point 0 and y all zeros. NaN or ±Inf in x, or a range that
// overflows float32, is an ErrNonFinite error: no finite scale exists.
func DynamicQuantizeLinear(x Tensor[float32]) (y Tensor[uint8], yScale float32, yZeroPoint uint8, err error) {
	const op = "DynamicQuantizeLinear"
	if err := checkTensor(op, "x", x); err != nil {
		return Tensor[uint8]{}, 0, 0, err
	}
	var lo, hi float32 // the range always contains 0
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Tensor[uint8]{}, 0, 0, opErr(op, ErrNonFinite, "x[%d] (shape %v) is %v", i, x.Shape, v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	qmin, qmax := bounds[uint8]()
	scale := float32(1)
	if hi != lo {
		scale = (hi - lo) / float32(qmax-qmin)
		if math.IsInf(float64(scale), 0) {
			return Tensor[uint8]{}, 0, 0, opErr(op, ErrNonFinite, "range [%v, %v] of x (shape %v) overflows float32", lo, hi, x.Shape)
		}
	}
	// qmin - x_min/scale = -x_min/scale exactly (qmin is 0, negation is
	// exact), so QuantizeValue computes saturate(round(-x_min/scale)), the
	// function body's round(saturate(...)) as the bounds are integers.
	zp := quant.QuantizeValue(-lo, scale, 0, qmin, qmax)
	y = Tensor[uint8]{Shape: cloneShape(x.Shape), Data: make([]uint8, len(x.Data))}
	for i, v := range x.Data {
		y.Data[i] = uint8(quant.QuantizeValue(v, scale, zp, qmin, qmax))
	}
	return y, scale, uint8(zp), nil
}
