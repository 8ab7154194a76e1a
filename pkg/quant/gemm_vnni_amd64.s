//go:build !noasm

#include "textflag.h"

// AVX-512 VNNI kernels of the VNNI path (gemm_vnni.go) and the
// register-only peak loops; each Go declaration in gemm_amd64.go says
// what it computes.

// VNNI_ROW2 broadcasts row r's group of 4 bytes of A' (at off(AX)) and
// adds its products with the two panel registers Z24, Z25 to the row's
// accumulators.
#define VNNI_ROW2(off, acc0, acc1) \
	VPBROADCASTD off(AX), Z26; \
	VPDPBUSD     Z24, Z26, acc0; \
	VPDPBUSD     Z25, Z26, acc1

// VNNI_ROW1 is VNNI_ROW2 for one panel register, Z24.
#define VNNI_ROW1(off, acc) \
	VPBROADCASTD off(AX), Z26; \
	VPDPBUSD     Z24, Z26, acc

// FIX2 subtracts rowSum[r]·zbs (Z24, Z25) from row r's accumulators.
#define FIX2(off, acc0, acc1) \
	VPBROADCASTD off(R13), Z26; \
	VPMULLD      Z24, Z26, Z27; \
	VPSUBD       Z27, acc0, acc0; \
	VPMULLD      Z25, Z26, Z27; \
	VPSUBD       Z27, acc1, acc1

// FIX1 is FIX2 for one panel.
#define FIX1(off, acc) \
	VPBROADCASTD off(R13), Z26; \
	VPMULLD      Z24, Z26, Z27; \
	VPSUBD       Z27, acc, acc

// LOAD_ARGS loads the arguments of both tile kernels.
//
// Registers: SI the A' tile, DI the block's first panel, R8 the panel
// stride in bytes (quads·64), R9 the row stride of c in bytes, R10
// quads, R11 the blocks left, R12 init, R13 rowSum, R14 len(rowSum), R15
// zbs, DX the block in c; AX, BX and CX walk A', the panels and the
// groups.
#define LOAD_ARGS \
	MOVQ a_base+0(FP), SI;    \
	MOVQ b_base+24(FP), DI;   \
	MOVQ quads+48(FP), R10;   \
	MOVQ blocks+56(FP), R11;  \
	MOVQ init_base+64(FP), R12; \
	MOVQ rowSum_base+88(FP), R13; \
	MOVQ rowSum_len+96(FP), R14; \
	MOVQ zbs_base+112(FP), R15; \
	MOVQ c_base+136(FP), DX;  \
	MOVQ ldc+160(FP), R9;     \
	SHLQ $2, R9;              \
	MOVQ R10, R8;             \
	SHLQ $6, R8

// func vnniTile12x32(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)
TEXT ·vnniTile12x32(SB), NOSPLIT, $0-168
	LOAD_ARGS

block32:
	VMOVDQU32 (R12), Z0
	VMOVDQU32 64(R12), Z1
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
	MOVQ      SI, AX
	MOVQ      DI, BX
	MOVQ      R10, CX

quad32:
	VMOVDQU32 (BX), Z24
	VMOVDQU32 (BX)(R8*1), Z25
	VNNI_ROW2(0, Z0, Z1)
	VNNI_ROW2(4, Z2, Z3)
	VNNI_ROW2(8, Z4, Z5)
	VNNI_ROW2(12, Z6, Z7)
	VNNI_ROW2(16, Z8, Z9)
	VNNI_ROW2(20, Z10, Z11)
	VNNI_ROW2(24, Z12, Z13)
	VNNI_ROW2(28, Z14, Z15)
	VNNI_ROW2(32, Z16, Z17)
	VNNI_ROW2(36, Z18, Z19)
	VNNI_ROW2(40, Z20, Z21)
	VNNI_ROW2(44, Z22, Z23)
	ADDQ      $48, AX
	ADDQ      $64, BX
	DECQ      CX
	JNZ       quad32

	TESTQ     R14, R14
	JZ        store32
	VMOVDQU32 (R15), Z24
	VMOVDQU32 64(R15), Z25
	FIX2(0, Z0, Z1)
	FIX2(4, Z2, Z3)
	FIX2(8, Z4, Z5)
	FIX2(12, Z6, Z7)
	FIX2(16, Z8, Z9)
	FIX2(20, Z10, Z11)
	FIX2(24, Z12, Z13)
	FIX2(28, Z14, Z15)
	FIX2(32, Z16, Z17)
	FIX2(36, Z18, Z19)
	FIX2(40, Z20, Z21)
	FIX2(44, Z22, Z23)

