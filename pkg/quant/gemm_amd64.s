//go:build !noasm

#include "textflag.h"

// Kernels of the pair path (gemm_pair.go); each Go declaration in
// gemm_amd64.go carries the reference loop it computes.

// PAIR_ROW multiplies the pair broadcast from addr with the panel's two
// registers (Y12: columns 0-7, Y13: columns 8-15) and adds to one row of
// the tile. Y14 and Y15 are scratch.
#define PAIR_ROW(addr, acc0, acc1) \
	VPBROADCASTD addr, Y14;   \
	VPMADDWD     Y12, Y14, Y15; \
	VPADDD       Y15, acc0, acc0; \
	VPMADDWD     Y13, Y14, Y14; \
	VPADDD       Y14, acc1, acc1

// WIDEN_ROWS is the body of the widening kernels, after the arguments are
// loaded; extend is VPMOVSXBW or VPMOVZXBW and load MOVBQSX or MOVBQZX.
// Rows are widened 16 values at a time while 16 bytes remain in src from
// the current position, even past the end of the row: the values that
// spill into the next row's place in dst are rewritten when that row is
// widened, and the padding after k is zeroed last. Short rows near the end
// of src go one value at a time.
//
// Registers: SI the current row of src, DI that of dst, BX lda, R8 the row
// stride of dst in bytes, R9 k, R10 the rows left, R11 the current zero
// point, R12 len(za) then its step (4 for one zero point per row, else
// 0), R13 the zero point, DX the bytes of src from the current row on, CX
// the column, AX scratch; Y1 the zero point in each word.
#define WIDEN_ROWS(extend, load) \
	LEAQ         (BX)(BX*1), R8; \
	MOVQ         R9, DX; \
	IMULQ        R10, DX; \
	CMPQ         R12, $1; \
	MOVQ         $4, R12; \
	JNE          start; \
	XORQ         R12, R12; \
start: \
	TESTQ        R10, R10; \
	JZ           done; \
row: \
	MOVLQSX      (R11), R13; \
	VPBROADCASTW (R11), Y1; \
	XORQ         CX, CX; \
vec: \
	CMPQ         CX, R9; \
	JGE          pad; \
	LEAQ         16(CX), AX; \
	CMPQ         AX, DX; \
	JGT          tail; \
	extend       (SI)(CX*1), Y0; \
	VPSUBW       Y1, Y0, Y0; \
	VMOVDQU      Y0, (DI)(CX*2); \
	MOVQ         AX, CX; \
	JMP          vec; \
tail: \
	CMPQ         CX, R9; \
	JGE          pad; \
	load         (SI)(CX*1), AX; \
	SUBQ         R13, AX; \
	MOVW         AX, (DI)(CX*2); \
	INCQ         CX; \
	JMP          tail; \
pad: \
	MOVQ         R9, CX; \
padding: \
	CMPQ         CX, BX; \
	JGE          next; \
	MOVW         $0, (DI)(CX*2); \
	INCQ         CX; \
	JMP          padding; \
next: \
	ADDQ         R9, SI; \
	SUBQ         R9, DX; \
	ADDQ         R8, DI; \
	ADDQ         R12, R11; \
	DECQ         R10; \
	JNZ          row; \
done: \
	VZEROUPPER; \
	RET

// func tile6x16AVX2(a []int16, lda int, b []int16, pairs, tiles int, c []int32, ldc int)
//
// Registers: SI the tile's row 0 of a, R12 and R13 the current pair of
// rows 0 and 3, R8 the row stride of a in bytes, DI the current pair of
// the panel, DX the tile in c, R9 the row stride of c in bytes, R10 pairs,
// R11 the tiles left, CX the pairs left; Y0-Y11 the 6×16 accumulators
// (row r in Y2r, Y2r+1).
TEXT ·tile6x16AVX2(SB), NOSPLIT, $0-104
	MOVQ a_base+0(FP), SI
	MOVQ lda+24(FP), R8
	SHLQ $1, R8
	MOVQ b_base+32(FP), DI
	MOVQ pairs+56(FP), R10
	MOVQ tiles+64(FP), R11
	MOVQ c_base+72(FP), DX
	MOVQ ldc+96(FP), R9
	SHLQ $2, R9

tile:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	MOVQ  SI, R12
	LEAQ  (SI)(R8*2), R13
	ADDQ  R8, R13
	MOVQ  R10, CX

pair:
	VMOVDQU (DI), Y12
	VMOVDQU 32(DI), Y13
	PAIR_ROW((R12), Y0, Y1)
	PAIR_ROW((R12)(R8*1), Y2, Y3)
	PAIR_ROW((R12)(R8*2), Y4, Y5)
	PAIR_ROW((R13), Y6, Y7)
	PAIR_ROW((R13)(R8*1), Y8, Y9)
	PAIR_ROW((R13)(R8*2), Y10, Y11)
	ADDQ    $4, R12
	ADDQ    $4, R13
	ADDQ    $64, DI
	DECQ    CX
	JNZ     pair

	VMOVDQU Y0, (DX)
	VMOVDQU Y1, 32(DX)
	VMOVDQU Y2, (DX)(R9*1)
	VMOVDQU Y3, 32(DX)(R9*1)
	VMOVDQU Y4, (DX)(R9*2)
	VMOVDQU Y5, 32(DX)(R9*2)
	LEAQ    (DX)(R9*2), BX
	ADDQ    R9, BX
	VMOVDQU Y6, (BX)
	VMOVDQU Y7, 32(BX)
	VMOVDQU Y8, (BX)(R9*1)
	VMOVDQU Y9, 32(BX)(R9*1)
	VMOVDQU Y10, (BX)(R9*2)
	VMOVDQU Y11, 32(BX)(R9*2)
	ADDQ    $64, DX
	DECQ    R11
	JNZ     tile

	VZEROUPPER
	RET

// func widenInt8AVX2(dst []int16, lda int, src []int8, k, rows int, za []int32)
TEXT ·widenInt8AVX2(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ lda+24(FP), BX
	MOVQ src_base+32(FP), SI
	MOVQ k+56(FP), R9
	MOVQ rows+64(FP), R10
	MOVQ za_base+72(FP), R11
	MOVQ za_len+80(FP), R12
	WIDEN_ROWS(VPMOVSXBW, MOVBQSX)

// func widenUint8AVX2(dst []int16, lda int, src []uint8, k, rows int, za []int32)
TEXT ·widenUint8AVX2(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ lda+24(FP), BX
	MOVQ src_base+32(FP), SI
	MOVQ k+56(FP), R9
	MOVQ rows+64(FP), R10
	MOVQ za_base+72(FP), R11
	MOVQ za_len+80(FP), R12
	WIDEN_ROWS(VPMOVZXBW, MOVBQZX)
