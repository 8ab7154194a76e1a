package cpu

// HasAVX2 reports that AVX2 instructions on YMM registers may run: the
// processor implements AVX and AVX2 and the operating system saves the
// YMM state.
var HasAVX2 = detectAVX2()

// HasAVX512VNNI reports that AVX-512 VNNI instructions (VPDPBUSD) on ZMM
// registers may run, with the AVX-512 F, BW and VL instructions the
// kernels use beside them: the processor implements AVX512F, AVX512BW,
// AVX512VL and AVX512_VNNI, and the operating system saves the opmask and
// ZMM state as well as the YMM state.
var HasAVX512VNNI = HasAVX2 && detectAVX512VNNI()