store32:
	MOVQ      DX, BX
	VMOVDQU32 Z0, (BX)
	VMOVDQU32 Z1, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z2, (BX)
	VMOVDQU32 Z3, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z4, (BX)
	VMOVDQU32 Z5, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z6, (BX)
	VMOVDQU32 Z7, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z8, (BX)
	VMOVDQU32 Z9, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z10, (BX)
	VMOVDQU32 Z11, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z12, (BX)
	VMOVDQU32 Z13, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z14, (BX)
	VMOVDQU32 Z15, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z16, (BX)
	VMOVDQU32 Z17, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z18, (BX)
	VMOVDQU32 Z19, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z20, (BX)
	VMOVDQU32 Z21, 64(BX)
	ADDQ      R9, BX
	VMOVDQU32 Z22, (BX)
	VMOVDQU32 Z23, 64(BX)

	ADDQ      $128, DX
	ADDQ      $128, R12
	ADDQ      $128, R15
	LEAQ      (DI)(R8*2), DI
	DECQ      R11
	JNZ       block32

	VZEROUPPER
	RET

// func vnniTile12x16(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)
TEXT ·vnniTile12x16(SB), NOSPLIT, $0-168
	LOAD_ARGS

block16:
	VMOVDQU32 (R12), Z0
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
	MOVQ      SI, AX
	MOVQ      DI, BX
	MOVQ      R10, CX

quad16:
	VMOVDQU32 (BX), Z24
	VNNI_ROW1(0, Z0)
	VNNI_ROW1(4, Z1)
	VNNI_ROW1(8, Z2)
	VNNI_ROW1(12, Z3)
	VNNI_ROW1(16, Z4)
	VNNI_ROW1(20, Z5)
	VNNI_ROW1(24, Z6)
	VNNI_ROW1(28, Z7)
	VNNI_ROW1(32, Z8)
	VNNI_ROW1(36, Z9)
	VNNI_ROW1(40, Z10)
	VNNI_ROW1(44, Z11)
	ADDQ      $48, AX
	ADDQ      $64, BX
	DECQ      CX
	JNZ       quad16

	TESTQ     R14, R14
	JZ        store16
	VMOVDQU32 (R15), Z24
	FIX1(0, Z0)
	FIX1(4, Z1)
	FIX1(8, Z2)
	FIX1(12, Z3)
	FIX1(16, Z4)
	FIX1(20, Z5)
	FIX1(24, Z6)
	FIX1(28, Z7)
	FIX1(32, Z8)
	FIX1(36, Z9)
	FIX1(40, Z10)
	FIX1(44, Z11)

store16:
	MOVQ      DX, BX
	VMOVDQU32 Z0, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z1, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z2, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z3, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z4, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z5, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z6, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z7, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z8, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z9, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z10, (BX)
	ADDQ      R9, BX
	VMOVDQU32 Z11, (BX)

	ADDQ      $64, DX
	ADDQ      $64, R12
	ADDQ      $64, R15
	ADDQ      R8, DI
	DECQ      R11
	JNZ       block16

	VZEROUPPER
	RET

