package onnx_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
)

// The fuzz targets below decode arbitrary bytes into small, mostly valid
// operator calls and compare the operator, which runs quant's integer GEMM
// (AVX2 or AVX-512 assembly where the CPU has it, pure Go with the noasm
// build tag), with a reference written out here: int64 accumulation over
// the definition of the convolution or of numpy.matmul, wrapped to int32,
// and the requantization formula step by step in float32. Running them
// with and without -tags noasm checks the assembly and the pure-Go paths
// against the same reference. A call the operator refuses must come back
// as an *onnx.OpError wrapping one of the package's sentinels, never as a
// panic. Seeds (f.Add, testdata/fuzz) run in plain go test.

// fuzzBytes hands out fuzz input bytes, then zeros once they run out.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) byte() byte {
	if len(f.b) == 0 {
		return 0
	}
	v := f.b[0]
	f.b = f.b[1:]
	return v
}

// small returns a value in [lo, hi].
func (f *fuzzBytes) small(lo, hi int) int { return lo + int(f.byte())%(hi-lo+1) }

// scale returns a float32 scale: mostly a positive value over a few
// decades or a power of two, sometimes 0, Inf or NaN.
func (f *fuzzBytes) scale() float32 {
	switch v := f.byte(); {
	case v == 255:
		return float32(math.NaN())
	case v == 254:
		return float32(math.Inf(1))
	case v == 253:
		return 0
	case v >= 192:
		return float32(math.Ldexp(1, int(v%16)-12))
	default:
		return float32(math.Pow(10, -4+3*float64(v)/192))
	}
}

func (f *fuzzBytes) int32() int32 {
	var b [4]byte
	for i := range b {
		b[i] = f.byte()
	}
	return int32(binary.LittleEndian.Uint32(b[:]))
}

func codes[T int8 | uint8](f *fuzzBytes, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = T(f.byte())
	}
	return out
}

func scalar[T int8 | uint8 | float32](v T) onnx.Tensor[T] {
	return onnx.Tensor[T]{Shape: []int{}, Data: []T{v}}
}

func bounds[T int8 | uint8]() (int32, int32) {
	var z T
	if z--; z > 0 {
		return 0, 255
	}
	return -128, 127
}

// refMultiplier and refRequantize are the requantization of ONNX Runtime
// written out: M = float32(float32(a·b)/y), then float32(acc)·M clamped to
// [qmin-zp, qmax-zp], rounded half to even, plus zp.
func refMultiplier(a, b, y float32) float32 {
	ab := a * b
	return ab / y
}

func refRequantize(acc int32, m float32, zp, qmin, qmax int32) int32 {
	p := float32(acc) * m
	p = min(max(p, float32(qmin-zp)), float32(qmax-zp))
	return int32(math.RoundToEven(float64(p))) + zp
}

func finite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// checkRefused fails unless err is an *OpError wrapping one of the
// package's sentinels.
func checkRefused(t *testing.T, err error) {
	t.Helper()
	var oe *onnx.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v is not an *onnx.OpError", err)
	}
	for _, s := range []error{onnx.ErrShape, onnx.ErrAxis, onnx.ErrAttribute, onnx.ErrZeroPoint, onnx.ErrNonFinite, onnx.ErrTooLarge} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps no sentinel", err)
}

// convCase is one decoded convolution: N×C×D… input, M×C/group×K… weights.
type convCase struct {
	n, c, m, group int
	in, k          []int
	attrs          onnx.ConvAttrs
	perChannel     bool
	withBias       bool
}

func decodeConv(f *fuzzBytes) convCase {
	d := f.small(1, 2)
	cc := convCase{n: f.small(0, 3), group: f.small(1, 3)}
	cc.c, cc.m = cc.group*f.small(0, 4), cc.group*f.small(0, 3)
	cc.in, cc.k = make([]int, d), make([]int, d)
	pads, strides, dils := make([]int, 2*d), make([]int, d), make([]int, d)
	for i := range d {
		cc.in[i], cc.k[i] = f.small(0, 9), f.small(1, 5)
		pads[i], pads[d+i] = f.small(0, 3), f.small(0, 3)
		strides[i], dils[i] = f.small(1, 3), f.small(1, 3)
	}
	cc.attrs = onnx.ConvAttrs{Pads: pads, Strides: strides, Dilations: dils, Group: cc.group}
	flags := f.byte()
	cc.perChannel, cc.withBias = flags&1 != 0, flags&2 != 0
	return cc
}

