//go:build !noasm

#include "textflag.h"

// LOHI loads lo = float32(qmin - zero) and hi = float32(qmax - zero), as
// quant.RequantizeValue forms its bounds, into every lane of xlo and xhi,
// and zero into every dword lane of xz; it clobbers AX and DX.
#define LOHI(zero, qmin, qmax, xlo, xhi, xz) \
	MOVL         zero, DX; \
	MOVL         qmin, AX; \
	SUBL         DX, AX; \
	VCVTSI2SSL   AX, xlo, xlo; \
	VBROADCASTSS xlo, xlo; \
	MOVL         qmax, AX; \
	SUBL         DX, AX; \
	VCVTSI2SSL   AX, xhi, xhi; \
	VBROADCASTSS xhi, xhi; \
	VMOVD        DX, xz; \
	VPBROADCASTD xz, xz

// func requantAVX2(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, rowStride, chanStride int, zero, qmin, qmax int32)
//
// Registers: SI the current row of acc, BX bias, R12 mult, DI the current
// row of out, DX the current code, R8 chanStride, R13 3·chanStride, R9
// rowStride, R10 the rows left, R11 channels, CX the channel; X1 lo, X2
// hi, X3 zero in every lane.
TEXT ·requantAVX2(SB), NOSPLIT, $0-140
	MOVQ acc_base+0(FP), SI
	MOVQ rows+24(FP), R10
	MOVQ channels+32(FP), R11
	MOVQ bias_base+40(FP), BX
	MOVQ mult_base+64(FP), R12
	MOVQ out_base+88(FP), DI
	MOVQ rowStride+112(FP), R9
	MOVQ chanStride+120(FP), R8
	LEAQ (R8)(R8*2), R13
	LOHI(zero+128(FP), qmin+132(FP), qmax+136(FP), X1, X2, X3)
	TESTQ R10, R10
	JZ    done

row:
	MOVQ DI, DX
	XORQ CX, CX

quad:
	LEAQ       4(CX), AX
	CMPQ       AX, R11
	JGT        single
	VMOVDQU    (SI)(CX*4), X0
	VPADDD     (BX)(CX*4), X0, X0
	VCVTDQ2PS  X0, X0
	VMULPS     (R12)(CX*4), X0, X0
	VMAXPS     X1, X0, X0
	VMINPS     X2, X0, X0
	VROUNDPS   $0, X0, X0
	VCVTTPS2DQ X0, X0
	VPADDD     X3, X0, X0
	VPEXTRB    $0, X0, (DX)
	VPEXTRB    $4, X0, (DX)(R8*1)
	VPEXTRB    $8, X0, (DX)(R8*2)
	VPEXTRB    $12, X0, (DX)(R13*1)
	LEAQ       (DX)(R8*4), DX
	MOVQ       AX, CX
	JMP        quad

single:
	CMPQ       CX, R11
	JGE        next
	MOVL       (SI)(CX*4), AX
	ADDL       (BX)(CX*4), AX
	VCVTSI2SSL AX, X0, X0
	VMULSS     (R12)(CX*4), X0, X0
	VMAXSS     X1, X0, X0
	VMINSS     X2, X0, X0
	VROUNDSS   $0, X0, X0, X0
	VCVTTSS2SI X0, AX
	ADDL       zero+128(FP), AX
	MOVB       AX, (DX)
	ADDQ       R8, DX
	INCQ       CX
	JMP        single

next:
	LEAQ (SI)(R11*4), SI
	ADDQ R9, DI
	DECQ R10
	JNZ  row

done:
	VZEROUPPER
	RET

// PLANES_QUAD requantizes the four channels CX..CX+3 of one row, loaded
// from src, into the dwords of x.
#define PLANES_QUAD(src, x) \
	VMOVDQU    src, x; \
	VPADDD     (BX)(CX*4), x, x; \
	VCVTDQ2PS  x, x; \
	VMULPS     (R12)(CX*4), x, x; \
	VMAXPS     X7, x, x; \
	VMINPS     X8, x, x; \
	VROUNDPS   $0, x, x; \
	VCVTTPS2DQ x, x; \
	VPADDD     X9, x, x

// PLANES_ONE requantizes channel CX of one row, loaded from src, and
// stores its code at dst.
#define PLANES_ONE(src, dst) \
	VMOVD      src, X10; \
	VMOVD      (BX)(CX*4), X11; \
	VPADDD     X11, X10, X10; \
	VCVTDQ2PS  X10, X10; \
	VMULSS     (R12)(CX*4), X10, X10; \
	VMAXSS     X7, X10, X10; \
	VMINSS     X8, X10, X10; \
	VROUNDSS   $0, X10, X10, X10; \
	VCVTTPS2DQ X10, X10; \
	VPADDD     X9, X10, X10; \
	VPEXTRB    $0, X10, dst

