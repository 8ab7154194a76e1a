//go:build noasm || !amd64

package quant

// asmKernels reports that this build has no assembly kernels: the lane
// path runs, and tests may force the pair path onto its Go twins.
func asmKernels() (pairKernels, bool) { return goPairKernels, false }

// asmVNNI reports that this build has no VNNI kernels.
func asmVNNI() (vnniKernels, bool) { return goVNNIKernels, false }

// peakLoop has no register-only loop to offer in a pure-Go build.
func peakLoop() (func(iters int), int) { return nil, 0 }

// asmWindows returns the Go twins of the window kernels in a pure-Go
// build.
func asmWindows() windowKernels { return goWindowKernels }
