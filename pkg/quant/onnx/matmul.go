package onnx

import (
	"fmt"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// matmulPlan is the numpy.matmul view of two operands: a as a stack of
// m×k matrices, b as a stack of k×n matrices, broadcast over their batch
// dimensions.
type matmulPlan struct {
	m, k, n  int
	outShape []int
	outLen   int
	aMat     []int // aMat[o]: index of a's matrix used by output matrix o
	bMat     []int // bMat[o]: index of b's matrix used by output matrix o
}

// planMatMul checks two shapes as numpy.matmul does: a 1-D a is promoted to
// [1, K] and a 1-D b to [K, 1], the promoted dimension removed from the
// result; batch dimensions broadcast right-aligned.
func planMatMul(op string, aShape, bShape []int) (matmulPlan, error) {
	if len(aShape) == 0 || len(bShape) == 0 {
		return matmulPlan{}, opErr(op, ErrShape, "a %v and b %v: matmul needs operands of rank >= 1", aShape, bShape)
	}
	pa, pb := aShape, bShape
	if len(pa) == 1 {
		pa = []int{1, pa[0]}
	}
	if len(pb) == 1 {
		pb = []int{pb[0], 1}
	}
	var p matmulPlan
	p.m, p.k = pa[len(pa)-2], pa[len(pa)-1]
	kb := pb[len(pb)-2]
	p.n = pb[len(pb)-1]
	if p.k != kb {
		return matmulPlan{}, opErr(op, ErrShape, "a %v and b %v: inner dimensions %d and %d differ", aShape, bShape, p.k, kb)
	}
	ab, bb := pa[:len(pa)-2], pb[:len(pb)-2]
	rank := max(len(ab), len(bb))
	batch := make([]int, rank)
	for i := range rank {
		da, db := 1, 1
		if j := i - (rank - len(ab)); j >= 0 {
			da = ab[j]
		}
		if j := i - (rank - len(bb)); j >= 0 {
			db = bb[j]
		}
		switch {
		case da == db || db == 1:
			batch[i] = da
		case da == 1:
			batch[i] = db
		default:
			return matmulPlan{}, opErr(op, ErrShape, "a %v and b %v: batch dimensions %d and %d do not broadcast", aShape, bShape, da, db)
		}
	}
	p.outShape = slices.Clone(batch)
	if len(aShape) > 1 {
		p.outShape = append(p.outShape, p.m)
	}
	if len(bShape) > 1 {
		p.outShape = append(p.outShape, p.n)
	}
	n, ok := numel(p.outShape)
	if err := allocCheck(op, fmt.Sprintf("output of shape %v", p.outShape), n, ok); err != nil {
		return matmulPlan{}, err
	}
	p.outLen = n
	if n == 0 {
		return p, nil
	}
	nb, _ := numel(batch) // n > 0 bounds it
	p.aMat = broadcastIndex(batch, ab, nb)
	p.bMat = broadcastIndex(batch, bb, nb)
	return p, nil
}

// broadcastIndex returns, for each of the nb row-major positions of the
// broadcast batch shape out, the linear index of the corresponding position
// in the right-aligned batch shape in (whose size-1 dimensions repeat).
func broadcastIndex(out, in []int, nb int) []int {
	idx := make([]int, nb)
	off := len(out) - len(in)
	strides := make([]int, len(out)) // in's strides, 0 where it broadcasts
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			strides[i+off] = s
		}
		s *= in[i]
	}
	pos := make([]int, len(out))
	lin := 0
	for o := range nb {
		idx[o] = lin
		for d := len(out) - 1; d >= 0; d-- { // odometer step
			pos[d]++
			lin += strides[d]
			if pos[d] < out[d] {
				break
			}
			lin -= strides[d] * pos[d]
			pos[d] = 0
		}
	}
	return idx
}

// vecParam locates the per-row (of a) or per-column (of b) parameters of
// one operand's matrices: matrix j uses data[j*stride : j*stride+count].
// count is 1 for per-tensor parameters; stride is 0 when every matrix
// shares the same parameters.
type vecParam struct{ count, stride int }

// at returns the parameters of matrix j.
func at[T any](p vecParam, data []T, j int) []T {
	return data[j*p.stride : j*p.stride+p.count]
}

