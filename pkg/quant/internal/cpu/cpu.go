package cpu

// HasAVX2 reports that AVX2 instructions on YMM registers may run: the
// processor implements AVX and AVX2 and the operating system saves the
// YMM state.
var HasAVX2 = detectAVX2()
