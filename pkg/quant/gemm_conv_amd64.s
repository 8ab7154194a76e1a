//go:build !noasm

#include "textflag.h"

// AVX-512 VNNI window kernels of GemmIntWindows (gemm_conv.go); the Go
// declarations in gemm_amd64.go say what they compute.
//
// Registers: SI the tile's first row in a, DI the tile's block of c, R8
// the panel stride in bytes (groups·64), R9 the row stride rs, R10 3·rs,
// R14 the tiles left; per run AX, R11 and R12 walk rows 0, 5 and 10 of
// the tile (rows 1-4 are AX plus R9, 2·R9, R10 and 4·R9, and so on), BX
// walks the panels, CX the groups of the run, DX the offsets and R13 the
// runs left.

// WROW2 broadcasts one row's group of 4 bytes (at addr) and adds its
// products with the two panel registers Z24, Z25 to the row's
// accumulators.
#define WROW2(addr, acc0, acc1) \
	VPBROADCASTD addr, Z26; \
	VPDPBUSD     Z24, Z26, acc0; \
	VPDPBUSD     Z25, Z26, acc1

// WROW1 is WROW2 for one panel register, Z24.
#define WROW1(addr, acc) \
	VPBROADCASTD addr, Z26; \
	VPDPBUSD     Z24, Z26, acc

#define WIN_ARGS \
	MOVQ a_base+0(FP), SI;     \
	MOVQ c_base+120(FP), DI;   \
	MOVQ offs_len+56(FP), R8;  \
	IMULQ seg4+72(FP), R8;     \
	SHLQ $6, R8;               \
	MOVQ rs+80(FP), R9;        \
	LEAQ (R9)(R9*2), R10;      \
	MOVQ tiles+88(FP), R14

// WIN_RUN sets AX, R11 and R12 to rows 0, 5 and 10 of the tile at the
// run's offset (DX), and CX to the groups of a run.
#define WIN_RUN \
	MOVQ (DX), AX;            \
	ADDQ SI, AX;              \
	LEAQ (AX)(R9*4), R11;     \
	ADDQ R9, R11;             \
	LEAQ (R11)(R9*4), R12;    \
	ADDQ R9, R12;             \
	MOVQ seg4+72(FP), CX

// WIN_NEXT_TILE moves SI and DI to the next tile (12 rows of a and of c,
// with R15 = 4·ldc on entry) and counts it.
#define WIN_NEXT_TILE \
	LEAQ (R15)(R15*2), R15;   \
	SHLQ $2, R15;             \
	ADDQ R15, DI;             \
	LEAQ (SI)(R10*4), SI;     \
	DECQ R14

// func windowTile12x32(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int)
TEXT ·windowTile12x32(SB), NOSPLIT, $0-152
	WIN_ARGS

tile2:
	MOVQ init_base+96(FP), R15
	VMOVDQU32 (R15), Z0
	VMOVDQU32 64(R15), Z1
	VMOVDQA32 Z0, Z2
	VMOVDQA32 Z1, Z3
	VMOVDQA32 Z0, Z4
	VMOVDQA32 Z1, Z5
	VMOVDQA32 Z0, Z6
	VMOVDQA32 Z1, Z7
	VMOVDQA32 Z0, Z8
	VMOVDQA32 Z1, Z9
	VMOVDQA32 Z0, Z10
	VMOVDQA32 Z1, Z11
	VMOVDQA32 Z0, Z12
	VMOVDQA32 Z1, Z13
	VMOVDQA32 Z0, Z14
	VMOVDQA32 Z1, Z15
	VMOVDQA32 Z0, Z16
	VMOVDQA32 Z1, Z17
	VMOVDQA32 Z0, Z18
	VMOVDQA32 Z1, Z19
	VMOVDQA32 Z0, Z20
	VMOVDQA32 Z1, Z21
	VMOVDQA32 Z0, Z22
	VMOVDQA32 Z1, Z23
	MOVQ b_base+24(FP), BX
	MOVQ offs_base+48(FP), DX
	MOVQ offs_len+56(FP), R13

run2:
	WIN_RUN