// func requantPlanesAVX2(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, plane int, zero, qmin, qmax int32)
//
// Four rows by four channels at a time: the 16 codes are packed to bytes
// (exact, the codes are within int8), row by row, and VPSHUFB transposes
// them so that each channel's four rows are one dword, stored into its
// plane. Channels beyond a multiple of four go one by one.
//
// Registers: SI, R14, R15 and AX the group's four rows of acc, R9 the row
// stride of acc in bytes, BX bias, R12 mult, DI the group's first code in
// plane 0, DX the current code, R8 plane, R13 3·plane, R10 channels rounded
// down to a multiple of 4, R11 channels, CX the channel; the rows left
// count down in rows+24(FP). X7 lo, X8 hi, X9 zero in every lane, X6 the
// transposing shuffle, X0-X5 and X10-X11 scratch.
TEXT ·requantPlanesAVX2(SB), NOSPLIT, $0-132
	LOHI(zero+120(FP), qmin+124(FP), qmax+128(FP), X7, X8, X9)
	MOVQ    acc_base+0(FP), SI
	MOVQ    channels+32(FP), R11
	MOVQ    bias_base+40(FP), BX
	MOVQ    mult_base+64(FP), R12
	MOVQ    out_base+88(FP), DI
	MOVQ    plane+112(FP), R8
	LEAQ    (R8)(R8*2), R13
	MOVQ    R11, R9
	SHLQ    $2, R9
	MOVQ    R11, R10
	ANDQ    $-4, R10
	LEAQ    (SI)(R9*1), R14
	LEAQ    (R14)(R9*1), R15
	LEAQ    (R15)(R9*1), AX
	MOVQ    $0x0d0905010c080400, CX
	VMOVQ   CX, X6
	MOVQ    $0x0f0b07030e0a0602, CX
	VPINSRQ $1, CX, X6, X6
	CMPQ    rows+24(FP), $0
	JLE     planesDone

group:
	MOVQ DI, DX
	XORQ CX, CX

quad4:
	CMPQ      CX, R10
	JGE       single4
	PLANES_QUAD((SI)(CX*4), X0)
	PLANES_QUAD((R14)(CX*4), X1)
	PLANES_QUAD((R15)(CX*4), X2)
	PLANES_QUAD((AX)(CX*4), X3)
	VPACKSSDW X1, X0, X4
	VPACKSSDW X3, X2, X5
	VPACKSSWB X5, X4, X4
	VPSHUFB   X6, X4, X4
	VMOVD     X4, (DX)
	VPEXTRD   $1, X4, (DX)(R8*1)
	VPEXTRD   $2, X4, (DX)(R8*2)
	VPEXTRD   $3, X4, (DX)(R13*1)
	LEAQ      (DX)(R8*4), DX
	ADDQ      $4, CX
	JMP       quad4

single4:
	CMPQ CX, R11
	JGE  next4
	PLANES_ONE((SI)(CX*4), 0(DX))
	PLANES_ONE((R14)(CX*4), 1(DX))
	PLANES_ONE((R15)(CX*4), 2(DX))
	PLANES_ONE((AX)(CX*4), 3(DX))
	ADDQ R8, DX
	INCQ CX
	JMP  single4

next4:
	LEAQ (SI)(R9*4), SI
	LEAQ (R14)(R9*4), R14
	LEAQ (R15)(R9*4), R15
	LEAQ (AX)(R9*4), AX
	ADDQ $4, DI
	SUBQ $4, rows+24(FP)
	JG   group

planesDone:
	VZEROUPPER
	RET

// func requantRowsAVX512(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, zero, qmin, qmax int32)
//
// Registers: SI the current row of acc, BX bias, R12 mult, DI the current
// row of out, R10 the rows left, R11 channels, CX the channel; Z1 lo, Z2
// hi, Z3 zero in every lane.
TEXT ·requantRowsAVX512(SB), NOSPLIT, $0-124
	MOVQ         acc_base+0(FP), SI
	MOVQ         rows+24(FP), R10
	MOVQ         channels+32(FP), R11
	MOVQ         bias_base+40(FP), BX
	MOVQ         mult_base+64(FP), R12
	MOVQ         out_base+88(FP), DI
	MOVL         zero+112(FP), DX
	MOVL         qmin+116(FP), AX
	SUBL         DX, AX
	VCVTSI2SSL   AX, X1, X1
	VBROADCASTSS X1, Z1
	MOVL         qmax+120(FP), AX
	SUBL         DX, AX
	VCVTSI2SSL   AX, X2, X2
	VBROADCASTSS X2, Z2
	VMOVD        DX, X3
	VPBROADCASTD X3, Z3
	TESTQ        R10, R10
	JZ           rowsdone
	TESTQ        R11, R11
	JZ           rowsdone

rowsrow:
	XORQ CX, CX

rowschan:
	VMOVDQU32   (SI)(CX*4), Z0
	VPADDD      (BX)(CX*4), Z0, Z0
	VCVTDQ2PS   Z0, Z0
	VMULPS      (R12)(CX*4), Z0, Z0
	VMAXPS      Z1, Z0, Z0
	VMINPS      Z2, Z0, Z0
	VRNDSCALEPS $0, Z0, Z0
	VCVTTPS2DQ  Z0, Z0
	VPADDD      Z3, Z0, Z0
	VPMOVDB     Z0, (DI)(CX*1)
	ADDQ        $16, CX
	CMPQ        CX, R11
	JLT         rowschan

	LEAQ (SI)(R11*4), SI
	ADDQ R11, DI
	DECQ R10
	JNZ  rowsrow

rowsdone:
	VZEROUPPER
	RET
