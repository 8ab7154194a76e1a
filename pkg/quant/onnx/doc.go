// Package onnx implements the ONNX quantization operators for int8 and
// uint8 on plain Go slices, bit-exact with the operator specifications:
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
// QLinearMatMul, ConvInteger and QLinearConv.
//
// # Overview
//
// Each operator is a generic function over the element types the
// specification allows, taking its inputs in the specification's order:
//
//	y, err := onnx.QLinearMatMul(a, aScale, aZeroPoint, b, bScale, bZeroPoint, yScale, yZeroPoint)
//
// The arithmetic is package quant's, not re-implemented here: rounding
// (quant.RoundHalfEven), saturation, quantize and dequantize of one value
// (quant.QuantizeValue, quant.DequantizeValue), the integer matrix product
// with zero points (quant.GemmInt) and requantization (quant.RequantScale,
// quant.RequantizeValue, quant.Requantize), the one requantization
// arithmetic that package qnn's int8 layers use too, so a model's int8
// layers and these operators agree bit for bit (see package quant,
// Requantization). This package adds the ONNX
// shapes: per-tensor and per-axis parameters, numpy.matmul broadcasting,
// convolution geometry, and validation.
//
// # Conventions
//
// Tensors are dense and row-major: Tensor.Data holds product(Tensor.Shape)
// elements. A rank-0 Shape with one element is a scalar. An absent optional
// input (a zero point, the convolution bias) is the zero Tensor, and an
// absent zero point means 0.
//
// Quantization parameters. A scale or zero point of one element (shape [],
// [1], [1 1], ...) is per-tensor. Otherwise it is per-axis:
//
//   - QuantizeLinear, DequantizeLinear: 1-D with x.Shape[axis] elements;
//     axis counts from the end when negative, as in ONNX, and is ignored for
//     per-tensor parameters (ONNX's default axis 1 works on 1-D x).
//     Blocked quantization (opset 21 block_size) is not supported.
//   - MatMulInteger, QLinearMatMul: a's per row ([M], or A's shape with its
//     last dimension 1, one set per matrix of a batch), b's per column ([N],
//     or B's batch shape followed by [1, N]). The specification's text says
//     "K element vector" for b's per-column form; the column count N is what
//     it means and what ONNX Runtime uses.
//   - ConvInteger, QLinearConv: x's and y's parameters are per-tensor; w's
//     per-tensor or 1-D per output channel (M elements); the bias B is 1-D
//     with M elements, in the scale x_scale·w_scale with zero point 0.
//
// Where both a scale and its zero point are given they must have the same
// form. DequantizeLinear of int32 (a bias) takes an absent or all-zero zero
// point: int32 has none.
//
// Rounding and saturation. Quantization is saturate(round_half_even(x /
// scale) + zero_point) with the division in float32, saturating to the
// output type's range ([-128, 127], [0, 255]); NaN maps to the zero point.
// QLinearMatMul and QLinearConv requantize their int32 accumulator acc as
// the specifications' formula y = saturate((x / y_scale) + y_zero_point)
// says, computed as ONNX Runtime does: the multiplier a_scale·b_scale /
// y_scale (x_scale·w_scale[m] / y_scale) in float32, in that order, then
// saturate(round_half_even(float32(acc + bias)·multiplier) +
// y_zero_point). They saturate for int8 output too; the ONNX repository's
// stored int8 expectation for test_qlinearmatmul_2D_int8 wraps instead
// (20 where saturation gives -128), and ONNX Runtime saturates.
//
// DynamicQuantizeLinear follows the operator's function body in float32:
// x_min = min(0, min(x)), x_max = max(0, max(x)), y_scale = (x_max -
// x_min)/255, y_zero_point = saturate(round_half_even(-x_min/y_scale)).
// When x is all zeros or empty (x_max == x_min) y_scale is 1 and
// y_zero_point 0, as in ONNX Runtime (the formula would divide 0 by 0).
//
// Integer products are exact; int32 accumulation wraps on overflow, which
// the specifications allow ("accumulation may overflow if and only if in
// 32 bits").
//
// Convolution. x is N×C×D1×…×Dk (NCHW for 2-D; any k >= 1 works), w is
// M×(C/group)×k1×…×kk, the output N×M×O1×…×Ok with Oi = (Di + pad_begin_i
// + pad_end_i - dilation_i·(ki-1) - 1)/stride_i + 1. ConvAttrs' zero value
// is ONNX's defaults; Pads lists all begins then all ends. The kernel shape
// comes from w, and auto_pad is NOTSET (explicit pads); padding contributes
// 0 to the accumulator (it reads the x zero point).
//
// # Errors
//
// Operators never panic on user data. Every error is an *OpError naming the
// operator, the input and the shapes involved, for example
//
//	onnx: QLinearMatMul: shape mismatch: a [2 3] and b [4 2]: inner dimensions 3 and 4 differ
//
// and wraps one sentinel (ErrShape, ErrAxis, ErrAttribute, ErrZeroPoint,
// ErrNonFinite, ErrTooLarge) for errors.Is. A result or scratch buffer of
// more than tensor.MaxElements elements (settable with
// tensor.SetMaxElements), which zero-sized dimensions or huge pads can ask
// for, is ErrTooLarge (which wraps tensor.ErrTooLarge) rather than an
// out-of-memory crash. No operator's work grows with a dimension that is
// zero: a convolution without input channels (C = 0, any group) writes its
// output (zeros, or the requantized bias) without a round of im2col and
// GEMM per batch item and group.
//
// # Invariants
//
//   - Results hold exactly product(Shape) elements, in fresh slices: inputs
//     are never modified, retained or aliased.
//   - Results are deterministic: the same inputs give the same bits,
//     whatever GOMAXPROCS (quant.GemmInt may split large products over
//     goroutines; integer sums do not depend on the split).
//   - Functions keep no state and are safe for concurrent use.
package onnx