// refConv returns the int64-accumulated, int32-wrapped ConvInteger result
// and its shape, or ok == false when no output position fits.
func refConv[X, W int8 | uint8](cc convCase, x []X, xz int32, w []W, wz []int32) (acc []int32, shape []int, ok bool) {
	d := len(cc.in)
	out := make([]int, d)
	for i := range d {
		span := cc.in[i] + cc.attrs.Pads[i] + cc.attrs.Pads[d+i] - cc.attrs.Dilations[i]*(cc.k[i]-1) - 1
		if span < 0 {
			return nil, nil, false
		}
		out[i] = span/cc.attrs.Strides[i] + 1
	}
	shape = append([]int{cc.n, cc.m}, out...)
	total := 1
	for _, v := range shape {
		total *= v
	}
	acc = make([]int32, total)
	cg, mg := cc.c/cc.group, cc.m/cc.group
	inLen, kLen, outLen := 1, 1, 1
	for i := range d {
		inLen, kLen, outLen = inLen*cc.in[i], kLen*cc.k[i], outLen*out[i]
	}
	pos, tap := make([]int, d), make([]int, d)
	for nb := range cc.n {
		for mo := range cc.m {
			g := mo / mg
			wzm := wz[min(mo, len(wz)-1)]
			for o := range outLen {
				rem := o
				for i := d - 1; i >= 0; i-- {
					pos[i], rem = rem%out[i], rem/out[i]
				}
				var s int64
				for ci := range cg {
					for kk := range kLen {
						r := kk
						for i := d - 1; i >= 0; i-- {
							tap[i], r = r%cc.k[i], r/cc.k[i]
						}
						xi, inside := 0, true
						for i := range d {
							v := pos[i]*cc.attrs.Strides[i] - cc.attrs.Pads[i] + tap[i]*cc.attrs.Dilations[i]
							if v < 0 || v >= cc.in[i] {
								inside = false
								break
							}
							xi = xi*cc.in[i] + v
						}
						if !inside {
							continue // padding reads the zero point: contributes 0
						}
						xv := int64(x[(nb*cc.c+g*cg+ci)*inLen+xi]) - int64(xz)
						wv := int64(w[(mo*cg+ci)*kLen+kk]) - int64(wzm)
						s += xv * wv
					}
				}
				acc[(nb*cc.m+mo)*outLen+o] = int32(s) // wraps mod 2^32, as the operators may
			}
		}
	}
	return acc, shape, true
}

