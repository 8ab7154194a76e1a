// Package cpu reports the x86-64 vector extensions that the assembly
// kernels of quant and qnn need, without a dependency: CPUID says what the
// processor implements and XGETBV what the operating system saves on a
// context switch; an extension counts only when both agree.
//
// # Overview
//
// HasAVX2 is set on amd64 when the processor implements AVX and AVX2 and
// the operating system enables the YMM state (XCR0 bits 1 and 2). It is
// false on other architectures and in builds with the noasm tag, which
// select the pure-Go kernels everywhere. HasAVX512VNNI is set when, besides,
// the processor implements AVX512F, AVX512BW, AVX512VL and AVX512_VNNI
// and the operating system enables the opmask and ZMM state (XCR0 bits 5,
// 6 and 7).
//
// # Invariants
//
// The values are computed once, at package initialisation, and never
// change; kernels that read them may therefore pick an implementation in
// their own package variables, which tests may override.
package cpu
