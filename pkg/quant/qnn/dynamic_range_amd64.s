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

// func dequantPlaneAVX512(plane []float32, acc []int32, idx *[8]int32, step int, sc float64, b float32)
//
// The first len(plane) &^ 7 positions p, eight per step:
// plane[p] = float32(acc[idx-strided p]·sc) + b, the accumulators
// gathered (VPGATHERDD) at acc + idx[j]·4, then step bytes further on for
// the next eight. Registers: DI plane, SI acc, CX the groups of 8 left,
// Y9 idx, Z8 sc, Y10 b, DX step.
TEXT ·dequantPlaneAVX512(SB), NOSPLIT, $0-76
	MOVQ         plane_base+0(FP), DI
	MOVQ         plane_len+8(FP), CX
	MOVQ         acc_base+24(FP), SI
	MOVQ         idx+48(FP), AX
	VMOVDQU      (AX), Y9
	MOVQ         step+56(FP), DX
	VBROADCASTSD sc+64(FP), Z8
	VBROADCASTSS b+72(FP), Y10
	MOVL         $0xff, AX
	SHRQ         $3, CX
	JZ           planedone

planeloop:
	KMOVW      AX, K1
	VPGATHERDD (SI)(Y9*4), K1, Y0
	VCVTDQ2PD  Y0, Z0
	VMULPD     Z8, Z0, Z0
	VCVTPD2PS  Z0, Y0
	VADDPS     Y10, Y0, Y0
	VMOVUPS    Y0, (DI)
	ADDQ       $32, DI
	ADDQ       DX, SI
	DECQ       CX
	JNZ        planeloop

planedone:
	VZEROUPPER
	RET
