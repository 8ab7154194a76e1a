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
// QuantizeDynamic quantizes Linear weights (and Conv2D weights when
// Config.DynamicConv2D is set) and quantizes activations per call,
// keeping every layer boundary FP32.
//
// AnalyzeSensitivity tells which layers cost accuracy, in two views per
// layer (only this layer int8; only this layer FP32) plus its output SQNR,
// and writes Markdown, CSV and JSON (SensitivitySchema). QuantizeWithBudget
// reverts the most sensitive layers to FP32 one at a time until the
// accuracy drop fits a budget, and records every step.
//
// Model.Save and LoadModel (SaveFile, LoadModelFile) write and read a
// converted model, static, dynamic or FP32, in the format below, so that
// the int8 model ships without the FP32 one and without calibration data.
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
//   - A model read by LoadModel computes bit-identical outputs to the one
//     saved, and reports the same Mode, Plan, Layers, Trace, Weights and
//     Bytes; saving it again gives the same bytes.
//
// # Model file format
//
// Version 1 of the quantized model file. Its container is that of package
// nn's FP32 model file with another magic and typed tensor records. All
// integers are little-endian.
//
//	offset   size  field
//	0        8     magic "PTQSPECQ" (50 54 51 53 50 45 43 51)
//	8        4     format version (uint32) = 1
//	12       4     header length H (uint32)
//	16       H     model header, UTF-8 JSON (see below)
//	16+H     4     tensor record count T (uint32)
//	               T tensor records, in node order (see below), each:
//	                 2    name length L (uint16)
//	                 L    name "node.tensor", e.g. "fc1.weight"
//	                 1    element type: 'f' float32 (IEEE-754), 'i' int8,
//	                      'u' uint8, 'I' int32 (two's complement)
//	                 1    rank R (at most 8)
//	                 4R   dimensions (uint32 each)
//	                 s·n  the n = product-of-dimensions values, row-major,
//	                      s = 4 bytes for 'f' and 'I', 1 for 'i' and 'u'
//	end-4    4     CRC-32 (IEEE polynomial, hash/crc32.ChecksumIEEE) of
//	               every preceding byte
//
// The header is a JSON object:
//
//	{"mode": "static",                       // "static", "dynamic" or "fp32"
//	 "input": {"name": "input", "shape": [1, 28, 28]},
//	 "output": "fc",                          // the last node
//	 "nodes": [{
//	   "name": "conv1", "kind": "Conv2D", "inputs": ["input"], "shape": [8, 28, 28],
//	   "op": "int8_conv2d",
//	   "plan": {"role": "int8", "reason": "...", "consumers": ["bn1"],
//	            "fused_into": "", "fused": ["bn1", "relu1"], "int8_out": true,
//	            "quantize_inputs": ["input"], "dequantize_inputs": null,
//	            "config": {"keep_fp32": false, "method": "minmax", "overrides": null,
//	                       "weights": {"dtype": "int8", "scheme": "symmetric",
//	                                   "granularity": "per-channel", "axis": 0,
//	                                   "restricted": true, "reduce_range": false},
//	                       "activations": {...}}},
//	   "report": {...},                       // the node's LayerReport
//	   "kernel": {"in": 1, "out": 8, "conv": {"kh": 3, "kw": 3, "stride": 1, "pad": 1},
//	              "weights": {"dtype": "int8", "axis": 0, "qmin": -127, "qmax": 127},
//	              "bias": true, "relu": true,
//	              "input":  {"dtype": "int8", "scale": 0.0275, "zero_point": -1, "qmin": -128, "qmax": 127},
//	              "output": {...}}}, ...]}
//
// Each node names its inputs (the model input or earlier nodes), its
// per-sample output shape, its NodePlan (the node's name, kind, inputs
// and shape are the node's own; "role" as Role.String renders it) and
// its LayerReport in the JSON of Report. "op" says what the node runs and
// which fields and records follow:
//
//	op                fields    records (in this order)
//	fp32              attrs     the layer's parameters, then its buffers:
//	                            "node.param", 'f', named and shaped as in
//	                            package nn's format
//	int8_passthrough  attrs     as fp32 (the built-in pass-through layers
//	                            have none): ReLU, pooling, Flatten, Dropout,
//	                            Identity on int8 codes
//	fused             -         -: the node passes on its input, folded
//	                            into the int8 node before it
//	int8_add          add       -: "add" holds the qparams of each input
//	                            (FP32 inputs are quantized with them) and of
//	                            the output
//	int8_linear,      kernel    "node.weight": codes in the declared dtype
//	int8_conv2d,                ('i' or 'u'), [out, in] or [out, in, kh, kw];
//	dynamic_linear,             "node.weight_scale": 'f' [channels];
//	dynamic_conv2d              "node.weight_zero_point": 'I' [channels];
//	                            "node.bias" when "bias": 'I' [out] at scale
//	                            sIn·sW[c] (int8 kernels), 'f' [out]
//	                            (dynamic_linear, dynamic_conv2d)
//
// "attrs" is the layer's nn attributes (nn.LayerAttrs), rebuilt with the
// constructor registered for "kind" (nn.NewLayer). In "kernel", "in" and
// "out" count features or channels, channels is 1 for per-tensor weights
// (axis -1) or "out" (axis 0), "relu" is a fused ReLU clamping the int8
// output at its zero point, and "input" and "output" are the activation
// qparams of int8 kernels (absent for dynamic_linear and dynamic_conv2d,
// which quantize per call and fuse no ReLU); "conv" is the geometry of
// int8_conv2d and dynamic_conv2d. Activation and weight qparams are as
// declared, int8 or uint8, with "qmin" and "qmax" the saturation bounds
// (both 0: the dtype's range). Which ops a role may run depends on the
// mode: static runs int8 ops, fused and fp32 nodes; dynamic runs
// dynamic_linear, dynamic_conv2d and fp32; fp32 runs fp32 only.
//
// LoadModel reads the whole stream and checks the magic (nn.ErrBadMagic),
// the version (nn.ErrVersion), the record structure (nn.ErrTruncated, with
// the byte offset where the file ends) and the checksum (nn.ErrChecksum)
// before it trusts any content. It then rebuilds node after node, checking
// that each input exists, that each op fits its mode, role and kind, that
// the output shape in the header is the one the layer or kernel computes,
// that qparams are valid, that int8 pass-through nodes read int8 codes and
// that an int8 input arrives with the qparams its reader expects, and fails with nn.ErrParamShape, naming the node and the record's
// byte offset, on a missing, extra, misnamed, mistyped or misshapen
// record. Save refuses an FP32 layer that is not nn.Serializable
// (nn.ErrNotSerializable, naming the node) before writing anything.
package ptq
