//go:build !noasm

#include "textflag.h"

// func epilogue512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias float32, scale, shift float64, flags int)
//
// Registers: DI/SI the rows of dst and src, R8/R9 their strides in bytes,
// R10 rows left, R11 cols, AX/BX the current blocks, DX the columns left
// in the row, R12 flags, K4 the mask of a row's last partial block, K5
// the mask of the current block. Z16 bias, Z17 scale, Z18 shift, Z19 zero.
TEXT ·epilogue512(SB), NOSPLIT, $0-80
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), R10
	MOVQ cols+40(FP), R11
	VBROADCASTSS bias+48(FP), Z16
	VBROADCASTSD scale+56(FP), Z17
	VBROADCASTSD shift+64(FP), Z18
	MOVQ flags+72(FP), R12
	VXORPS Z19, Z19, Z19
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K4
	TESTQ R10, R10
	JZ    done

row:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R11, DX

blk:
	CMPQ DX, $16
	JGE  full
	TESTQ DX, DX
	JLE  rowend
	KMOVW K4, K5
	JMP  load

full:
	KXNORW K5, K5, K5

load:
	VMOVUPS.Z (AX), K5, Z0
	TESTQ $1, R12
	JZ    nobias
	VADDPS Z16, Z0, Z0

nobias:
	TESTQ $2, R12
	JZ    noaffine
	VEXTRACTF64X4 $1, Z0, Y1
	VCVTPS2PD Y0, Z2
	VCVTPS2PD Y1, Z3
	VMULPD Z17, Z2, Z2
	VMULPD Z17, Z3, Z3
	VADDPD Z18, Z2, Z2
	VADDPD Z18, Z3, Z3
	VCVTPD2PS Z2, Y0
	VCVTPD2PS Z3, Y1
	VINSERTF64X4 $1, Y1, Z0, Z0

noaffine:
	TESTQ $4, R12
	JZ    norelu
	VCMPPS $0x16, Z19, Z0, K1 // NLE_UQ: v > 0 or v is NaN
	VMOVAPS.Z Z0, K1, Z0

norelu:
	VMOVUPS Z0, K5, (BX)
	ADDQ $64, AX
	ADDQ $64, BX
	SUBQ $16, DX
	JG   blk

rowend:
	ADDQ R9, SI
	ADDQ R8, DI
	DECQ R10
	JNZ  row

done:
	VZEROUPPER
	RET

// func epilogueRows512(dst *float32, ldd int, src *float32, lds int, rows, cols int, bias *float32, scale, shift *float64, flags int)
//
// epilogue512's loop with the constants broadcast at each row from SI
// (bias), R13 (scale) and BX (shift), which then step to the next row's.
// DI/R9 the rows of dst and src, R8/CX their strides in bytes, R10 rows
// left, R11 cols, AX the current block's byte offset in both rows, DX the
// columns left in the row, R12 flags.
TEXT ·epilogueRows512(SB), NOSPLIT, $0-80
	MOVQ rows+32(FP), R10
	MOVQ cols+40(FP), R11
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K4
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), R9
	MOVQ lds+24(FP), CX
	SHLQ $2, CX
	MOVQ bias+48(FP), SI
	MOVQ scale+56(FP), R13
	MOVQ shift+64(FP), BX
	MOVQ flags+72(FP), R12
	VXORPS Z19, Z19, Z19
	TESTQ R10, R10
	JZ    rdone

rrow:
	TESTQ $1, R12
	JZ    rnobiasc
	VBROADCASTSS (SI), Z16
	ADDQ $4, SI

rnobiasc:
	TESTQ $2, R12
	JZ    rnoaffc
	VBROADCASTSD (R13), Z17
	VBROADCASTSD (BX), Z18
	ADDQ $8, R13
	ADDQ $8, BX

rnoaffc:
	XORQ AX, AX
	MOVQ R11, DX

rblk:
	CMPQ DX, $16
	JGE  rfull
	TESTQ DX, DX
	JLE  rrowend
	KMOVW K4, K5
	JMP  rload

rfull:
	KXNORW K5, K5, K5

rload:
	VMOVUPS.Z (R9)(AX*1), K5, Z0
	TESTQ $1, R12
	JZ    rnobias
	VADDPS Z16, Z0, Z0

rnobias:
	TESTQ $2, R12
	JZ    rnoaffine
	VEXTRACTF64X4 $1, Z0, Y1
	VCVTPS2PD Y0, Z2
	VCVTPS2PD Y1, Z3
	VMULPD Z17, Z2, Z2
	VMULPD Z17, Z3, Z3
	VADDPD Z18, Z2, Z2
	VADDPD Z18, Z3, Z3
	VCVTPD2PS Z2, Y0
	VCVTPD2PS Z3, Y1
	VINSERTF64X4 $1, Y1, Z0, Z0

rnoaffine:
	TESTQ $4, R12
	JZ    rnorelu
	VCMPPS $0x16, Z19, Z0, K1 // NLE_UQ: v > 0 or v is NaN
	VMOVAPS.Z Z0, K1, Z0

rnorelu:
	VMOVUPS Z0, K5, (DI)(AX*1)
	ADDQ $64, AX
	SUBQ $16, DX
	JG   rblk

rrowend:
	ADDQ R8, DI
	ADDQ CX, R9
	DECQ R10
	JNZ  rrow

rdone:
	VZEROUPPER
	RET