// func peakVNNI(iters int)
TEXT ·peakVNNI(SB), NOSPLIT, $0-8
	MOVQ      iters+0(FP), CX
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	VPXORD    Z4, Z4, Z4
	VPXORD    Z5, Z5, Z5
	VPXORD    Z6, Z6, Z6
	VPXORD    Z7, Z7, Z7
	VPXORD    Z8, Z8, Z8
	VPXORD    Z9, Z9, Z9
	VPXORD    Z10, Z10, Z10
	VPXORD    Z11, Z11, Z11
	VPXORD    Z12, Z12, Z12
	VPXORD    Z13, Z13, Z13
	VPXORD    Z14, Z14, Z14
	VPXORD    Z15, Z15, Z15
	VPXORD    Z16, Z16, Z16
	VPXORD    Z17, Z17, Z17
	VPXORD    Z18, Z18, Z18
	VPXORD    Z19, Z19, Z19
	VPXORD    Z20, Z20, Z20
	VPXORD    Z21, Z21, Z21
	VPXORD    Z22, Z22, Z22
	VPXORD    Z23, Z23, Z23
	VPTERNLOGD $0xff, Z24, Z24, Z24
	VPTERNLOGD $0xff, Z25, Z25, Z25
	VPTERNLOGD $0xff, Z26, Z26, Z26

peakvnni:
	VPDPBUSD  Z24, Z26, Z0
	VPDPBUSD  Z25, Z26, Z1
	VPDPBUSD  Z24, Z26, Z2
	VPDPBUSD  Z25, Z26, Z3
	VPDPBUSD  Z24, Z26, Z4
	VPDPBUSD  Z25, Z26, Z5
	VPDPBUSD  Z24, Z26, Z6
	VPDPBUSD  Z25, Z26, Z7
	VPDPBUSD  Z24, Z26, Z8
	VPDPBUSD  Z25, Z26, Z9
	VPDPBUSD  Z24, Z26, Z10
	VPDPBUSD  Z25, Z26, Z11
	VPDPBUSD  Z24, Z26, Z12
	VPDPBUSD  Z25, Z26, Z13
	VPDPBUSD  Z24, Z26, Z14
	VPDPBUSD  Z25, Z26, Z15
	VPDPBUSD  Z24, Z26, Z16
	VPDPBUSD  Z25, Z26, Z17
	VPDPBUSD  Z24, Z26, Z18
	VPDPBUSD  Z25, Z26, Z19
	VPDPBUSD  Z24, Z26, Z20
	VPDPBUSD  Z25, Z26, Z21
	VPDPBUSD  Z24, Z26, Z22
	VPDPBUSD  Z25, Z26, Z23
	DECQ      CX
	JNZ       peakvnni
	VZEROUPPER
	RET

// func peakAVX2(iters int)
TEXT ·peakAVX2(SB), NOSPLIT, $0-8
	MOVQ     iters+0(FP), CX
	VPXOR    Y0, Y0, Y0
	VPXOR    Y1, Y1, Y1
	VPXOR    Y2, Y2, Y2
	VPXOR    Y3, Y3, Y3
	VPXOR    Y4, Y4, Y4
	VPXOR    Y5, Y5, Y5
	VPXOR    Y6, Y6, Y6
	VPXOR    Y7, Y7, Y7
	VPXOR    Y8, Y8, Y8
	VPXOR    Y9, Y9, Y9
	VPXOR    Y10, Y10, Y10
	VPXOR    Y11, Y11, Y11
	VPCMPEQD Y12, Y12, Y12
	VPCMPEQD Y13, Y13, Y13

peakavx2:
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y0, Y0
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y1, Y1
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y2, Y2
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y3, Y3
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y4, Y4
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y5, Y5
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y6, Y6
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y7, Y7
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y8, Y8
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y9, Y9
	VPMADDWD Y12, Y13, Y14
	VPADDD   Y14, Y10, Y10
	VPMADDWD Y12, Y13, Y15
	VPADDD   Y15, Y11, Y11
	DECQ     CX
	JNZ      peakavx2
	VZEROUPPER
	RET

// func packQuadsAsm(dst, src []byte, rows, k, quads int, flip uint32)
//
// Registers: DI the current tile of dst, SI the current row of src, R8
// the rows left, R9 k, R10 the whole groups of a row (k/4), R11 the tile
// length in bytes, R12 the row within the tile, DX the flip pattern; BX
// and CX walk dst and src, R13 counts groups, R14 holds one group.
TEXT ·packQuadsAsm(SB), NOSPLIT, $0-76
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ rows+48(FP), R8
	MOVQ k+56(FP), R9
	MOVQ R9, R10
	SHRQ $2, R10
	MOVQ quads+64(FP), R11
	IMULQ $48, R11
	MOVL flip+72(FP), DX
	XORQ R12, R12
	TESTQ R8, R8
	JZ   packdone
	TESTQ R10, R10
	JZ   packdone

