//go:build !noasm

#include "textflag.h"

// func range16AVX512(x []float32, acc *[48]float32)
//
// Registers: SI x, CX the groups of 16 left; Z0/Z3 the running minima,
// Z1/Z4 the maxima, Z2/Z5 the sums of v - v (two sets, for two
// independent chains over pairs of groups), DI acc.
TEXT ·range16AVX512(SB), NOSPLIT, $0-32
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   acc+24(FP), DI
	SHRQ   $4, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5

pairs:
	CMPQ    CX, $2
	JB      single
	VMOVUPS (SI), Z6
	VMOVUPS 64(SI), Z7
	VMINPS  Z6, Z0, Z0
	VMAXPS  Z6, Z1, Z1
	VSUBPS  Z6, Z6, Z8
	VADDPS  Z8, Z2, Z2
	VMINPS  Z7, Z3, Z3
	VMAXPS  Z7, Z4, Z4
	VSUBPS  Z7, Z7, Z9
	VADDPS  Z9, Z5, Z5
	ADDQ    $128, SI
	SUBQ    $2, CX
	JMP     pairs

single:
	TESTQ   CX, CX
	JZ      done
	VMOVUPS (SI), Z6
	VMINPS  Z6, Z0, Z0
	VMAXPS  Z6, Z1, Z1
	VSUBPS  Z6, Z6, Z8
	VADDPS  Z8, Z2, Z2

done:
	VMINPS     Z3, Z0, Z0
	VMAXPS     Z4, Z1, Z1
	VADDPS     Z5, Z2, Z2
	VMOVUPS    Z0, (DI)
	VMOVUPS    Z1, 64(DI)
	VMOVUPS    Z2, 128(DI)
	VZEROUPPER
	RET

// func dequantRowAVX512(y []float32, acc []int32, sIn float64, ws []float64, bias []float32)
//
// The first len(y) &^ 7 values, eight per step: y = float32(acc·sIn·ws)
// (VCVTDQ2PD, two VMULPD, VCVTPD2PS), + bias in float32 when bias is not
// empty. Registers: DI y, SI acc, DX ws, BX bias, CX the groups of 8 left,
// Z8 sIn, R8 len(bias).
TEXT ·dequantRowAVX512(SB), NOSPLIT, $0-104
	MOVQ         y_base+0(FP), DI
	MOVQ         y_len+8(FP), CX
	MOVQ         acc_base+24(FP), SI
	VBROADCASTSD sIn+48(FP), Z8
	MOVQ         ws_base+56(FP), DX
	MOVQ         bias_base+80(FP), BX
	MOVQ         bias_len+88(FP), R8
	SHRQ         $3, CX
	JZ           rowdone

rowloop:
	VCVTDQ2PD (SI), Z0
	VMULPD    Z8, Z0, Z0
	VMULPD    (DX), Z0, Z0
	VCVTPD2PS Z0, Y0
	TESTQ     R8, R8
	JZ        rowstore
	VADDPS    (BX), Y0, Y0
	ADDQ      $32, BX

rowstore:
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $64, DX
	DECQ    CX
	JNZ     rowloop

rowdone:
	VZEROUPPER
	RET

// func dequantBlock8AVX512(out []float32, acc []int32, c, pos int, scale []float64, bias []float32, c0 int)
//
// Channels c0..c0+7 of DynamicConv2D's dequantization for the first
// pos &^ 7 positions: out[(c0+k)·pos + p] = float32(acc[p·c + c0+k]·
// scale[c0+k]) + bias[c0+k] (product in float64, sum in float32). Eight
// positions per step: eight rows of eight accumulators are loaded
// (Y0-Y7), transposed in registers (VPUNPCK[LH]DQ, VPUNPCK[LH]QDQ,
// VPERM2I128) so that Y8+k holds channel c0+k at the eight positions,
// then converted, scaled and stored into that channel's plane.
// Registers: SI acc at row p, channel c0; R10 the row stride in bytes
// (4c); DI out at channel c0, position p; R11 the plane stride in bytes
// (4pos); R9 scale + 8c0; BX bias + 4c0; CX the groups of 8 left.
TEXT ·dequantBlock8AVX512(SB), NOSPLIT, $0-120
	MOVQ out_base+0(FP), DI
	MOVQ acc_base+24(FP), SI
	MOVQ c+48(FP), R10
	MOVQ pos+56(FP), CX
	MOVQ scale_base+64(FP), R9
	MOVQ bias_base+88(FP), BX
	MOVQ c0+112(FP), AX
	LEAQ (SI)(AX*4), SI
	LEAQ (R9)(AX*8), R9
	LEAQ (BX)(AX*4), BX
	MOVQ CX, R11
	SHLQ $2, R11
	IMULQ R11, AX
	ADDQ AX, DI
	SHLQ $2, R10
	SHRQ $3, CX
	JZ   blockdone