func fuzzConv[X, W, Y int8 | uint8](t *testing.T, f *fuzzBytes) {
	cc := decodeConv(f)
	xShape := append([]int{cc.n, cc.c}, cc.in...)
	wShape := append([]int{cc.m, cc.c / cc.group}, cc.k...)
	xn, wn := 1, 1
	for _, v := range xShape {
		xn *= v
	}
	for _, v := range wShape {
		wn *= v
	}
	x, w := codes[X](f, xn), codes[W](f, wn)
	xz := X(f.byte())
	wzn := 1
	if cc.perChannel && cc.m > 0 {
		wzn = cc.m
	}
	wz, ws := codes[W](f, wzn), make([]float32, wzn)
	wz32 := make([]int32, wzn)
	for i := range ws {
		ws[i], wz32[i] = f.scale(), int32(wz[i])
	}
	xs, ys, yz := f.scale(), f.scale(), Y(f.byte())
	var bias []int32
	if cc.withBias {
		bias = make([]int32, cc.m)
		for i := range bias {
			bias[i] = f.int32() >> f.small(0, 31)
		}
	}

	wzT, wsT := onnx.Tensor[W]{Shape: []int{wzn}, Data: wz}, onnx.Tensor[float32]{Shape: []int{wzn}, Data: ws}
	acc, shape, ok := refConv(cc, x, int32(xz), w, wz32)
	gotAcc, err := onnx.ConvInteger(onnx.Tensor[X]{Shape: xShape, Data: x}, onnx.Tensor[W]{Shape: wShape, Data: w}, scalar(xz), wzT, cc.attrs)
	if !ok || err != nil {
		if ok || err == nil {
			t.Fatalf("ConvInteger %v * %v %+v: error %v, reference fits: %v", xShape, wShape, cc.attrs, err, ok)
		}
		checkRefused(t, err)
		return
	}
	if !equalInts(gotAcc.Shape, shape) || !equalInts(gotAcc.Data, acc) {
		t.Fatalf("ConvInteger %v * %v %+v:\n got %v %v\nwant %v %v", xShape, wShape, cc.attrs, gotAcc.Shape, gotAcc.Data, shape, acc)
	}

	biasT := onnx.Tensor[int32]{}
	if bias != nil {
		biasT = onnx.Tensor[int32]{Shape: []int{cc.m}, Data: bias}
	}
	y, err := onnx.QLinearConv(onnx.Tensor[X]{Shape: xShape, Data: x}, scalar(xs), scalar(xz),
		onnx.Tensor[W]{Shape: wShape, Data: w}, wsT, wzT, scalar(ys), scalar(yz), biasT, cc.attrs)
	mult := make([]float32, len(ws))
	allFinite := true
	for i, s := range ws {
		mult[i] = refMultiplier(xs, s, ys)
		allFinite = allFinite && finite32(mult[i])
	}
	if !allFinite || err != nil {
		if allFinite || !errors.Is(err, onnx.ErrNonFinite) {
			t.Fatalf("QLinearConv scales %v·%v/%v: error %v, finite multipliers: %v", xs, ws, ys, err, allFinite)
		}
		return
	}
	qmin, qmax := bounds[Y]()
	outLen := len(acc) / max(1, cc.n*cc.m)
	for i, a := range acc {
		mo := (i / max(1, outLen)) % cc.m
		if bias != nil {
			a += bias[mo]
		}
		want := refRequantize(a, mult[min(mo, len(mult)-1)], int32(yz), qmin, qmax)
		if int32(y.Data[i]) != want {
			t.Fatalf("QLinearConv %v * %v %+v, scales %v·%v/%v: output %d (channel %d, accumulator %d) is %d, want %d",
				xShape, wShape, cc.attrs, xs, ws, ys, i, mo, a, y.Data[i], want)
		}
	}
}

