// Package report turns the results of a post-training quantization run into
// files a reviewer would rather look at than read: a self-contained HTML
// page with inline SVG charts, the same content as Markdown, and JSON for
// tools.
//
// # Overview
//
// A Run gathers what one job produced: FP32 and int8 accuracy, model
// sizes, the quantizer's ptq.Report, and optionally a
// ptq.SensitivityReport and a ptq.FallbackReport, plus per-phase timings.
//
//	run := &report.Run{Title: "MNIST MLP", Model: "mlp", FP32Accuracy: 0.981, Int8Accuracy: 0.979, Quant: rep}
//	paths, err := report.WriteAll("out/report", run)
//
// WriteHTML, WriteMarkdown and WriteJSON write one document each; WriteAll
// writes all three and each chart as a standalone SVG file; Charts returns
// the charts themselves. ReadJSON reads a JSON report back.
//
// # Charts
//
// Charts are drawn with gonum.org/v1/plot on its SVG backend, 6.5 inches
// wide (a printed page's text width):
//
//   - accuracy: FP32 and int8 accuracy bars, the drop in percentage
//     points and the budget line (FP32 minus Run.MaxDrop). The axis is
//     zoomed so a drop of a fraction of a point is visible; its label says
//     where it starts.
//   - layer_sqnr: the output SQNR of each quantized layer in model order,
//     against Run.SQNRReference; bars below it are amber, bars more than
//     10 dB below it red.
//   - weight_scales: per layer, the smallest to the largest per-channel
//     weight scale as a range bar with the mean, on a log axis.
//   - calibration: the largest relative activation-scale change of each
//     batch after the first (log axis), the tolerance, the batches after
//     which calibration was converged (shaded), and a line where it first
//     converged, where a later batch moving a scale by more than the
//     tolerance lost it, and where it was regained. The title says whether
//     calibration is converged at the end. Batches where no scale moved
//     are drawn at the bottom, batches where a tensor got its first scale
//     at the top.
//   - sensitivity (with Run.Sensitivity): per layer, most sensitive first,
//     the drop when only that layer is int8 and the recovery when only that
//     layer stays FP32, with the threshold.
//   - fallback (with Run.Fallback): the metric after each layer reverted to
//     FP32, from the all-int8 model, against FP32 and the budget.
//
// # The HTML page
//
// Headline numbers come first (accuracy FP32 → INT8 with the drop and the
// budget, model size with the ratio, calibration samples and whether
// calibration is converged at the end (and where it was lost), quantized layers with the output and lowest layer
// SQNR), then one section per chart with its table: the per-layer table
// (layer, kind, role, weight dtype/scheme/granularity, weight scale range,
// output scale / zero point, output range, SQNR, shaded and flagged "low"
// below the reference), the calibration history, the sensitivity ranking,
// the fallback steps, then the traversal's role and reason for every node,
// and the timings. The page embeds everything, uses no JavaScript, and
// prints cleanly.
//
// # JSON
//
// The JSON document (Schema "ptqspec.report/v1") has these fields; numbers
// are plain JSON numbers, accuracies fractions in [0, 1]:
//
//	schema               string  always "ptqspec.report/v1"
//	title, model, config string
//	calibration_samples  int
//	fp32_accuracy        number  FP32 top-1 accuracy
//	int8_accuracy        number  quantized top-1 accuracy
//	accuracy_drop        number  fp32_accuracy - int8_accuracy (derived)
//	max_drop             number  the accuracy budget, a fraction
//	within_budget        bool    accuracy_drop <= max_drop (derived)
//	fp32_bytes           int     model sizes
//	int8_bytes           int
//	size_ratio           number  fp32_bytes / int8_bytes, 0 if int8_bytes is 0 (derived)
//	sqnr_reference_db    number  the per-layer SQNR reference
//	timings_seconds      object  phase name -> seconds (omitted when empty)
//	quantization         object  the ptq.Report, with ptq's field names:
//	  mode, layers (ptq.LayerReport), times (ns), fp32_model_bytes,
//	  int8_model_bytes, output_sqnr_db, notes, and calibration:
//	  method, batches, samples, converged (at the end of calibration),
//	  converged_at_batch (the batch from which it held to the end, -1 when
//	  not converged), tolerance, patience, history: [{batch, samples,
//	  max_scale_change, worst_tensor, converged, event}], where
//	  max_scale_change is null for an infinite change (a tensor got its
//	  first scale in that batch), converged says whether the rule holds
//	  after that batch, and event, omitted when empty, is "converged",
//	  "lost" or "regained" (ptq.ConvergenceEvent)
//	sensitivity          object  ptq.SensitivityReport (ptq.SensitivitySchema), omitted when absent
//	fallback             object  ptq.FallbackReport, omitted when absent
//
// Derived fields are written for readers' convenience and ignored by
// ReadJSON.
//
// # Invariants
//
//   - Deterministic: the same Run gives the same bytes from every writer
//     (no timestamps, sorted map keys, gonum/plot's SVG output is itself
//     deterministic).
//   - The writers never modify the Run or the reports it points to.
//   - A Run with a nil Quant, or with numbers the charts cannot draw (NaN,
//     an accuracy outside [0, 1], a weight scale <= 0), is refused with an
//     error wrapping ErrInvalidRun that names the field; nothing is
//     written.
//   - Optional parts (Sensitivity, Fallback, calibration for dynamic
//     quantization, Timings) are simply left out when absent.
package report