quad2:
	VMOVDQU32 (BX), Z24
	VMOVDQU32 (BX)(R8*1), Z25
	WROW2((AX), Z0, Z1)
	WROW2((AX)(R9*1), Z2, Z3)
	WROW2((AX)(R9*2), Z4, Z5)
	WROW2((AX)(R10*1), Z6, Z7)
	WROW2((AX)(R9*4), Z8, Z9)
	WROW2((R11), Z10, Z11)
	WROW2((R11)(R9*1), Z12, Z13)
	WROW2((R11)(R9*2), Z14, Z15)
	WROW2((R11)(R10*1), Z16, Z17)
	WROW2((R11)(R9*4), Z18, Z19)
	WROW2((R12), Z20, Z21)
	WROW2((R12)(R9*1), Z22, Z23)
	ADDQ $4, AX
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $64, BX
	DECQ CX
	JNZ  quad2
	ADDQ $8, DX
	DECQ R13
	JNZ  run2

	MOVQ ldc+144(FP), R15
	SHLQ $2, R15
	MOVQ DI, CX
	VMOVDQU32 Z0, (CX)
	VMOVDQU32 Z1, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z2, (CX)
	VMOVDQU32 Z3, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z4, (CX)
	VMOVDQU32 Z5, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z6, (CX)
	VMOVDQU32 Z7, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z8, (CX)
	VMOVDQU32 Z9, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z10, (CX)
	VMOVDQU32 Z11, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z12, (CX)
	VMOVDQU32 Z13, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z14, (CX)
	VMOVDQU32 Z15, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z16, (CX)
	VMOVDQU32 Z17, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z18, (CX)
	VMOVDQU32 Z19, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z20, (CX)
	VMOVDQU32 Z21, 64(CX)
	ADDQ R15, CX
	VMOVDQU32 Z22, (CX)
	VMOVDQU32 Z23, 64(CX)
	WIN_NEXT_TILE
	JNZ tile2

	VZEROUPPER
	RET

// func windowTile12x16(a []uint8, b []int8, offs []int, seg4, rs, tiles int, init, c []int32, ldc int)
TEXT ·windowTile12x16(SB), NOSPLIT, $0-152
	WIN_ARGS

tile1:
	MOVQ init_base+96(FP), R15
	VMOVDQU32 (R15), Z0
	VMOVDQA32 Z0, Z1
	VMOVDQA32 Z0, Z2
	VMOVDQA32 Z0, Z3
	VMOVDQA32 Z0, Z4
	VMOVDQA32 Z0, Z5
	VMOVDQA32 Z0, Z6
	VMOVDQA32 Z0, Z7
	VMOVDQA32 Z0, Z8
	VMOVDQA32 Z0, Z9
	VMOVDQA32 Z0, Z10
	VMOVDQA32 Z0, Z11
	MOVQ b_base+24(FP), BX
	MOVQ offs_base+48(FP), DX
	MOVQ offs_len+56(FP), R13

run1:
	WIN_RUN

quad1:
	VMOVDQU32 (BX), Z24
	WROW1((AX), Z0)
	WROW1((AX)(R9*1), Z1)
	WROW1((AX)(R9*2), Z2)
	WROW1((AX)(R10*1), Z3)
	WROW1((AX)(R9*4), Z4)
	WROW1((R11), Z5)
	WROW1((R11)(R9*1), Z6)
	WROW1((R11)(R9*2), Z7)
	WROW1((R11)(R10*1), Z8)
	WROW1((R11)(R9*4), Z9)
	WROW1((R12), Z10)
	WROW1((R12)(R9*1), Z11)
	ADDQ $4, AX
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $64, BX
	DECQ CX
	JNZ  quad1
	ADDQ $8, DX
	DECQ R13
	JNZ  run1

	MOVQ ldc+144(FP), R15
	SHLQ $2, R15
	MOVQ DI, CX
	VMOVDQU32 Z0, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z1, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z2, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z3, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z4, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z5, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z6, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z7, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z8, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z9, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z10, (CX)
	ADDQ R15, CX
	VMOVDQU32 Z11, (CX)
	WIN_NEXT_TILE
	JNZ tile1

	VZEROUPPER
	RET
