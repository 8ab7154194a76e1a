//go:build !noasm

package cpu

// cpuid executes CPUID with EAX = leaf and ECX = sub and returns EAX, EBX,
// ECX and EDX.
//
//go:noescape
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// xgetbv returns XCR0, the state components the operating system saves
// (lo holds bits 0-31, hi bits 32-63). Only call it when CPUID.1:ECX
// reports OSXSAVE.
//
//go:noescape
func xgetbv() (lo, hi uint32)

const (
	cpuid1OSXSAVE = 1 << 27 // CPUID.1:ECX
	cpuid1AVX     = 1 << 28 // CPUID.1:ECX
	cpuid7AVX2    = 1 << 5  // CPUID.(7,0):EBX
	xcr0SSE       = 1 << 1  // XMM state
	xcr0AVX       = 1 << 2  // upper halves of the YMM registers
	cpuid7F       = 1 << 16 // CPUID.(7,0):EBX AVX512F
	cpuid7BW      = 1 << 30 // CPUID.(7,0):EBX AVX512BW
	cpuid7VL      = 1 << 31 // CPUID.(7,0):EBX AVX512VL
	cpuid7VNNI    = 1 << 11 // CPUID.(7,0):ECX AVX512_VNNI
	// xcr0AVX512 is the opmask registers, the upper halves of ZMM0-15
	// and ZMM16-31.
	xcr0AVX512 = 1<<5 | 1<<6 | 1<<7
)

func detectAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	if c1&cpuid1OSXSAVE == 0 || c1&cpuid1AVX == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&(xcr0SSE|xcr0AVX) != xcr0SSE|xcr0AVX {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&cpuid7AVX2 != 0
}

// detectAVX512VNNI reports AVX512F, BW, VL and VNNI with the ZMM state
// saved; call it only where detectAVX2 holds (OSXSAVE is then set).
func detectAVX512VNNI() bool {
	if xcr0, _ := xgetbv(); xcr0&xcr0AVX512 != xcr0AVX512 {
		return false
	}
	_, b7, c7, _ := cpuid(7, 0)
	const want = cpuid7F | cpuid7BW | cpuid7VL
	return b7&want == want && c7&cpuid7VNNI != 0
}

// asmBuild is true where the detection runs CPUID.
const asmBuild = true
