// Package quant is the arithmetic core of post-training quantization:
// integer types, quantization schemes and parameters, observers that turn
// calibration data into parameters, quantized tensors, integer matrix
// kernels with requantization, and error metrics.
//
// # Overview
//
// A real value x and its integer code q are related by
//
//	q = saturate(round_half_even(x / scale) + zeroPoint, qmin, qmax)
//	x ≈ (q - zeroPoint) · scale
//
// exactly as ONNX QuantizeLinear and DequantizeLinear define them
// (QuantizeValue, DequantizeValue). A Spec says how a tensor is quantized
// (DType, Affine or Symmetric Scheme, PerTensor or PerChannel Granularity
// and axis, Restricted and ReduceRange integer ranges); QParams hold the
// resulting scales and zero points; ChooseQParams maps a real range to
// them as PyTorch's observers do.
//
// Observers (NewObserver for a Method) see calibration batches and produce
// QParams. Method is a closed set with a text form (ParseMethod,
// MarshalText, UnmarshalText), listed once by Methods:
//
//	minmax          running min/max (per channel for a per-channel spec)     PyTorch MinMaxObserver
//	moving_average  first batch, then min += 0.01·(batch_min - min)         PyTorch MovingAverageMinMaxObserver
//	percentile      percentile of a histogram (99.99 by default)             ONNX Runtime percentile calibrator
//	entropy         threshold of minimum KL divergence, 128 levels on |x|    TensorRT / ONNX Runtime entropy calibrator
//	mse             range of minimum expected quantization error             histogram search as PyTorch's HistogramObserver
//
// Quantize, QTensor.Dequantize and FakeQuantize apply QParams to
// tensor.Tensor values. GemmInt and GemmIntNT multiply 8-bit matrices with
// zero points into int32; GemmIntPacked does the same with a right-hand
// side packed once by PackB or PackBT (constant weights); RequantMultiplier,
// RequantizeValue and QuantizeBias turn the accumulators and a float bias
// into the output's 8-bit grid, as ONNX Runtime's QLinearMatMul and
// QLinearConv do (RequantScale and Requantize apply them to a channel
// vector and a matrix). SQNR, MSE, MaxAbsError and
// CosineSimilarity compare a reference with its approximation.
//
// # Invariants
//
// Rounding and saturation:
//   - Rounding is always half to even (0.5 → 0, 1.5 → 2, 2.5 → 2,
//     -2.5 → -2), in quantization, zero points, requantization and bias.
//   - Codes saturate to [qmin, qmax] of the spec, never wrap. NaN quantizes
//     to the zero point.
//
// Integer ranges (Spec.Bounds):
//   - int8 [-128, 127], uint8 [0, 255]; ReduceRange (PyTorch's 7 bits):
//     int8 [-64, 63], uint8 [0, 127]; Restricted (int8 symmetric only, as
//     ONNX Runtime and TFLite weights): [-127, 127], [-63, 63] with
//     ReduceRange.
//
// Scales and zero points (ChooseQParams, all float32 arithmetic):
//   - The range is first widened to include 0, so real 0 is always exactly
//     representable (padding and ReLU zeros lose nothing).
//   - Symmetric: scale = max(|min|, |max|) / ((qmax - qmin) / 2), zero
//     point 0 for int8 and (qmin + qmax + 1) / 2 for uint8 (128; 64 with
//     ReduceRange). With the full int8 range the top code is 127·scale, half
//     a step short of max: the PyTorch convention; Restricted avoids it.
//   - Affine: scale = (max - min) / (qmax - qmin), zero point = qmin -
//     round_half_even(min / scale), clamped to [qmin, qmax].
//   - scale >= Eps (float32 epsilon), so a constant or all-zero tensor still
//     gets a valid, non-zero scale.
//   - Per-tensor QParams have one scale and Axis -1; per-channel QParams
//     have one scale per index of Axis. QParams with QMin = QMax = 0
//     saturate to the full range of their DType.
//
// Defaults: WeightDefault is int8 symmetric per-channel on axis 0,
// restricted to [-127, 127]; ActivationDefault (the zero Spec) is int8
// affine per-tensor, which keeps a model int8 end to end.
//
// Observers:
//   - Deterministic: the same batches in the same order give the same bits.
//     MinMax results do not depend on how samples are split into batches.
//   - A batch holding NaN or ±Inf is rejected with ErrNonFinite and leaves
//     the observer unchanged; QParams before any element is ErrNoData.
//   - Histograms cover [-limit, limit] with an even number of bins, so 0
//     is a bin edge. A batch beyond the limit doubles it (as often as
//     needed), merging bin pairs exactly: new data is never clipped and old
//     counts are never approximated.
//   - Clipping observers clamp their range to the observed [min, max].
//
// Quantized tensors take one byte per element (QTensor.Bytes) plus 8 bytes
// of parameters per channel.
//
// Kernels:
//   - GemmInt, GemmIntNT and GemmIntPacked are exact: int32 results equal the textbook
//     Σ (a - za)(b - zb) whenever it fits in int32. On amd64 with AVX2 they
//     run assembly kernels, elsewhere (and with the noasm build tag) pure
//     Go; both compute modulo 2³² and agree bit for bit.
//   - Requantization has one definition (see Requantization below), used by
//     the int8 layers of package qnn (Go and AVX2 kernels alike), by the
//     ONNX operators of package onnx and hence by the int8 model files,
//     whose int32 biases and scales are read back through the same
//     functions: an int8 model computes exactly what its ONNX export asks
//     ONNX Runtime to compute.
//
// Metrics accumulate in float64. SQNR is +Inf for identical signals
// (including empty or all-zero ones) and -Inf for a zero reference with
// non-zero noise; CosineSimilarity is 1 for two zero vectors and 0 for one;
// slices of different lengths give NaN.
//
// # Requantization
//
// An int32 accumulator acc (bias added, int32 wrap-around) of an int8
// product becomes an output code as
//
//	M    = float32(float32(scaleA·scaleW) / scaleY)         RequantMultiplier
//	code = round_half_even(clamp(float32(acc)·M,
//	                             qmin-zeroPoint, qmax-zeroPoint)) + zeroPoint   RequantizeValue
//
// every step in float32, and an int32 bias is round_half_even(b /
// float32(scaleA·scaleW)) with the quotient in float64 (QuantizeBias).
//
// Why float32. The ONNX specification of QLinearMatMul and QLinearConv
// gives the formula (a real multiplier a_scale·b_scale/y_scale, round half
// to even, saturate) without a precision, so the runtime that executes the
// exported models defines the bits. ONNX Runtime forms its output scales
// in float (x_scale * w_scale[i] / y_scale) and MlasRequantizeOutput
// converts acc + bias to float, multiplies by that float scale, clamps to
// [qmin-zp, qmax-zp] and rounds to nearest even; its quantizer writes the
// bias as float64(bias) / float64(float32 input_scale·weight_scale),
// rounded and clipped to int32. Computing M in float64 and rounding once
// differs from this in about a quarter of random scale triples (one ulp),
// and a float64 product can differ from the float32 one when
// |acc| > 2^24 or the product lies within an ulp of a tie; either would
// make an int8 model disagree with its own ONNX export on some codes. The
// float32 product is exact enough: float32(acc) is exact for |acc| <=
// 2^24 and within half an ulp beyond, far below the half step of the
// output's rounding. (gemmlowp/TFLite's fixed-point multiplier and shift
// is a third arithmetic, not used here.)
//
// # Errors
//
// Errors wrap the sentinels ErrNonFinite, ErrNoData, ErrInvalidSpec,
// ErrInvalidParams, ErrShape and ErrUnknownMethod and name the observer,
// batch, channel or shapes involved. Kernels given slices whose lengths do
// not match their dimensions panic with an error wrapping ErrShape, a
// programming error; nothing panics on data values.
package quant