// resolveMatParam validates a MatMulInteger/QLinearMatMul scale or zero
// point of operand a (row == true: per-tensor, [M] or a.Shape[:-1]+[1]) or
// b (row == false: per-tensor, [N] or b.Shape[:-2]+[1, N]).
func resolveMatParam(op, name string, shape []int, n int, row bool, operand []int, m, cols int) (vecParam, error) {
	if n == 1 {
		return vecParam{count: 1}, nil
	}
	if row {
		if len(shape) == 1 && shape[0] == m {
			return vecParam{count: m}, nil
		}
		if len(operand) >= 2 && slices.Equal(shape, append(slices.Clone(operand[:len(operand)-1]), 1)) {
			return vecParam{count: m, stride: m}, nil
		}
		return vecParam{}, opErr(op, ErrShape, "%s shape %v for a %v is neither one element, per-row [%d] nor [..., %d, 1]", name, shape, operand, m, m)
	}
	if len(shape) == 1 && shape[0] == cols {
		return vecParam{count: cols}, nil
	}
	if len(operand) >= 2 && slices.Equal(shape, append(slices.Clone(operand[:len(operand)-2]), 1, cols)) {
		return vecParam{count: cols, stride: cols}, nil
	}
	return vecParam{}, opErr(op, ErrShape, "%s shape %v for b %v is neither one element, per-column [%d] nor [..., 1, %d]", name, shape, operand, cols, cols)
}

// matOperand is one validated matmul operand with its zero point and (for
// QLinearMatMul) scale.
type matOperand[T int8 | uint8] struct {
	data   []T
	zp     []int32
	zpP    vecParam
	scale  []float32
	scaleP vecParam
}

// resolveOperand validates the zero point (optional) and scale (when
// withScale) of operand a (row) or b (column) against the plan.
func resolveOperand[T int8 | uint8](op, which string, x Tensor[T], zp Tensor[T], scale Tensor[float32], withScale bool, p matmulPlan, row bool) (matOperand[T], error) {
	o := matOperand[T]{data: x.Data}
	zname, sname := which+"_zero_point", which+"_scale"
	if err := checkOptional(op, zname, zp); err != nil {
		return o, err
	}
	o.zp = zeroPoints(zp)
	if zp.absent() {
		o.zpP = vecParam{count: 1}
	} else {
		var err error
		if o.zpP, err = resolveMatParam(op, zname, zp.Shape, len(zp.Data), row, x.Shape, p.m, p.n); err != nil {
			return o, err
		}
	}
	if !withScale {
		return o, nil
	}
	if err := checkRequired(op, sname, scale); err != nil {
		return o, err
	}
	var err error
	if o.scaleP, err = resolveMatParam(op, sname, scale.Shape, len(scale.Data), row, x.Shape, p.m, p.n); err != nil {
		return o, err
	}
	if !zp.absent() && o.scaleP != o.zpP {
		return o, opErr(op, ErrShape, "%s shape %v and %s shape %v differ", sname, scale.Shape, zname, zp.Shape)
	}
	o.scale = scale.Data
	return o, nil
}

// MatMulInteger is the ONNX MatMulInteger operator: the int32 matrix
// product of (A - a_zero_point) and (B - b_zero_point), behaving like
// numpy.matmul (1-D operands promoted, batch dimensions broadcast).
//
// aZeroPoint is absent (0), one element, per-row ([M], or A's shape with its
// last dimension 1 for per-matrix rows); bZeroPoint is absent, one element,
// per-column ([N], or B's batch shape followed by [1, N]). Products are
// exact in int32; the accumulation wraps on int32 overflow, which the
// specification allows.
func MatMulInteger[A, B int8 | uint8](a Tensor[A], b Tensor[B], aZeroPoint Tensor[A], bZeroPoint Tensor[B]) (Tensor[int32], error) {
	const op = "MatMulInteger"
	if err := checkTensor(op, "A", a); err != nil {
		return Tensor[int32]{}, err
	}
	if err := checkTensor(op, "B", b); err != nil {
		return Tensor[int32]{}, err
	}
	p, err := planMatMul(op, a.Shape, b.Shape)
	if err != nil {
		return Tensor[int32]{}, err
	}
	ao, err := resolveOperand(op, "a", a, aZeroPoint, Tensor[float32]{}, false, p, true)
	if err != nil {
		return Tensor[int32]{}, err
	}
	bo, err := resolveOperand(op, "b", b, bZeroPoint, Tensor[float32]{}, false, p, false)
	if err != nil {
		return Tensor[int32]{}, err
	}
	y := Tensor[int32]{Shape: p.outShape, Data: make([]int32, p.outLen)}
	mn := p.m * p.n
	for o := range p.aMat {
		ai, bi := p.aMat[o], p.bMat[o]
		quant.GemmInt(p.m, p.n, p.k,
			ao.data[ai*p.m*p.k:(ai+1)*p.m*p.k], at(ao.zpP, ao.zp, ai),
			bo.data[bi*p.k*p.n:(bi+1)*p.k*p.n], at(bo.zpP, bo.zp, bi),
			y.Data[o*mn:(o+1)*mn])
	}
	return y, nil
}

