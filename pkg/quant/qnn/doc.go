// Package qnn holds the int8 twins of the float layers in package nn: the
// kernels a statically or dynamically quantized model runs.
//
// # Overview
//
// Linear and Conv2D multiply int8 activations by int8 weights with int32
// accumulation (quant.GemmIntPacked, the weights packed once when the
// kernel is built; Conv2D lays each output position's window out as a row,
// im2row), add an int32 bias and requantize the accumulator to the
// output's int8 grid. Add rescales its inputs to one
// output scale. ReLU, MaxPool2D, AvgPool2D and GlobalAvgPool work on int8
// codes directly. DynamicLinear and DynamicConv2D quantize their FP32
// input per call (DynamicParams, per tensor, uint8) and return FP32;
// DynamicConv2D runs Conv2D's im2row and GEMM on the codes.
//
// # Running a model without allocating
//
// Every kernel has an Into form (Linear.ForwardInto, Conv2D.ForwardInto,
// MaxPool2DInto, AddInto, Act.QuantizeInto, ...) that writes into a
// Tensor the caller keeps and works in a Scratch the caller keeps, on the
// calling goroutine: a model that runs them step after step allocates
// nothing once its buffers have grown to the batch (package ptq does, one
// Scratch per goroutine, and splits a batch over goroutines itself).
// Conv2D.ForwardMaxPoolInto runs a Conv2D (with its fused ReLU) and the
// MaxPool2D after it as one kernel: requantization never decreases as the
// accumulator grows, so the int32 accumulators are max-pooled (channel
// vectors at a time, AVX2 for 2×2 windows of stride 2) and only the
// pooled ones requantized; the codes are those of the two steps exactly.
// Conv2D.Prepare packs a convolution's weights once more, in (kernel row,
// kernel column, channel) order, so that PreparedConv2D gathers each
// window as KH runs of KW·InC codes of a channels-last copy of the sample
// instead of InC·KH runs of KW codes; same integers, same codes.
//
// # Channels-last kernels
//
// Conv2D.PrepareNHWC gives a stride-1 convolution that reads and writes
// channels-last tensors ([N, H, W, C]), so that a model keeping its
// activations in that order between kernels (package ptq does) copies
// nothing from layer to layer. Each sample is copied once, shifted to
// unsigned, into a padded image; the output positions are numbered over
// the padded width, so that each window row is a run of KW·InC codes at a
// fixed stride from the previous position's, and quant.GemmIntWindows
// multiplies the windows in place (AVX-512 VNNI), without an im2row matrix
// or a packed copy of A; the positions past each output row are dropped.
// Requantization then writes codes in the accumulators' order (sixteen
// channels per AVX-512 instruction). MaxPool2DNHWCInto, NHWCToNCHWInto
// and Linear.PermuteNHWC (the weight columns of a Linear after Flatten,
// permuted to the channels-last order) complete the set. The integers are
// the same sums in another order: every code equals the NCHW kernels'.
//
// # Storage convention
//
// Every quantized activation and weight is stored as int8 codes. A tensor
// declared uint8 is stored shifted by -128, with its zero point and bounds
// shifted the same way: (q - 128) - (zp - 128) = q - zp, so every real value
// and every rounding decision is exactly that of the uint8 tensor, and one
// set of kernels serves int8 and uint8. Act.Declared keeps the declared
// parameters for reports.
//
// # Arithmetic
//
// Requantization is package quant's, the float32 arithmetic of ONNX
// Runtime's QLinearConv and QLinearMatMul: the multiplier
// quant.RequantMultiplier(sIn, sW[c], sOut) once per channel, and per code
// quant.RequantizeValue(acc + bias[c], M[c], zOut, min, max) =
// round_half_even(clamp(float32(acc + bias)·M)) + zOut. The AVX2 block
// kernels compute the same in float32 lanes and are tested bit for bit
// against it; Linear and Conv2D are tested bit for bit against package
// onnx's QLinearMatMul and QLinearConv. Biases are int32 with scale
// sIn·sW[c] and zero point 0, quantized by quant.QuantizeBias.
//
// # Invariants
//
//   - Kernels never allocate per element; Conv2D and DynamicConv2D work
//     sample by sample in parallel (GOMAXPROCS goroutines) and each output depends only on its
//     sample, so results are bit-identical for any parallelism. The Into
//     forms run on the calling goroutine and allocate only to grow the
//     caller's buffers; they give the codes Forward gives, bit for bit.
//   - Shapes are checked by the layers' constructors and Forward methods;
//     data-dependent problems return errors, never panics.
//   - Convolution geometry is bounded (constructors and every Forward):
//     channels, kernel and stride positive, padding non-negative and
//     smaller than the kernel, as PyTorch and nn.Conv2D require, so an
//     output is at most (H+KH)×(W+KW); the output and each per-sample
//     buffer (im2row matrix, padded sample, accumulators) hold at most
//     tensor.MaxElements elements (settable, tensor.SetMaxElements), checked
//     before allocating, else an error wrapping tensor.ErrTooLarge names
//     the buffer.
package qnn
