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
//	quantize     quantize a saved model (added with pkg/ptq)
//	sensitivity  per-layer sensitivity of a saved model (added with pkg/ptq)
//	mnist        the demo: train, quantize and report on MNIST (added with pkg/ptq)
//
// `ptq <command> -h` lists a command's flags. A command given bad flags or
// arguments prints its usage and exits with status 2; a command that fails
// exits with status 1. With -json a command prints one JSON object on its
// last line of output, for scripts and benchmarks.
//
// train:
//
//	ptq train -model mlp|cnn -epochs N -seed S -out FILE [-limit N] [-json]
//
// trains a fresh model with the recipe of internal/modelcache (the one the
// acceptance features use) on the MNIST training set, or its first -limit
// images, evaluates it on the 10,000 test images and saves it to FILE.
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