func equalInts[T int | int32](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzConv checks ConvInteger and QLinearConv (1-D and 2-D, groups, pads,
// strides, dilations, empty dimensions, per-tensor and per-channel weight
// parameters, every int8/uint8 combination) against the int64 reference.
func FuzzConv(f *testing.F) {
	f.Add(byte(0), []byte{1, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 3, 7, 9, 11, 13, 200, 100, 3, 5, 7})
	f.Add(byte(7), []byte{2, 2, 2, 3, 5, 5, 3, 2, 1, 2, 1, 1, 4, 4, 2, 0, 1, 2, 3, 3})
	f.Add(byte(3), []byte{1, 3, 3, 0, 4, 3, 2, 2, 0, 1, 2, 2, 3})                          // empty input channels, 3 groups
	f.Add(byte(5), []byte{0, 1, 1, 1, 9, 4, 0, 3, 2, 3, 255})                              // a NaN scale
	f.Add(byte(6), []byte{1, 2, 2, 2, 8, 2, 3, 3, 0, 1, 1, 3, 192, 192, 192, 192, 192, 0}) // power-of-two scales: ties
	f.Fuzz(func(t *testing.T, types byte, data []byte) {
		fb := &fuzzBytes{b: data}
		switch types % 8 {
		case 0:
			fuzzConv[uint8, int8, uint8](t, fb)
		case 1:
			fuzzConv[uint8, int8, int8](t, fb)
		case 2:
			fuzzConv[int8, int8, int8](t, fb)
		case 3:
			fuzzConv[int8, int8, uint8](t, fb)
		case 4:
			fuzzConv[uint8, uint8, uint8](t, fb)
		case 5:
			fuzzConv[int8, uint8, int8](t, fb)
		case 6:
			fuzzConv[uint8, uint8, int8](t, fb)
		default:
			fuzzConv[int8, uint8, uint8](t, fb)
		}
	})
}

// matCase is one decoded matmul: a [batchA..., m, k] (or [k]), b
// [batchB..., k, n] (or [k]) with batch dimensions 1 or the broadcast size.
type matCase struct {
	aShape, bShape []int
	m, k, n        int
	perRow, perCol bool
}

func decodeMat(f *fuzzBytes) matCase {
	mc := matCase{m: f.small(0, 5), k: f.small(0, 40), n: f.small(0, 5)} // k >= 32 takes the VNNI kernels where the CPU has them
	rankA, rankB, bsz := f.small(1, 4), f.small(1, 4), f.small(0, 3)
	batch := func(r int) []int {
		s := make([]int, max(r-2, 0))
		for i := range s {
			if f.byte()&1 == 0 {
				s[i] = 1
			} else {
				s[i] = bsz
			}
		}
		return s
	}
	if rankA == 1 {
		mc.aShape, mc.m = []int{mc.k}, 1
	} else {
		mc.aShape = append(batch(rankA), mc.m, mc.k)
	}
	if rankB == 1 {
		mc.bShape, mc.n = []int{mc.k}, 1
	} else {
		mc.bShape = append(batch(rankB), mc.k, mc.n)
	}
	flags := f.byte()
	mc.perRow, mc.perCol = flags&1 != 0 && rankA > 1, flags&2 != 0 && rankB > 1
	return mc
}

// refMatMul returns numpy.matmul's int64-accumulated, int32-wrapped
// product of (a - az[row]) and (b - bz[col]), with the output shape, the
// row and the column of every output element, or ok == false when the
// batch dimensions do not broadcast.
func refMatMul[A, B int8 | uint8](mc matCase, a []A, az []int32, b []B, bz []int32) (acc []int32, shape, rows, cols []int, ok bool) {
	ab, bb := mc.aShape[:max(len(mc.aShape)-2, 0)], mc.bShape[:max(len(mc.bShape)-2, 0)]
	r := max(len(ab), len(bb))
	batch := make([]int, r)
	dimA := func(s []int, i int) int {
		if j := i - (r - len(s)); j >= 0 {
			return s[j]
		}
		return 1
	}
	for i := range r {
		da, db := dimA(ab, i), dimA(bb, i)
		switch {
		case da == db || db == 1:
			batch[i] = da
		case da == 1:
			batch[i] = db
		default:
			return nil, nil, nil, nil, false
		}
	}
	shape = append([]int{}, batch...)
	if len(mc.aShape) > 1 {
		shape = append(shape, mc.m)
	}
	if len(mc.bShape) > 1 {
		shape = append(shape, mc.n)
	}
	nb := 1
	for _, v := range batch {
		nb *= v
	}
	idx := make([]int, r)
	for o := range nb {
		rem := o
		for i := r - 1; i >= 0; i-- {
			idx[i], rem = rem%batch[i], rem/batch[i]
		}
		ai, bi := 0, 0
		for i := range r {
			if da := dimA(ab, i); i-(r-len(ab)) >= 0 {
				ai = ai*da + min(idx[i], da-1)
			}
			if db := dimA(bb, i); i-(r-len(bb)) >= 0 {
				bi = bi*db + min(idx[i], db-1)
			}
		}
		for i := range mc.m {
			for j := range mc.n {
				var s int64
				for p := range mc.k {
					av := int64(a[(ai*mc.m+i)*mc.k+p]) - int64(az[min(i, len(az)-1)])
					bv := int64(b[(bi*mc.k+p)*mc.n+j]) - int64(bz[min(j, len(bz)-1)])
					s += av * bv
				}
				acc, rows, cols = append(acc, int32(s)), append(rows, i), append(cols, j)
			}
		}
	}
	return acc, shape, rows, cols, true
}

func fuzzMatMul[A, B, Y int8 | uint8](t *testing.T, f *fuzzBytes) {
	mc := decodeMat(f)
	an, bn := 1, 1
	for _, v := range mc.aShape {
		an *= v
	}
	for _, v := range mc.bShape {
		bn *= v
	}
	a, b := codes[A](f, an), codes[B](f, bn)
	params := func(n int, per bool) (int, []int) {
		if per && n > 0 {
			return n, []int{n}
		}
		return 1, []int{}
	}
	na, shA := params(mc.m, mc.perRow)
	nbz, shB := params(mc.n, mc.perCol)
	az, bz := codes[A](f, na), codes[B](f, nbz)
	as, bs := make([]float32, na), make([]float32, nbz)
	az32, bz32 := make([]int32, na), make([]int32, nbz)
	for i := range as {
		as[i], az32[i] = f.scale(), int32(az[i])
	}
	for i := range bs {
		bs[i], bz32[i] = f.scale(), int32(bz[i])
	}
	ys, yz := f.scale(), Y(f.byte())
	aT, bT := onnx.Tensor[A]{Shape: mc.aShape, Data: a}, onnx.Tensor[B]{Shape: mc.bShape, Data: b}
	azT, bzT := onnx.Tensor[A]{Shape: shA, Data: az}, onnx.Tensor[B]{Shape: shB, Data: bz}

	acc, shape, rows, cols, ok := refMatMul(mc, a, az32, b, bz32)
	got, err := onnx.MatMulInteger(aT, bT, azT, bzT)
	if !ok || err != nil {
		if ok || err == nil {
			t.Fatalf("MatMulInteger %v·%v: error %v, reference broadcasts: %v", mc.aShape, mc.bShape, err, ok)
		}
		checkRefused(t, err)
		return
	}
	if !equalInts(got.Shape, shape) || !equalInts(got.Data, acc) {
		t.Fatalf("MatMulInteger %v·%v:\n got %v %v\nwant %v %v", mc.aShape, mc.bShape, got.Shape, got.Data, shape, acc)
	}
	y, err := onnx.QLinearMatMul(aT, onnx.Tensor[float32]{Shape: shA, Data: as}, azT,
		bT, onnx.Tensor[float32]{Shape: shB, Data: bs}, bzT, scalar(ys), scalar(yz))
	allFinite := true // over the multipliers some output uses
	for i := range acc {
		allFinite = allFinite && finite32(refMultiplier(as[min(rows[i], len(as)-1)], bs[min(cols[i], len(bs)-1)], ys))
	}
	if !allFinite || err != nil {
		if allFinite || !errors.Is(err, onnx.ErrNonFinite) {
			t.Fatalf("QLinearMatMul scales %v·%v/%v: error %v, finite multipliers: %v", as, bs, ys, err, allFinite)
		}
		return
	}
	qmin, qmax := bounds[Y]()
	for i, v := range acc {
		m := refMultiplier(as[min(rows[i], len(as)-1)], bs[min(cols[i], len(bs)-1)], ys)
		if want := refRequantize(v, m, int32(yz), qmin, qmax); int32(y.Data[i]) != want {
			t.Fatalf("QLinearMatMul %v·%v, scales %v·%v/%v: output %d (row %d, column %d, accumulator %d) is %d, want %d",
				mc.aShape, mc.bShape, as, bs, ys, i, rows[i], cols[i], v, y.Data[i], want)
		}
	}
}

// FuzzMatMul checks MatMulInteger and QLinearMatMul (1-D operands, batch
// broadcasting, empty dimensions, per-row and per-column parameters,
// every int8/uint8 combination) against the int64 reference.
func FuzzMatMul(f *testing.F) {
	f.Add(byte(0), []byte{2, 3, 2, 1, 1, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(byte(2), []byte{4, 9, 5, 3, 3, 2, 1, 0, 1, 1, 3, 250, 3, 7})                      // batch broadcasting, per row and column
	f.Add(byte(4), []byte{0, 5, 3, 2, 2, 1, 0})                                             // an empty dimension
	f.Add(byte(6), []byte{3, 3, 3, 1, 2, 0, 1, 2, 192, 192, 193, 193, 192, 192, 192, 9, 9}) // power-of-two scales
	f.Add(byte(1), []byte{1, 1, 1, 3, 3, 2, 1, 0, 1, 2, 0})                                 // unbroadcastable batches
	f.Fuzz(func(t *testing.T, types byte, data []byte) {
		fb := &fuzzBytes{b: data}
		switch types % 8 {
		case 0:
			fuzzMatMul[uint8, int8, uint8](t, fb)
		case 1:
			fuzzMatMul[uint8, int8, int8](t, fb)
		case 2:
			fuzzMatMul[int8, int8, int8](t, fb)
		case 3:
			fuzzMatMul[int8, int8, uint8](t, fb)
		case 4:
			fuzzMatMul[uint8, uint8, uint8](t, fb)
		case 5:
			fuzzMatMul[int8, uint8, int8](t, fb)
		case 6:
			fuzzMatMul[uint8, uint8, int8](t, fb)
		default:
			fuzzMatMul[int8, uint8, uint8](t, fb)
		}
	})
}
