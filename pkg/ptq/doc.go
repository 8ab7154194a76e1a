// Package ptq quantizes trained FP32 models to int8 after training: the
// post-training quantization (PTQ) API of ptqspec.
//
// # Overview
//
// One call does the whole static job:
//
//	m, rep, err := ptq.NewQuantizer(ptq.DefaultConfig()).Quantize(ctx, model, calibration)
//
// It runs four phases, each also available on its own:
//
//   - Traverse walks the model graph in topological order and gives every
//     node a Role with a reason: Quantized (Linear, Conv2D, residual Add),
//     Transparent (ReLU, pooling, Flatten, Dropout, Identity run on int8
//     data unchanged), Fused (BatchNorm2D folded into the Conv2D before it,
//     ReLU fused into the Conv2D or Linear before it) or FP32 (Softmax,
//     LogSoftmax, unknown layers, user exclusions). It places quantize
//     boundaries where FP32 data enters an int8 kernel and dequantize
//     boundaries where int8 data enters an FP32 node. Plan.String prints
//     the plan as a table.
//   - Prepare attaches an observer (Config.Method) to every activation the
//     plan needs: each FP32 tensor entering an int8 kernel and each int8
//     kernel's output after its fused layers.
//   - Calibrate (Calibrator.Run or Observe) runs the FP32 model on batches
//     and feeds the observers. After each batch it records the largest
//     relative change of any scale; calibration has converged once that
//     stays under CalibrationOptions.Tolerance for Patience batches, and
//     may stop early then.
//   - Convert quantizes weights (Config.Weights, per-channel symmetric by
//     default), biases (int32 at scale sIn·sW) and builds a Model that
//     passes int8 tensors between int8 kernels (package qnn) and keeps the
//     FP32 model's node names, edges and output shapes.
//
// QuantizeDynamic quantizes Linear weights only and quantizes activations
// per call, keeping every layer boundary FP32.
//
// AnalyzeSensitivity tells which layers cost accuracy, in two views per
// layer (only this layer int8; only this layer FP32) plus its output SQNR,
// and writes Markdown, CSV and JSON (SensitivitySchema). QuantizeWithBudget
// reverts the most sensitive layers to FP32 one at a time until the
// accuracy drop fits a budget, and records every step.
//
// # Configuration
//
// DefaultConfig is per-channel symmetric int8 weights over [-127, 127],
// per-tensor affine int8 activations and MinMax calibration. Overrides
// select layers by exact Name, by Glob (path.Match) or by Kind and change
// their weight spec, activation spec, method, or keep them FP32. Kind
// overrides apply first, then globs, then names. An override that matches
// no layer is an error (ErrUnmatchedOverride), never silently ignored.
//
// # Errors
//
// Errors name what was wrong: the node, the calibration batch, both shapes.
// Sentinels for errors.Is: ErrNoCalibrationData (no batch was seen: no
// made-up scale of 1 is ever used), ErrNotCalibrated (a tensor calibration
// never reached), ErrNonFinite (NaN or Inf in data, activations or
// weights), ErrShape, ErrUnmatchedOverride and ErrInvalidConfig.
//
// # Invariants
//
//   - The input model is never modified: Prepare, QuantizeDynamic and the
//     analyses work on clones.
//   - Same model, data and configuration give bit-identical int8 weights,
//     qparams and outputs; MinMax calibration does not depend on how
//     samples are split into batches.
//   - A calibration batch that is refused (NaN or Inf in the data or in
//     an observed activation, a shape that does not fit) changes no
//     statistic: observers see a batch only once all of it is known good.
//   - A converted Model is safe for concurrent Forward calls.
//   - A model with no quantizable layer comes back unchanged (Mode "fp32")
//     and its Report says so.
package ptq
