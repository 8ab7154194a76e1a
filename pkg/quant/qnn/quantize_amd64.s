//go:build !noasm

#include "textflag.h"

// func quantize8AVX2(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool
//
// Registers: DI dst, SI src, CX the groups of 8 left; Y8 scale, Y9 flo,
// Y10 fhi, Y11 zero, Y12 the NaN code (as int32), Y7 the OR of every
// v - v (zero while all values are finite).
TEXT ·quantize8AVX2(SB), NOSPLIT, $0-73
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), CX
	SHRQ         $3, CX
	VBROADCASTSS scale+48(FP), Y8
	VBROADCASTSS flo+52(FP), Y9
	VBROADCASTSS fhi+56(FP), Y10
	MOVL         zero+60(FP), AX
	MOVL         AX, X11
	VPBROADCASTD X11, Y11
	MOVBLSX      nan+64(FP), AX
	MOVL         AX, X12
	VPBROADCASTD X12, Y12
	VXORPS       Y7, Y7, Y7
	TESTQ        CX, CX
	JZ           qdone

qloop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y0, Y0, Y1
	VORPS       Y1, Y7, Y7
	VDIVPS      Y8, Y0, Y2
	VROUNDPS    $0, Y2, Y2
	VCMPPS      $3, Y2, Y2, Y3
	VMAXPS      Y9, Y2, Y2
	VMINPS      Y10, Y2, Y2
	VCVTPS2DQ   Y2, Y2
	VPADDD      Y11, Y2, Y2
	VPBLENDVB   Y3, Y12, Y2, Y2
	VPACKSSDW   Y2, Y2, Y4
	VPACKSSWB   Y4, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPUNPCKLDQ  X5, X4, X4
	MOVQ        X4, (DI)
	ADDQ        $32, SI
	ADDQ        $8, DI
	DECQ        CX
	JNZ         qloop

qdone:
	VPTEST      Y7, Y7
	SETEQ       ret+72(FP)
	VZEROUPPER
	RET