// QLinearMatMul is the ONNX QLinearMatMul operator: the matrix product of
// two quantized tensors, requantized to the output grid,
//
//	y = saturate(round_half_even(acc * (a_scale*b_scale/y_scale)) + y_zero_point)
//
// where acc is the exact int32 product of (a - a_zero_point) and
// (b - b_zero_point) and the output saturates to Y's range, as the
// specification's formula says. The multiplier is formed in float32 in
// that order (a_scale*b_scale, then /y_scale) and acc*multiplier is a
// float32 product, as ONNX Runtime computes it.
//
// Broadcasting follows numpy.matmul. a's scale and zero point are one
// element or per-row, b's one element or per-column, with the same forms
// as MatMulInteger's zero points; each scale and its zero point must have
// the same form. yScale and yZeroPoint have one element. An absent zero
// point means 0. A multiplier that is NaN or infinite (a zero, NaN or
// infinite scale) is an ErrNonFinite error.
func QLinearMatMul[A, B, Y int8 | uint8](a Tensor[A], aScale Tensor[float32], aZeroPoint Tensor[A], b Tensor[B], bScale Tensor[float32], bZeroPoint Tensor[B], yScale Tensor[float32], yZeroPoint Tensor[Y]) (Tensor[Y], error) {
	const op = "QLinearMatMul"
	if err := checkTensor(op, "a", a); err != nil {
		return Tensor[Y]{}, err
	}
	if err := checkTensor(op, "b", b); err != nil {
		return Tensor[Y]{}, err
	}
	p, err := planMatMul(op, a.Shape, b.Shape)
	if err != nil {
		return Tensor[Y]{}, err
	}
	ao, err := resolveOperand(op, "a", a, aZeroPoint, aScale, true, p, true)
	if err != nil {
		return Tensor[Y]{}, err
	}
	bo, err := resolveOperand(op, "b", b, bZeroPoint, bScale, true, p, false)
	if err != nil {
		return Tensor[Y]{}, err
	}
	ys, yz, err := outputParams(op, yScale, yZeroPoint)
	if err != nil {
		return Tensor[Y]{}, err
	}
	qmin, qmax := bounds[Y]()
	y := Tensor[Y]{Shape: p.outShape, Data: make([]Y, p.outLen)}
	mn := p.m * p.n
	acc := make([]int32, mn)
	for o := range p.aMat {
		ai, bi := p.aMat[o], p.bMat[o]
		quant.GemmInt(p.m, p.n, p.k,
			ao.data[ai*p.m*p.k:(ai+1)*p.m*p.k], at(ao.zpP, ao.zp, ai),
			bo.data[bi*p.k*p.n:(bi+1)*p.k*p.n], at(bo.zpP, bo.zp, bi),
			acc)
		as, bs := at(ao.scaleP, ao.scale, ai), at(bo.scaleP, bo.scale, bi)
		out := y.Data[o*mn : (o+1)*mn]
		// One row at a time when a's scale is per-row, else all rows: the
		// multipliers are per column of b (or one).
		rows := p.m
		if len(as) > 1 {
			rows = 1
		}
		for i := 0; i < p.m; i += rows {
			mult, err := multipliers(op, "a_scale·b_scale/y_scale", as[min(i, len(as)-1)], bs, ys)
			if err != nil {
				return Tensor[Y]{}, err
			}
			quant.Requantize(rows, p.n, acc[i*p.n:(i+rows)*p.n], nil, mult, yz, qmin, qmax, out[i*p.n:(i+rows)*p.n])
		}
	}
	return y, nil
}

// outputParams validates a per-tensor output scale and zero point.
func outputParams[Y int8 | uint8](op string, yScale Tensor[float32], yZeroPoint Tensor[Y]) (float32, int32, error) {
	if err := checkRequired(op, "y_scale", yScale); err != nil {
		return 0, 0, err
	}
	if len(yScale.Data) != 1 {
		return 0, 0, opErr(op, ErrShape, "y_scale shape %v must hold one element (per-tensor)", yScale.Shape)
	}
	if err := checkOptional(op, "y_zero_point", yZeroPoint); err != nil {
		return 0, 0, err
	}
	if !yZeroPoint.absent() && len(yZeroPoint.Data) != 1 {
		return 0, 0, opErr(op, ErrShape, "y_zero_point shape %v must hold one element (per-tensor)", yZeroPoint.Shape)
	}
	return yScale.Data[0], zeroPoints(yZeroPoint)[0], nil
}

// multipliers returns quant.RequantScale's multipliers, the one
// requantization arithmetic of the module; one that is NaN or infinite
// (from a zero, NaN or infinite scale) has no defined output and is an
// ErrNonFinite error naming it as what[j].
func multipliers(op, what string, inScale float32, wScales []float32, outScale float32) ([]float32, error) {
	m, err := quant.RequantScale(inScale, wScales, outScale)
	if err != nil {
		for j, ws := range wScales {
			if v := quant.RequantMultiplier(inScale, ws, outScale); !(v-v == 0) {
				return nil, opErr(op, ErrNonFinite, "requantization multiplier %s[%d] is %v (a zero or non-finite scale)", what, j, v)
			}
		}
		return nil, opErr(op, ErrNonFinite, "%v", err)
	}
	return m, nil
}
