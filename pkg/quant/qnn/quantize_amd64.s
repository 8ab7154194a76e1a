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

// func quantize16AVX512(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool
//
// quantize8AVX2 on ZMM registers, sixteen values per step, and the last
// group of eight (when len(src) &^ 7 is not a multiple of 16) under the
// mask K2. Registers: DI dst, SI src, CX the groups of 16 left; Z8 scale,
// Z9 flo, Z10 fhi, Z11 zero, Z12 the NaN code (as int32), Z7 the OR of
// every v - v; K1 the NaN lanes of a step.
TEXT ·quantize16AVX512(SB), NOSPLIT, $0-73
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), CX
	MOVQ         CX, DX
	SHRQ         $4, CX
	ANDQ         $8, DX
	VBROADCASTSS scale+48(FP), Z8
	VBROADCASTSS flo+52(FP), Z9
	VBROADCASTSS fhi+56(FP), Z10
	MOVL         zero+60(FP), AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Z11
	MOVBLSX      nan+64(FP), AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Z12
	VPXORD       Z7, Z7, Z7
	TESTQ        CX, CX
	JZ           q16tail

q16loop:
	VMOVUPS     (SI), Z0
	VSUBPS      Z0, Z0, Z1
	VPORD       Z1, Z7, Z7
	VDIVPS      Z8, Z0, Z2
	VRNDSCALEPS $0, Z2, Z2
	VCMPPS      $3, Z2, Z2, K1
	VMAXPS      Z9, Z2, Z2
	VMINPS      Z10, Z2, Z2
	VCVTPS2DQ   Z2, Z2
	VPADDD      Z11, Z2, Z2
	VPBLENDMD   Z12, Z2, K1, Z2
	VPMOVSDB    Z2, (DI)
	ADDQ        $64, SI
	ADDQ        $16, DI
	DECQ        CX
	JNZ         q16loop

q16tail:
	TESTQ       DX, DX
	JZ          q16done
	MOVL        $0xff, AX
	KMOVW       AX, K2
	VMOVUPS.Z   (SI), K2, Z0
	VSUBPS      Z0, Z0, Z1
	VPORD       Z1, Z7, Z7
	VDIVPS      Z8, Z0, Z2
	VRNDSCALEPS $0, Z2, Z2
	VCMPPS      $3, Z2, Z2, K1
	VMAXPS      Z9, Z2, Z2
	VMINPS      Z10, Z2, Z2
	VCVTPS2DQ   Z2, Z2
	VPADDD      Z11, Z2, Z2
	VPBLENDMD   Z12, Z2, K1, Z2
	VPMOVSDB    Z2, K2, (DI)

q16done:
	VPTESTMD    Z7, Z7, K3
	KORTESTW    K3, K3
	SETEQ       ret+72(FP)
	VZEROUPPER
	RET
