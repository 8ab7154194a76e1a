// Package ptq quantizes trained FP32 models to int8 after training: the
// post-training quantization (PTQ) API of ptqspec.
//
// # Overview
//
// One call does the whole static job:
//
//	m, rep, err := ptq.Quantize(ctx, model, ptq.BatchesOf(x, 100), nil) // nil: the default Config
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
//     relative change of any scale and whether calibration is converged
//     (see Convergence below); it may stop early at the first convergence.
//   - Convert quantizes weights (Config.Weights, per-channel symmetric by
//     default), biases (int32 at scale sIn·sW) and builds a Model that
//     passes int8 tensors between int8 kernels (package qnn) and keeps the
//     FP32 model's node names, edges and output shapes.
//
// QuantizeDynamic(ctx, model, cfg) quantizes Linear weights (and Conv2D
// weights when DynamicConfig.Conv2D is set) and quantizes activations per
// call, keeping every layer boundary FP32.
//
// AnalyzeSensitivity(ctx, model, calib, selection, opts) tells which layers
// cost accuracy, in two views per
// layer (only this layer int8; only this layer FP32) plus its output SQNR,
// and writes Markdown, CSV and JSON (SensitivitySchema). QuantizeWithBudget
// reverts the most sensitive layers to FP32 one at a time until the
// accuracy drop fits a budget, and records every step. Both choose layers
// on the selection data they are given and say so in their reports
// (Selection, from Data.Name); a choice is judged on a separate test set,
// since on the samples it was made on it looks better than it is.
//
// Model.Save and LoadModel (SaveFile, LoadModelFile) write and read a
// converted model, static, dynamic or FP32, in the format below, so that
// the int8 model ships without the FP32 one and without calibration data.
//
// # Data
//
// Calibration data is read as Batches, an iter.Seq2[*tensor.Tensor, error]
// that ptq defines and any data source can produce (BatchesOf splits one
// tensor); evaluation data is Data, samples and optional labels in memory.
// Quantize measures its report's SQNR on Config.Holdout, a held-out Data
// set, when one is given, and otherwise on the first calibration samples;
// Report.SQNRData says which. ptq does not depend on package datasets.
//
// # Configuration
//
// The zero Config (and a nil *Config) is per-channel symmetric int8
// weights over [-127, 127], per-tensor affine int8 activations and MinMax
// calibration; set only the fields that differ. DynamicConfig holds what
// dynamic quantization reads, SensitivityOptions what AnalyzeSensitivity
// and QuantizeWithBudget read. Overrides
// select layers by exact Name, by Glob (path.Match) or by Kind and change
// their weight spec, activation spec, method, or keep them FP32. Kind
// overrides apply first, then globs, then names. An override that matches
// no layer is an error (ErrUnmatchedOverride), never silently ignored.
//
// # Errors
//
// Errors name what was wrong: the node, the calibration batch, both shapes.
// An error about one node is a *NodeError (Node, Kind, Err), which
// errors.As finds. Sentinels for errors.Is: ErrNilModel (a nil graph,
// Model, Calibrator or Prepared), ErrNilReport, ErrNoCalibrationData (no
// batch was seen: no made-up scale of 1 is ever used), ErrNoEvaluationData,
// ErrNotCalibrated (a tensor calibration never reached), ErrNonFinite (NaN
// or Inf in data, activations or weights, or a weight scale that would
// overflow float32; quant.ErrNonFinite stays matchable when quant found
// it), ErrShape (tensor's shape sentinel), ErrUnmatchedOverride,
// ErrUnknownValue (a name outside Role, Mode or Metric) and
// ErrInvalidConfig. Methods on nil receivers return these errors or their
// zero value; nothing panics on nil.
//
// # Convergence
//
// After every calibration batch the Calibrator records the largest
// relative change, |new - old| / old, of any activation scale the plan
// calibrates (CalibrationStep.MaxScaleChange). A batch is calm when that
// change is at most CalibrationOptions.Tolerance; the first batch is never
// calm, nor is a batch that gives a tensor its first scale. The rule:
//
//	calibration is converged after batch b when b and the Patience-1
//	batches before it are all calm.
//
// The rule is re-evaluated after every batch, so it can be lost: a later
// batch moving a scale by more than Tolerance (a new extreme activation)
// breaks it, and it holds again only after Patience calm batches. The
// history records this batch by batch (CalibrationStep.Converged) with an
// Event where it changes: EventConverged where it first held, EventLost,
// EventRegained. Calibrator.Converged, and CalibrationReport.Converged and
// ConvergedAt, say whether the rule holds at the end of calibration and
// from which batch it has held without a break; FirstConverged is the
// batch where it first held. With EarlyStop, Run stops right after that
// first batch: what early stop promises is Patience calm batches, not
// that no later batch would have moved a scale.
//
// Convergence describes the batches seen, not the data to come: on
// MinMax, a scale moves only when a batch holds a value beyond the range
// seen so far, so on data with rare extremes (real images) a calibration
// can converge, lose it to one unusual sample, and regain it.
//
// # Closed sets
//
// Role, Mode and Metric are typed; their text forms ("int8", "static",
// "accuracy", ...) are what JSON reports and model files hold, listed once
// in names.go. Calibration methods are quant.Method.
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
//   - A model with no quantizable layer comes back unchanged (ModeFP32)
//     and its Report says so.
//   - A model read by LoadModel computes bit-identical outputs to the one
//     saved, and reports the same Mode, Plan, Layers, Trace, Weights and
//     Bytes; saving it again gives the same bytes.
//
// # Model files
//
// Model.Save writes, and LoadModel reads, version 1 of the int8 model
// file: package nn's container (magic, version, JSON header, tensor
// records, CRC-32) with magic "PTQSPECQ" and typed records; Model.Save
// documents it byte by byte. LoadModel checks the magic (nn.ErrBadMagic),
// the version (nn.ErrVersion), the record structure (nn.ErrTruncated) and
// the checksum (nn.ErrChecksum) before it trusts any content, and checks
// every declared size against the bytes the file holds before it builds
// anything, so a small file cannot make it allocate much more than its
// own size.
package ptq
