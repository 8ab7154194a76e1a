//go:build noasm || !amd64

package cpu

// detectAVX2 is false where the kernels are pure Go: other architectures
// and builds with the noasm tag.
func detectAVX2() bool { return false }

// detectAVX512VNNI is false where the kernels are pure Go.
func detectAVX512VNNI() bool { return false }

// asmBuild is true where the detection runs CPUID.
const asmBuild = false
