//go:build noasm || !amd64

package qnn

// asmRequantKernels reports that this build has no assembly kernels:
// requantize runs their Go twins.
func asmRequantKernels() (requantKernels, bool) { return goRequantKernels, false }
