//go:build !noasm

#include "textflag.h"

// func maxPool2x2AccAVX2(dst, acc []int32, c, ow, ph, pw int)
//
// Registers: DI the output position, SI the first input row of the
// current window row, R12 the current window, CX the position stride in
// bytes (4c), R11 the input row stride in bytes (4·ow·c), R9 the window
// rows left, R10 pw, R13 the windows left in the row, AX the channel
// offset in bytes, BX scratch.
TEXT ·maxPool2x2AccAVX2(SB), NOSPLIT, $0-80
	MOVQ dst_base+0(FP), DI
	MOVQ acc_base+24(FP), SI
	MOVQ c+48(FP), CX
	MOVQ ow+56(FP), R11
	MOVQ ph+64(FP), R9
	MOVQ pw+72(FP), R10
	SHLQ $2, CX
	IMULQ CX, R11

prow:
	MOVQ SI, R12
	MOVQ R10, R13

pcol:
	XORQ AX, AX

pchan:
	VMOVDQU (R12)(AX*1), Y0
	LEAQ    (R12)(CX*1), BX
	VPMAXSD (BX)(AX*1), Y0, Y0
	LEAQ    (R12)(R11*1), BX
	VPMAXSD (BX)(AX*1), Y0, Y0
	ADDQ    CX, BX
	VPMAXSD (BX)(AX*1), Y0, Y0
	VMOVDQU Y0, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, CX
	JLT     pchan

	ADDQ CX, DI
	LEAQ (R12)(CX*2), R12
	DECQ R13
	JNZ  pcol

	LEAQ (SI)(R11*2), SI
	DECQ R9
	JNZ  prow

	VZEROUPPER
	RET

// func im2row3x3Asm(rows, src []int8, oh, ow, wp int)
//
// Registers: DI the current output row of rows, SI the first input row
// of the current output row, R8 the output rows left, R9 ow, R10 wp, R11
// 2·wp; BX walks the positions of a row, CX counts them, AX and DX hold
// 4 bytes.
TEXT ·im2row3x3Asm(SB), NOSPLIT, $0-72
	MOVQ rows_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ oh+48(FP), R8
	MOVQ ow+56(FP), R9
	MOVQ wp+64(FP), R10
	LEAQ (R10)(R10*1), R11
	TESTQ R8, R8
	JZ   i2done
	TESTQ R9, R9
	JZ   i2done

i2row:
	MOVQ SI, BX
	MOVQ R9, CX

i2pos:
	MOVL (BX), AX
	MOVL AX, (DI)
	MOVL (BX)(R10*1), DX
	MOVL DX, 3(DI)
	MOVL (BX)(R11*1), AX
	MOVL AX, 6(DI)
	INCQ BX
	ADDQ $9, DI
	DECQ CX
	JNZ  i2pos

	ADDQ R10, SI
	DECQ R8
	JNZ  i2row

i2done:
	RET
