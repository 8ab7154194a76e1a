// Command ptq trains, quantizes and reports on MNIST models.
//
// # Overview
//
// Usage:
//
//	ptq <command> [flags]
//
// Commands:
//
//	train        train a model on MNIST, save it and print its test accuracy
//	quantize     quantize a saved model to INT8 on MNIST calibration images and report
//	sensitivity  rank the layers of a saved model by what INT8 costs each on MNIST
//	mnist        the demo: train (or load from the cache), quantize and report on MNIST
//	scorecard    render the acceptance scorecard of a cucumber JSON run of the features
//	export       write a model as ONNX: FP32 (model file or .onnx) or INT8 (QDQ, QOperator)
//
// `ptq <command> -h` lists a command's flags. A command given bad flags or
// arguments prints its usage and exits with status 2; a command that fails
// exits with status 1. With -json a command prints one JSON object on its
// last line of output, for scripts and benchmarks.
//
// Interrupts: train, mnist, quantize and sensitivity stop on SIGINT or
// SIGTERM within one batch of whatever phase runs (training, calibration,
// evaluation, sensitivity, fallback, report writing, save), print which
// phase was interrupted and exit with status 130. Every file is written
// atomically (internal/atomicfile: a temporary file in the same folder,
// synced, renamed, the folder synced; mode 0644), so an interrupted run
// leaves the files of the phases before it whole, and no partial or
// temporary file.
//
// Progress: on a terminal, train, mnist, quantize and sensitivity draw
// progress bars on stderr (github.com/vbauerster/mpb/v8) for training
// batches, calibration batches, evaluation batches, sensitivity and
// fallback variants and report files, with counts, rate and time left.
// Piped output, -json and -quiet get none.
//
// train:
//
//	ptq train -model mlp|cnn -epochs N -seed S -out FILE [-limit N] [-json]
//
// trains a fresh model with the recipe of internal/modelcache (the one the
// acceptance features use) on the MNIST training set, or its first -limit
// images, evaluates it on the 10,000 test images and saves it to FILE.
//
// mnist:
//
//	ptq mnist [-model mlp|cnn] [-seed S] [-epochs N] [-limit N] [-calib 1000] [-calib-batch 100]
//	          [-method minmax|moving_average|percentile|entropy|mse] [-eval N] [-sens-eval 2000]
//	          [-threshold 0.5] [-budget 1.0] [-fallback] [-out reports/mnist-MODEL] [-save FILE] [-json]
//
// is the end-to-end demo. It takes the model from the model cache of
// internal/modelcache (training and storing it on the first run; with
// -limit it trains afresh on the first N training images and caches
// nothing), quantizes it statically to INT8 with calibration on the first
// -calib training images only (1,000 by default), evaluates FP32 and INT8
// on all 10,000 test images (or the first -eval), and runs the per-layer
// sensitivity analysis on the selection images, the last -sens-eval
// training images (2,000 by default, so that it stays quick; 0 skips it),
// which calibration never reads: -calib and -sens-eval together may not
// exceed the 60,000 training images. Layers are chosen on the selection
// images and judged on the test images. It prints FP32 and INT8
// accuracy, the drop in points against the -budget, model bytes and their
// ratio, calibration samples and convergence, the per-layer table, the
// sensitivity ranking, phase timings and where the report is. The report
// folder (-out, reports/mnist-MODEL by default, "" for none) receives
// report.html (with SVG charts), report.md and report.json from
// pkg/report, the charts as SVG files, and sensitivity.csv,
// sensitivity.json and sensitivity.md. With -fallback, when INT8 loses
// more than -budget points on the test images, the accuracy-aware fallback
// (ptq.QuantizeWithBudget, choosing on the selection images) reverts the
// most sensitive layers to FP32 until the drop on the selection images
// fits the budget, and the final model is judged on the test images. With
// -save FILE the final INT8 model (after any fallback) is written to FILE
// in package ptq's model file format, which ptq.LoadModelFile reads back
// into a model that computes the same outputs; FILE's folder must exist.
//
// The -json line of mnist and quantize holds at least model,
// calibration_samples, test_images, fp32_accuracy and int8_accuracy
// (fractions in [0, 1]), accuracy_drop and budget (percentage points,
// unlike report.json whose accuracy_drop is a fraction), within_budget,
// fp32_model_bytes, int8_model_bytes, size_ratio, ranking,
// sensitivity_images and sensitivity_set (how many selection images, and
// which), sensitive_layers, reverted_layers, report_dir, files, phase_seconds
// (load_data, train or load_model, traverse, calibrate, convert,
// layer_sqnr, evaluate_fp32, evaluate_int8, sensitivity, fallback,
// save_model, report) and total_seconds; with -save, saved_model is the
// INT8 model file.
//
// quantize and sensitivity:
//
//	ptq quantize -model FILE [-calib 1000] [-method M] [-eval N] [-sens-eval 0] [-threshold 0.5]
//	             [-budget 1.0] [-fallback] [-out DIR] [-save FILE] [-json]
//	ptq sensitivity -model FILE [-calib 1000] [-method M] [-sens-eval 2000] [-threshold 0.5] [-out DIR] [-json]
//
// do the same on a model file saved by train: quantize runs the mnist
// pipeline after training (no sensitivity analysis unless -sens-eval is
// set, no report files unless -out is); sensitivity ranks the layers on
// the selection images, writes the sensitivity files, and judges the
// choice on the 10,000 test images: FP32, all INT8, and INT8 with the
// sensitive layers in FP32 (test_fp32_accuracy, test_all_int8_accuracy,
// test_sensitive_fp32_accuracy in its -json line; phase evaluate_test).
//
// scorecard renders the acceptance scorecard (internal/scorecard) of a run
// of the features made with -godog.format=cucumber:FILE:
//
//	ptq scorecard -cucumber reports/cucumber.json [-out reports] [-features features] [-requirements features/README.md]
//
// It writes acceptance.html, acceptance.md and acceptance_margins.svg, and
// exits with status 1 when a threshold of the feature text has no
// criterion in the run (or a criterion matches no threshold).
//
// quantize, ONNX form, and export:
//
//	ptq quantize -model in.onnx -calib inputs.npy|N [-out out.onnx] [-format qdq|qoperator]
//	             [-method M] [-weights per-channel|per-tensor] [-activations int8|uint8]
//	             [-eval inputs.npy|N [-labels labels.npy]] [-verify] [-save FILE] [-json]
//	ptq export -model FILE -out FILE.onnx [-format fp32|qdq|qoperator] [-json]
//
// quantize takes this form when its arguments name an .onnx model or output,
// .npy data, or a flag only this form has (-format, -labels, -weights,
// -activations, -verify). The model is an ONNX file (imported by
// pkg/onnxio) or a model file of train; calibration samples come from a
// float32 .npy array [N, ...] in the model's input layout, or are the first N
// MNIST training images. It quantizes statically, compares FP32 and INT8 on
// -eval (top-1 agreement, and accuracy with -labels), writes -out as ONNX in
// QDQ or QOperator format, and with -verify runs -out in ONNX Runtime
// (internal/ortrun; `make tools` installs it) on -eval's samples and reports
// its top-1 agreement with ptqspec's INT8 model and the share of outputs
// within one output quantization step. export writes an FP32 model file or
// an .onnx file (re-exported) as FP32 ONNX, and an INT8 model file of
// quantize -save in QDQ (default) or QOperator format.
//
// # Adding a command
//
// Each command lives in its own file and registers itself:
//
//	func init() {
//		register(command{name: "quantize", summary: "...", run: runQuantize})
//	}
//
// where run parses its flags with newFlagSet and returns errUsage (wrapped)
// for bad arguments.
package main