blockloop:
	MOVQ SI, DX
	VMOVDQU (DX), Y0
	ADDQ    R10, DX
	VMOVDQU (DX), Y1
	ADDQ    R10, DX
	VMOVDQU (DX), Y2
	ADDQ    R10, DX
	VMOVDQU (DX), Y3
	ADDQ    R10, DX
	VMOVDQU (DX), Y4
	ADDQ    R10, DX
	VMOVDQU (DX), Y5
	ADDQ    R10, DX
	VMOVDQU (DX), Y6
	ADDQ    R10, DX
	VMOVDQU (DX), Y7
	VPUNPCKLDQ Y1, Y0, Y8
	VPUNPCKHDQ Y1, Y0, Y9
	VPUNPCKLDQ Y3, Y2, Y10
	VPUNPCKHDQ Y3, Y2, Y11
	VPUNPCKLDQ Y5, Y4, Y12
	VPUNPCKHDQ Y5, Y4, Y13
	VPUNPCKLDQ Y7, Y6, Y14
	VPUNPCKHDQ Y7, Y6, Y15
	VPUNPCKLQDQ Y10, Y8, Y0
	VPUNPCKHQDQ Y10, Y8, Y1
	VPUNPCKLQDQ Y11, Y9, Y2
	VPUNPCKHQDQ Y11, Y9, Y3
	VPUNPCKLQDQ Y14, Y12, Y4
	VPUNPCKHQDQ Y14, Y12, Y5
	VPUNPCKLQDQ Y15, Y13, Y6
	VPUNPCKHQDQ Y15, Y13, Y7
	VPERM2I128 $0x20, Y4, Y0, Y8
	VPERM2I128 $0x20, Y5, Y1, Y9
	VPERM2I128 $0x20, Y6, Y2, Y10
	VPERM2I128 $0x20, Y7, Y3, Y11
	VPERM2I128 $0x31, Y4, Y0, Y12
	VPERM2I128 $0x31, Y5, Y1, Y13
	VPERM2I128 $0x31, Y6, Y2, Y14
	VPERM2I128 $0x31, Y7, Y3, Y15
	MOVQ DI, DX
	VCVTDQ2PD    Y8, Z0
	VBROADCASTSD 0(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 0(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y9, Z0
	VBROADCASTSD 8(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 4(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y10, Z0
	VBROADCASTSD 16(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 8(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y11, Z0
	VBROADCASTSD 24(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 12(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y12, Z0
	VBROADCASTSD 32(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 16(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y13, Z0
	VBROADCASTSD 40(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 20(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y14, Z0
	VBROADCASTSD 48(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 24(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ         R11, DX
	VCVTDQ2PD    Y15, Z0
	VBROADCASTSD 56(R9), Z1
	VMULPD       Z1, Z0, Z0
	VCVTPD2PS    Z0, Y0
	VBROADCASTSS 28(BX), Y1
	VADDPS       Y1, Y0, Y0
	VMOVUPS      Y0, (DX)
	ADDQ $32, DI
	MOVQ R10, AX
	SHLQ $3, AX
	ADDQ AX, SI
	DECQ CX
	JNZ  blockloop

blockdone:
	VZEROUPPER
	RET