packrow:
	LEAQ (DI)(R12*4), BX
	MOVQ SI, CX
	MOVQ R10, R13

packquad:
	MOVL (CX), R14
	XORL DX, R14
	MOVL R14, (BX)
	ADDQ $4, CX
	ADDQ $48, BX
	DECQ R13
	JNZ  packquad

	ADDQ R9, SI
	INCQ R12
	CMPQ R12, $12
	JLT  packnext
	XORQ R12, R12
	ADDQ R11, DI

packnext:
	DECQ R8
	JNZ  packrow

packdone:
	RET

// VNNI_ROW4 broadcasts row r's group (at off(AX)) and adds its products
// with the four panel registers Z16-Z19 to the row's accumulators.
#define VNNI_ROW4(off, acc0, acc1, acc2, acc3) \
	VPBROADCASTD off(AX), Z20; \
	VPDPBUSD     Z16, Z20, acc0; \
	VPDPBUSD     Z17, Z20, acc1; \
	VPDPBUSD     Z18, Z20, acc2; \
	VPDPBUSD     Z19, Z20, acc3

// FIX4 subtracts rowSum[r]·zbs (Z16-Z19) from row r's accumulators.
#define FIX4(off, acc0, acc1, acc2, acc3) \
	VPBROADCASTD off(R13), Z20; \
	VPMULLD      Z16, Z20, Z21; \
	VPSUBD       Z21, acc0, acc0; \
	VPMULLD      Z17, Z20, Z21; \
	VPSUBD       Z21, acc1, acc1; \
	VPMULLD      Z18, Z20, Z21; \
	VPSUBD       Z21, acc2, acc2; \
	VPMULLD      Z19, Z20, Z21; \
	VPSUBD       Z21, acc3, acc3

// STORE4 writes one row of 64 columns at BX.
#define STORE4(acc0, acc1, acc2, acc3) \
	VMOVDQU32 acc0, (BX); \
	VMOVDQU32 acc1, 64(BX); \
	VMOVDQU32 acc2, 128(BX); \
	VMOVDQU32 acc3, 192(BX)

// func vnniTile4x64(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int)
//
// The first 4 rows of a 12-row tile of A' against blocks of four panels
// (64 columns); registers as in the 12-row kernels, with DX walking the
// panels of a block (DI, DI+R8, DI+2·R8, DX = DI+3·R8).
TEXT ·vnniTile4x64(SB), NOSPLIT, $0-168
	LOAD_ARGS

block64:
	VMOVDQU32 (R12), Z0
	VMOVDQU32 64(R12), Z1
	VMOVDQU32 128(R12), Z2
	VMOVDQU32 192(R12), Z3
	VMOVDQA32 Z0, Z4
	VMOVDQA32 Z1, Z5
	VMOVDQA32 Z2, Z6
	VMOVDQA32 Z3, Z7
	VMOVDQA32 Z0, Z8
	VMOVDQA32 Z1, Z9
	VMOVDQA32 Z2, Z10
	VMOVDQA32 Z3, Z11
	VMOVDQA32 Z0, Z12
	VMOVDQA32 Z1, Z13
	VMOVDQA32 Z2, Z14
	VMOVDQA32 Z3, Z15
	MOVQ      SI, AX
	MOVQ      DI, BX
	LEAQ      (DI)(R8*2), R14
	ADDQ      R8, R14
	MOVQ      R10, CX

