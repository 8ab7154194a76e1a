package onnx

import (
	"fmt"
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// ConvAttrs holds the ONNX Conv attributes ConvInteger and QLinearConv
// take. Its zero value means ONNX's defaults: no padding, stride 1,
// dilation 1, one group. The kernel shape is always taken from w
// (kernel_shape), and auto_pad is NOTSET (explicit pads).
type ConvAttrs struct {
	// Pads holds, for D spatial dimensions, the D begin paddings followed
	// by the D end paddings, as ONNX's pads: [x1_begin, x2_begin, ...,
	// x1_end, x2_end, ...]. Empty means 0 everywhere.
	Pads []int
	// Strides holds one stride per spatial dimension. Empty means 1.
	Strides []int
	// Dilations holds one dilation per spatial dimension. Empty means 1.
	Dilations []int
	// Group splits input and output channels into Group independent
	// convolutions. 0 means 1.
	Group int
}

// maxAttr bounds pads, strides and dilations, so that every size computed
// from them fits an int.
const maxAttr = 1 << 30

// convPlan is a validated convolution: shapes, attributes and, per spatial
// dimension, where each kernel tap of each output position reads the input.
type convPlan struct {
	n, c, m, group, cg, mg int
	inSp, kSp, outSp       []int
	kLen, pLen, inLen      int // product of kernel, output and input spatial dims
	rows                   int // cg*kLen: the reduction length of one output
	outShape               []int
	outLen                 int
	// tab[d][kd*outSp[d]+od] is the input coordinate along spatial
	// dimension d read by kernel tap kd at output coordinate od, or -1 when
	// it falls in the padding.
	tab [][]int
}

// planConv validates x and w shapes (N×C×D1×…, M×C/group×k1×…) and attrs.
func planConv(op string, xShape, wShape []int, attrs ConvAttrs) (*convPlan, error) {
	if len(xShape) < 3 {
		return nil, opErr(op, ErrShape, "x shape %v: need rank >= 3 (N, C, spatial dimensions)", xShape)
	}
	if len(wShape) != len(xShape) {
		return nil, opErr(op, ErrShape, "w shape %v and x shape %v: ranks %d and %d differ", wShape, xShape, len(wShape), len(xShape))
	}
	d := len(xShape) - 2
	p := &convPlan{n: xShape[0], c: xShape[1], m: wShape[0], cg: wShape[1], group: attrs.Group}
	if p.group == 0 {
		p.group = 1
	}
	if p.group < 0 {
		return nil, opErr(op, ErrAttribute, "group %d is negative", attrs.Group)
	}
	if p.cg*p.group != p.c {
		return nil, opErr(op, ErrShape, "x shape %v has %d channels but w shape %v with group %d expects %d×%d", xShape, p.c, wShape, p.group, p.cg, p.group)
	}
	if p.m%p.group != 0 {
		return nil, opErr(op, ErrShape, "w shape %v: %d output channels are not divisible by group %d", wShape, p.m, p.group)
	}
	p.mg = p.m / p.group
	p.inSp, p.kSp = xShape[2:], wShape[2:]
	for i, k := range p.kSp {
		if k < 1 {
			return nil, opErr(op, ErrShape, "w shape %v: kernel dimension %d is %d", wShape, i, k)
		}
	}
	pads, err := attrList(op, "pads", attrs.Pads, 2*d, 0, 0)
	if err != nil {
		return nil, err
	}
	strides, err := attrList(op, "strides", attrs.Strides, d, 1, 1)
	if err != nil {
		return nil, err
	}
	dils, err := attrList(op, "dilations", attrs.Dilations, d, 1, 1)
	if err != nil {
		return nil, err
	}
	p.outSp = make([]int, d)
	for i := range d {
		if p.inSp[i] > math.MaxInt-2*maxAttr {
			return nil, opErr(op, ErrTooLarge, "x shape %v: spatial dimension %d is %d", xShape, i, p.inSp[i])
		}
		padded := p.inSp[i] + pads[i] + pads[d+i]
		ext, ok := mulChecked(dils[i], p.kSp[i]-1) // dilated kernel extent - 1
		if !ok || padded < ext+1 {
			return nil, opErr(op, ErrShape, "x shape %v, w shape %v: spatial dimension %d padded to %d is smaller than the kernel %d dilated by %d", xShape, wShape, i, padded, p.kSp[i], dils[i])
		}
		p.outSp[i] = (padded-ext-1)/strides[i] + 1
	}
	p.outShape = append([]int{p.n, p.m}, p.outSp...)
	var ok bool
	p.outLen, ok = numel(p.outShape)
	if err := allocCheck(op, fmt.Sprintf("output of shape %v", p.outShape), p.outLen, ok); err != nil {
		return nil, err
	}
	if p.outLen == 0 {
		return p, nil
	}
	// With an output, N, M and every output dimension are >= 1, so pLen <=
	// outLen, and inLen is bounded by len(x.Data) when C >= 1. kLen is
	// bounded by len(w.Data) only when C/group >= 1: check it.
	p.pLen, _ = numel(p.outSp)
	p.inLen, _ = numel(p.inSp)
	if p.cg == 0 {
		// No input channel in any group (C = 0): every accumulator is 0
		// whatever the kernel, which no data backs. rows stays 0: no tap
		// table, no im2col and no GEMM; the work is the output's.
		return p, nil
	}
	p.kLen, ok = numel(p.kSp)
	if err := allocCheck(op, fmt.Sprintf("kernel of shape %v", p.kSp), p.kLen, ok); err != nil {
		return nil, err
	}
	p.rows = p.cg * p.kLen
	cols, ok := mulChecked(p.rows, p.pLen)
	if err := allocCheck(op, fmt.Sprintf("im2col buffer %d×%d", p.rows, p.pLen), cols, ok); err != nil {
		return nil, err
	}
	tabLen := 0
	for i := range d {
		n, ok := mulChecked(p.kSp[i], p.outSp[i])
		tabLen += n // both terms <= MaxElements: no overflow
		if err := allocCheck(op, fmt.Sprintf("tap tables for kernel %v", p.kSp), tabLen, ok); err != nil {
			return nil, err
		}
	}
	p.tab = make([][]int, d)
	for i := range d {
		t := make([]int, p.kSp[i]*p.outSp[i])
		for k := range p.kSp[i] {
			for o := range p.outSp[i] {
				in := o*strides[i] - pads[i] + k*dils[i]
				if in < 0 || in >= p.inSp[i] {
					in = -1
				}
				t[k*p.outSp[i]+o] = in
			}
		}
		p.tab[i] = t
	}
	return p, nil
}

// attrList validates one list attribute: empty means def everywhere,
// otherwise it needs n values in [lo, maxAttr].
func attrList(op, name string, v []int, n, lo, def int) ([]int, error) {
	if len(v) == 0 {
		out := make([]int, n)
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != n {
		return nil, opErr(op, ErrAttribute, "%s %v: need %d values", name, v, n)
	}
	for i, x := range v {
		if x < lo || x > maxAttr {
			return nil, opErr(op, ErrAttribute, "%s %v: value %d at %d is outside [%d, %d]", name, v, x, i, lo, maxAttr)
		}
	}
	return slices.Clone(v), nil
}

// im2col writes, for batch item nb and group g, the rows×pLen matrix whose
// row (c, tap) holds the input values that kernel tap reads at every output
// position; padding reads pad (the x zero point, so it contributes 0).
func im2col[X int8 | uint8](p *convPlan, x []X, nb, g int, pad X, col []X) {
	d := len(p.kSp)
	last := d - 1
	outer := p.pLen / p.outSp[last] // output positions before the last dimension
	tap := make([]int, d)           // kernel multi-index
	pos := make([]int, d)           // output multi-index (all but the last used)
	for c := range p.cg {
		xc := x[((nb*p.c)+g*p.cg+c)*p.inLen:][:p.inLen]
		for i := range tap {
			tap[i] = 0
		}
		for kk := range p.kLen {
			row := col[(c*p.kLen+kk)*p.pLen:][:p.pLen]
			lastTab := p.tab[last][tap[last]*p.outSp[last]:][:p.outSp[last]]
			for i := range pos {
				pos[i] = 0
			}
			for op := range outer {
				base, ok := 0, true
				for i := range last {
					v := p.tab[i][tap[i]*p.outSp[i]+pos[i]]
					if v < 0 {
						ok = false
						break
					}
					base = base*p.inSp[i] + v
				}
				dst := row[op*p.outSp[last]:][:p.outSp[last]]
				if !ok {
					for j := range dst {
						dst[j] = pad
					}
				} else {
					base *= p.inSp[last]
					for j, v := range lastTab {
						if v < 0 {
							dst[j] = pad
						} else {
							dst[j] = xc[base+v]
						}
					}
				}
				for i := last - 1; i >= 0; i-- { // odometer over outer positions
					if pos[i]++; pos[i] < p.outSp[i] {
						break
					}
					pos[i] = 0
				}
			}
			for i := last; i >= 0; i-- { // odometer over kernel taps
				if tap[i]++; tap[i] < p.kSp[i] {
					break
				}
				tap[i] = 0
			}
		}
	}
}

// convInt runs the integer convolution group by group as im2col + GEMM:
// for batch item nb and group g, acc(nb, g) receives the mg×pLen int32
// accumulators of that group's output channels, then done(nb, g, acc) is
// called if non-nil. Without output, or without input channels (rows 0:
// every accumulator is 0), it does nothing: the callers handle those
// without a round per batch item and group.
func convInt[X, W int8 | uint8](p *convPlan, x []X, w []W, xz X, wz []int32, acc func(nb, g int) []int32, done func(nb, g int, acc []int32)) {
	if p.outLen == 0 || p.rows == 0 {
		return
	}
	col := make([]X, p.rows*p.pLen)
	xzs := []int32{int32(xz)}
	for nb := range p.n {
		for g := range p.group {
			im2col(p, x, nb, g, xz, col)
			wg := w[g*p.mg*p.rows:][:p.mg*p.rows]
			wzg := wz
			if len(wz) > 1 {
				wzg = wz[g*p.mg:][:p.mg]
			}
			c := acc(nb, g)
			quant.GemmInt(p.mg, p.pLen, p.rows, wg, wzg, col, xzs, c)
			if done != nil {
				done(nb, g, c)
			}
		}
	}
}

// convZeroPoints validates x's zero point (absent or one element) and w's
// (absent, one element or 1-D per output channel).
func convZeroPoints[X, W int8 | uint8](op string, p *convPlan, wShape []int, xZeroPoint Tensor[X], wZeroPoint Tensor[W]) (X, []int32, error) {
	var xz X
	if err := checkOptional(op, "x_zero_point", xZeroPoint); err != nil {
		return xz, nil, err
	}
	if !xZeroPoint.absent() {
		if len(xZeroPoint.Data) != 1 {
			return xz, nil, opErr(op, ErrShape, "x_zero_point shape %v must hold one element (per-tensor)", xZeroPoint.Shape)
		}
		xz = xZeroPoint.Data[0]
	}
	if err := checkOptional(op, "w_zero_point", wZeroPoint); err != nil {
		return xz, nil, err
	}
	if !wZeroPoint.absent() && len(wZeroPoint.Data) != 1 && (len(wZeroPoint.Shape) != 1 || wZeroPoint.Shape[0] != p.m) {
		return xz, nil, opErr(op, ErrShape, "w_zero_point shape %v for w %v is neither one element nor per output channel [%d]", wZeroPoint.Shape, wShape, p.m)
	}
	return xz, zeroPoints(wZeroPoint), nil
}

// ConvInteger is the ONNX ConvInteger operator: the int32 convolution of
// (x - x_zero_point) with (w - w_zero_point), N-D with 1, 2 or more spatial
// dimensions (NCHW for 2-D), pads, strides, dilations and groups.
//
// x is N×C×D1×…, w is M×(C/group)×k1×…, the output N×M×O1×… with
// O = (D + pad_begin + pad_end - dilation·(k-1) - 1)/stride + 1. Padding
// contributes 0 (it is filled with the x zero point). xZeroPoint is absent
// (0) or one element; wZeroPoint is absent, one element or 1-D with M
// elements (per output channel). Accumulation wraps on int32 overflow, which
// the specification allows.
func ConvInteger[X, W int8 | uint8](x Tensor[X], w Tensor[W], xZeroPoint Tensor[X], wZeroPoint Tensor[W], attrs ConvAttrs) (Tensor[int32], error) {
	const op = "ConvInteger"
	if err := checkTensor(op, "x", x); err != nil {
		return Tensor[int32]{}, err
	}
	if err := checkTensor(op, "w", w); err != nil {
		return Tensor[int32]{}, err
	}
	p, err := planConv(op, x.Shape, w.Shape, attrs)
	if err != nil {
		return Tensor[int32]{}, err
	}
	xz, wz, err := convZeroPoints(op, p, w.Shape, xZeroPoint, wZeroPoint)
	if err != nil {
		return Tensor[int32]{}, err
	}
	y := Tensor[int32]{Shape: p.outShape, Data: make([]int32, p.outLen)}
	convInt(p, x.Data, w.Data, xz, wz, func(nb, g int) []int32 {
		return y.Data[(nb*p.m+g*p.mg)*p.pLen:][:p.mg*p.pLen]
	}, nil)
	return y, nil
}

// QLinearConv is the ONNX QLinearConv operator: ConvInteger's accumulator
// plus the int32 bias, requantized to the output grid,
//
//	y = saturate(round_half_even((acc + bias[m]) * (x_scale*w_scale[m]/y_scale)) + y_zero_point)
//
// with the multiplier formed in float32 in that order and a float32
// product, as ONNX Runtime computes it, saturating to Y's range.
//
// xScale, xZeroPoint, yScale and yZeroPoint have one element; wScale and
// wZeroPoint one element or 1-D with M elements (per output channel), with
// the same number of elements. bias is absent or 1-D with M elements,
// quantized with scale x_scale·w_scale and zero point 0. Absent zero points
// mean 0. Shapes and attributes are as for ConvInteger. A multiplier that
// is NaN or infinite (a zero, NaN or infinite scale) is an ErrNonFinite
// error.
func QLinearConv[X, W, Y int8 | uint8](x Tensor[X], xScale Tensor[float32], xZeroPoint Tensor[X], w Tensor[W], wScale Tensor[float32], wZeroPoint Tensor[W], yScale Tensor[float32], yZeroPoint Tensor[Y], bias Tensor[int32], attrs ConvAttrs) (Tensor[Y], error) {
	const op = "QLinearConv"
	if err := checkTensor(op, "x", x); err != nil {
		return Tensor[Y]{}, err
	}
	if err := checkTensor(op, "w", w); err != nil {
		return Tensor[Y]{}, err
	}
	p, err := planConv(op, x.Shape, w.Shape, attrs)
	if err != nil {
		return Tensor[Y]{}, err
	}
	xz, wz, err := convZeroPoints(op, p, w.Shape, xZeroPoint, wZeroPoint)
	if err != nil {
		return Tensor[Y]{}, err
	}
	if err := checkRequired(op, "x_scale", xScale); err != nil {
		return Tensor[Y]{}, err
	}
	if len(xScale.Data) != 1 {
		return Tensor[Y]{}, opErr(op, ErrShape, "x_scale shape %v must hold one element (per-tensor)", xScale.Shape)
	}
	if err := checkRequired(op, "w_scale", wScale); err != nil {
		return Tensor[Y]{}, err
	}
	if len(wScale.Data) != 1 && (len(wScale.Shape) != 1 || wScale.Shape[0] != p.m) {
		return Tensor[Y]{}, opErr(op, ErrShape, "w_scale shape %v for w %v is neither one element nor per output channel [%d]", wScale.Shape, w.Shape, p.m)
	}
	if !wZeroPoint.absent() && len(wZeroPoint.Data) != len(wScale.Data) {
		return Tensor[Y]{}, opErr(op, ErrShape, "w_scale shape %v and w_zero_point shape %v differ", wScale.Shape, wZeroPoint.Shape)
	}
	ys, yz, err := outputParams(op, yScale, yZeroPoint)
	if err != nil {
		return Tensor[Y]{}, err
	}
	if err := checkOptional(op, "B", bias); err != nil {
		return Tensor[Y]{}, err
	}
	if !bias.absent() && (len(bias.Shape) != 1 || bias.Shape[0] != p.m) {
		return Tensor[Y]{}, opErr(op, ErrShape, "bias B shape %v for w %v must be 1-D with %d elements", bias.Shape, w.Shape, p.m)
	}
	mult, err := multipliers(op, "x_scale·w_scale/y_scale", xScale.Data[0], wScale.Data, ys)
	if err != nil {
		return Tensor[Y]{}, err
	}
	qmin, qmax := bounds[Y]()
	y := Tensor[Y]{Shape: p.outShape, Data: make([]Y, p.outLen)}
	if p.outLen > 0 && p.rows == 0 {
		// No input channels: each output channel is its requantized bias.
		for i := 0; i < p.outLen; i += p.pLen {
			ch := (i / p.pLen) % p.m
			var b int32
			if !bias.absent() {
				b = bias.Data[ch]
			}
			v := Y(quant.RequantizeValue(b, mult[min(ch, len(mult)-1)], yz, qmin, qmax))
			for j := range y.Data[i : i+p.pLen] {
				y.Data[i+j] = v
			}
		}
		return y, nil
	}
	buf := make([]int32, p.mg*p.pLen)
	convInt(p, x.Data, w.Data, xz, wz, func(int, int) []int32 { return buf }, func(nb, g int, acc []int32) {
		out := y.Data[(nb*p.m+g*p.mg)*p.pLen:][:p.mg*p.pLen]
		for j := range p.mg {
			ch := g*p.mg + j
			var b int32
			if !bias.absent() {
				b = bias.Data[ch]
			}
			for i := j * p.pLen; i < (j+1)*p.pLen; i++ {
				out[i] = Y(quant.RequantizeValue(acc[i]+b, mult[min(ch, len(mult)-1)], yz, qmin, qmax))
			}
		}
	})
	return y, nil
}
