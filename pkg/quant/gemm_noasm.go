//go:build noasm || !amd64

package quant

// asmKernels reports that this build has no assembly kernels: the lane
// path runs, and tests may force the pair path onto its Go twins.
func asmKernels() (pairKernels, bool) { return goPairKernels, false }