quad64:
	VMOVDQU32 (BX), Z16
	VMOVDQU32 (BX)(R8*1), Z17
	VMOVDQU32 (BX)(R8*2), Z18
	VMOVDQU32 (R14), Z19
	VNNI_ROW4(0, Z0, Z1, Z2, Z3)
	VNNI_ROW4(4, Z4, Z5, Z6, Z7)
	VNNI_ROW4(8, Z8, Z9, Z10, Z11)
	VNNI_ROW4(12, Z12, Z13, Z14, Z15)
	ADDQ      $48, AX
	ADDQ      $64, BX
	ADDQ      $64, R14
	DECQ      CX
	JNZ       quad64

	MOVQ      rowSum_len+96(FP), R14
	TESTQ     R14, R14
	JZ        store64
	VMOVDQU32 (R15), Z16
	VMOVDQU32 64(R15), Z17
	VMOVDQU32 128(R15), Z18
	VMOVDQU32 192(R15), Z19
	FIX4(0, Z0, Z1, Z2, Z3)
	FIX4(4, Z4, Z5, Z6, Z7)
	FIX4(8, Z8, Z9, Z10, Z11)
	FIX4(12, Z12, Z13, Z14, Z15)

store64:
	MOVQ      DX, BX
	STORE4(Z0, Z1, Z2, Z3)
	ADDQ      R9, BX
	STORE4(Z4, Z5, Z6, Z7)
	ADDQ      R9, BX
	STORE4(Z8, Z9, Z10, Z11)
	ADDQ      R9, BX
	STORE4(Z12, Z13, Z14, Z15)

	ADDQ      $256, DX
	ADDQ      $256, R12
	ADDQ      $256, R15
	LEAQ      (DI)(R8*4), DI
	DECQ      R11
	JNZ       block64

	VZEROUPPER
	RET

// func packQuads4x4Asm(dst, src []byte, rows, k, quads int, flip uint32)
//
// packQuadsAsm for rows a multiple of 4 and the first (k/4)&^3 groups
// of each row: 4 rows × 4 groups are loaded as 4 XMM registers, flipped,
// transposed as a 4×4 matrix of dwords and stored as 4 runs of 16 bytes
// (one group of 4 consecutive rows each).
//
// Registers: DI the current tile, SI the first of the 4 rows, R8 the row
// groups left, R9 k, R10 the 4-group blocks of a row, R11 the tile
// length in bytes, R12 the row within the tile (0, 4, 8), X15 the flip
// pattern; BX and CX walk dst and src, R13 counts blocks, DX scratch.
TEXT ·packQuads4x4Asm(SB), NOSPLIT, $0-76
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         rows+48(FP), R8
	SHRQ         $2, R8
	MOVQ         k+56(FP), R9
	MOVQ         R9, R10
	SHRQ         $4, R10
	MOVQ         quads+64(FP), R11
	IMULQ        $48, R11
	MOVL         flip+72(FP), AX
	MOVL         AX, X15
	VPBROADCASTD X15, X15
	XORQ         R12, R12
	TESTQ        R8, R8
	JZ           p4done
	TESTQ        R10, R10
	JZ           p4done

p4rows:
	LEAQ (DI)(R12*4), BX
	MOVQ SI, CX
	MOVQ R10, R13

p4block:
	VMOVDQU      (CX), X0
	VMOVDQU      (CX)(R9*1), X1
	VMOVDQU      (CX)(R9*2), X2
	LEAQ         (CX)(R9*2), DX
	VMOVDQU      (DX)(R9*1), X3
	VPXOR        X15, X0, X0
	VPXOR        X15, X1, X1
	VPXOR        X15, X2, X2
	VPXOR        X15, X3, X3
	VPUNPCKLDQ   X1, X0, X4
	VPUNPCKHDQ   X1, X0, X5
	VPUNPCKLDQ   X3, X2, X6
	VPUNPCKHDQ   X3, X2, X7
	VPUNPCKLQDQ  X6, X4, X0
	VPUNPCKHQDQ  X6, X4, X1
	VPUNPCKLQDQ  X7, X5, X2
	VPUNPCKHQDQ  X7, X5, X3
	VMOVDQU      X0, (BX)
	VMOVDQU      X1, 48(BX)
	VMOVDQU      X2, 96(BX)
	VMOVDQU      X3, 144(BX)
	ADDQ         $16, CX
	ADDQ         $192, BX
	DECQ         R13
	JNZ          p4block

	LEAQ (SI)(R9*4), SI
	ADDQ $4, R12
	CMPQ R12, $12
	JLT  p4next
	XORQ R12, R12
	ADDQ R11, DI

p4next:
	DECQ R8
	JNZ  p4rows

p4done:
	VZEROUPPER
	RET