// Index vectors of VPERMI2PS: the even and the odd elements of a pair of
// ZMM registers (32 floats) in order.
DATA poolEven<>+0(SB)/4, $0
DATA poolEven<>+4(SB)/4, $2
DATA poolEven<>+8(SB)/4, $4
DATA poolEven<>+12(SB)/4, $6
DATA poolEven<>+16(SB)/4, $8
DATA poolEven<>+20(SB)/4, $10
DATA poolEven<>+24(SB)/4, $12
DATA poolEven<>+28(SB)/4, $14
DATA poolEven<>+32(SB)/4, $16
DATA poolEven<>+36(SB)/4, $18
DATA poolEven<>+40(SB)/4, $20
DATA poolEven<>+44(SB)/4, $22
DATA poolEven<>+48(SB)/4, $24
DATA poolEven<>+52(SB)/4, $26
DATA poolEven<>+56(SB)/4, $28
DATA poolEven<>+60(SB)/4, $30
GLOBL poolEven<>(SB), RODATA|NOPTR, $64

DATA poolOdd<>+0(SB)/4, $1
DATA poolOdd<>+4(SB)/4, $3
DATA poolOdd<>+8(SB)/4, $5
DATA poolOdd<>+12(SB)/4, $7
DATA poolOdd<>+16(SB)/4, $9
DATA poolOdd<>+20(SB)/4, $11
DATA poolOdd<>+24(SB)/4, $13
DATA poolOdd<>+28(SB)/4, $15
DATA poolOdd<>+32(SB)/4, $17
DATA poolOdd<>+36(SB)/4, $19
DATA poolOdd<>+40(SB)/4, $21
DATA poolOdd<>+44(SB)/4, $23
DATA poolOdd<>+48(SB)/4, $25
DATA poolOdd<>+52(SB)/4, $27
DATA poolOdd<>+56(SB)/4, $29
DATA poolOdd<>+60(SB)/4, $31
GLOBL poolOdd<>(SB), RODATA|NOPTR, $64

// POOLSTEP folds V into the running result B of a window: B = V where
// V > B (ordered) or where V is NaN and B is not, as max4 does.
#define POOLSTEP(B, V) \
	VCMPPS $0x1E, B, V, K1 \
	VCMPPS $0x03, V, V, K2 \
	VCMPPS $0x07, B, B, K3 \
	KANDW  K2, K3, K2 \
	KORW   K1, K2, K1 \
	VMOVAPS V, K1, B

// func maxPool2x2AVX512(dst, src *float32, oh, ow, w int)
//
// Registers: R13 the output row, SI the first input row of the window,
// R9 the input row stride in bytes, R10 output rows left, R11 ow; AX/BX
// the current blocks of the two input rows, DI of the output, DX the
// outputs left in the row. K5 masks the outputs of a block, K6 and K7 the
// two 16-float halves of its inputs.
TEXT ·maxPool2x2AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), R13
	MOVQ src+8(FP), SI
	MOVQ oh+16(FP), R10
	MOVQ ow+24(FP), R11
	MOVQ w+32(FP), R9
	SHLQ $2, R9
	VMOVUPS poolEven<>(SB), Z20
	VMOVUPS poolOdd<>(SB), Z21
	TESTQ R10, R10
	JZ    pdone

prow:
	MOVQ SI, AX
	LEAQ (SI)(R9*1), BX
	MOVQ R13, DI
	MOVQ R11, DX

pblk:
	CMPQ DX, $16
	JGE  pfull
	TESTQ DX, DX
	JLE  prowend
	MOVQ DX, CX
	MOVL $1, R12
	SHLL CX, R12
	DECL R12
	KMOVW R12, K5
	LEAQ (DX)(DX*1), CX
	CMPQ CX, $16
	JL   plow
	KXNORW K6, K6, K6
	SUBQ $16, CX
	MOVL $1, R12
	SHLL CX, R12
	DECL R12
	KMOVW R12, K7
	JMP  pload

plow:
	MOVL $1, R12
	SHLL CX, R12
	DECL R12
	KMOVW R12, K6
	KXORW K7, K7, K7
	JMP  pload

pfull:
	KXNORW K5, K5, K5
	KXNORW K6, K6, K6
	KXNORW K7, K7, K7

pload:
	VMOVUPS.Z (AX), K6, Z0
	VMOVUPS.Z 64(AX), K7, Z1
	VMOVUPS.Z (BX), K6, Z2
	VMOVUPS.Z 64(BX), K7, Z3
	VMOVAPS Z20, Z4
	VPERMI2PS Z1, Z0, Z4
	VMOVAPS Z21, Z5
	VPERMI2PS Z1, Z0, Z5
	VMOVAPS Z20, Z6
	VPERMI2PS Z3, Z2, Z6
	VMOVAPS Z21, Z7
	VPERMI2PS Z3, Z2, Z7
	// Without a NaN among the 4·16 window values (lanes past the row
	// were loaded as zeros), VMAXPS's "src1 > src2 ? src1 : src2" is a
	// step of the ordered comparison, the earlier value winning ties
	// (-0 and +0 too): 3 instructions instead of 3 POOLSTEPs.
	VCMPPS $0x03, Z5, Z4, K1
	VCMPPS $0x03, Z7, Z6, K2
	KORTESTW K1, K2
	JNZ  pnan
	VMAXPS Z4, Z5, Z4
	VMAXPS Z4, Z6, Z4
	VMAXPS Z4, Z7, Z4
	JMP  pstore

pnan:
	POOLSTEP(Z4, Z5)
	POOLSTEP(Z4, Z6)
	POOLSTEP(Z4, Z7)

pstore:
	VMOVUPS Z4, K5, (DI)
	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $64, DI
	SUBQ $16, DX
	JG   pblk

prowend:
	LEAQ (SI)(R9*2), SI
	LEAQ (R13)(R11*4), R13
	DECQ R10
	JNZ  prow

pdone:
	VZEROUPPER
	RET
