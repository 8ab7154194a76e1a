// Package ortrun runs ONNX files in ONNX Runtime, the judge that ptqspec's
// ONNX exports are measured against.
//
// # Overview
//
// ONNX Runtime 1.30 is pinned as the npm package onnxruntime-node in the
// module's tools/onnxruntime folder and installed by `make tools` (npm ci
// --ignore-scripts). Its runner script, tools/onnxruntime/run.mjs, runs as a
// Node.js subprocess; tensors go to it and come back as .npy files
// (internal/npyfile), results as one JSON line.
//
//	r, err := ortrun.Locate()       // node and the installed runner, or ErrNotInstalled
//	outs, err := r.Run(ctx, "model.onnx", map[string]*tensor.Tensor{"input": x})
//	res, err := r.Bench(ctx, "model.onnx", x, ortrun.BenchOptions{Batch: 64, Threads: 1, Warmup: 20, Iterations: 200})
//
// The package-level Run, RunBatches, Info and Bench use the Runner that
// Locate finds, located once per process.
//
// Bench times inference inside the runner's own process, after warm-up, with
// the given intra-op thread count, so that process start and file I/O do not
// count.
//
// # Locating
//
// node is $PTQSPEC_NODE or the first node on PATH; the runner folder is
// $PTQSPEC_ORT_DIR or tools/onnxruntime at the root of the ptqspec module
// found from the working directory (then from this source file's location).
// The folder must hold run.mjs and node_modules/onnxruntime-node at version
// 1.30.0.
//
// # Errors
//
// A missing node or a runner that is not installed gives a *SetupError that
// matches ErrNotInstalled and says to run `make tools`. A runner that fails
// gives a *RunError naming the operation and the model, with the runner's
// exit status and standard error; it matches ErrRunner, and a cancelled or
// expired context matches ctx.Err() as well.
//
// # Invariants
//
//   - Every call works in a temporary folder of its own, removed when it
//     returns: calls may run concurrently.
//   - Run returns every output of the model, keyed by its ONNX name, with the
//     shape ONNX Runtime gave it.
package ortrun
