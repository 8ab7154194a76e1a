package onnx

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// refMatMul is numpy.matmul on float64 data, written independently of
// planMatMul: promote 1-D operands, broadcast batch dimensions by
// unravelling every output index.
func refMatMul(aShape []int, a []float64, bShape []int, b []float64) ([]int, []float64) {
	pa, pb := slices.Clone(aShape), slices.Clone(bShape)
	if len(pa) == 1 {
		pa = []int{1, pa[0]}
	}
	if len(pb) == 1 {
		pb = []int{pb[0], 1}
	}
	m, k, n := pa[len(pa)-2], pa[len(pa)-1], pb[len(pb)-1]
	ab, bb := pa[:len(pa)-2], pb[:len(pb)-2]
	r := max(len(ab), len(bb))
	pad := func(s []int) []int { return append(slices.Repeat([]int{1}, r-len(s)), s...) }
	ab, bb = pad(ab), pad(bb)
	batch := make([]int, r)
	for i := range r {
		batch[i] = ab[i]
		if ab[i] == 1 {
			batch[i] = bb[i]
		}
	}
	nb := 1
	for _, d := range batch {
		nb *= d
	}
	out := make([]float64, nb*m*n)
	idx := make([]int, r)
	for o := range nb {
		rem := o
		for d := r - 1; d >= 0; d-- {
			idx[d] = rem % batch[d]
			rem /= batch[d]
		}
		ai, bi := 0, 0
		for d := range r {
			ai = ai*ab[d] + min(idx[d], ab[d]-1)
			bi = bi*bb[d] + min(idx[d], bb[d]-1)
		}
		for i := range m {
			for j := range n {
				var s float64
				for l := range k {
					s += a[(ai*m+i)*k+l] * b[(bi*k+l)*n+j]
				}
				out[(o*m+i)*n+j] = s
			}
		}
	}
	shape := slices.Clone(batch)
	if len(aShape) > 1 {
		shape = append(shape, m)
	}
	if len(bShape) > 1 {
		shape = append(shape, n)
	}
	return shape, out
}

// randInts returns a tensor of the given shape with random T values.
func randInts[T int8 | uint8](rng *rand.Rand, shape ...int) Tensor[T] {
	n, _ := numel(shape)
	t := Tensor[T]{Shape: shape, Data: make([]T, n)}
	for i := range t.Data {
		t.Data[i] = T(rng.IntN(256))
	}
	return t
}

// shifted returns x - zp as float64, where zp(e) is the zero point of flat
// element e.
func shifted[T int8 | uint8](x []T, zp func(e int) int32) []float64 {
	out := make([]float64, len(x))
	for e, v := range x {
		out[e] = float64(int32(v) - zp(e))
	}
	return out
}

// paramIndex returns, for operand shape s (promoted to a matrix stack) and
// a parameter layout, the parameter index of flat element e.
func paramIndex(s []int, row bool, p vecParam) func(e int) int {
	if len(s) == 1 {
		if row {
			s = []int{1, s[0]}
		} else {
			s = []int{s[0], 1}
		}
	}
	r, c := s[len(s)-2], s[len(s)-1]
	return func(e int) int {
		if p.count == 1 {
			return 0
		}
		mat := e / (r * c)
		along := e % c
		if row {
			along = (e / c) % r
		}
		return mat*p.stride + along
	}
}

func TestMatMulIntegerONNX(t *testing.T) {
	// ONNX test_matmulinteger.
	a := tn([]int{4, 3}, uint8(11), 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0)
	b := tn([]int{3, 2}, uint8(1), 4, 2, 5, 3, 6)
	got, err := MatMulInteger(a, b, vec[uint8](12), vec[uint8](0))
	require.NoError(t, err)
	wantTensor(t, got, tn([]int{4, 2}, int32(-38), -83, -44, -98, -50, -113, -56, -128))
}

func TestMatMulIntegerAgainstReference(t *testing.T) {
	cases := []struct {
		name           string
		aShape, bShape []int
		aZP, bZP       []int // zero point shapes; nil means absent
	}{
		{name: "2-D, absent zero points", aShape: []int{3, 4}, bShape: []int{4, 5}},
		{name: "2-D, per-tensor zero points", aShape: []int{3, 4}, bShape: []int{4, 5}, aZP: []int{}, bZP: []int{1}},
		{name: "2-D, per-row a and per-column b", aShape: []int{3, 4}, bShape: []int{4, 5}, aZP: []int{3}, bZP: []int{5}},
		{name: "2-D, [M 1] and [1 N] forms", aShape: []int{3, 4}, bShape: []int{4, 5}, aZP: []int{3, 1}, bZP: []int{1, 5}},
		{name: "batched, per-row shared by batches", aShape: []int{2, 3, 4}, bShape: []int{2, 4, 5}, aZP: []int{3}, bZP: []int{5}},
		{name: "batched, per-matrix rows and columns", aShape: []int{2, 3, 4}, bShape: []int{2, 4, 5}, aZP: []int{2, 3, 1}, bZP: []int{2, 1, 5}},
		{name: "broadcast a [2 1 3 4] with b [5 4 2]", aShape: []int{2, 1, 3, 4}, bShape: []int{5, 4, 2}, aZP: []int{2, 1, 3, 1}, bZP: []int{5, 1, 2}},
		{name: "broadcast 2-D a with batched b", aShape: []int{3, 4}, bShape: []int{3, 4, 2}, aZP: []int{1}, bZP: []int{3, 1, 2}},
		{name: "1-D a promoted to [1 K]", aShape: []int{4}, bShape: []int{4, 3}, aZP: []int{1}, bZP: []int{3}},
		{name: "1-D b promoted to [K 1]", aShape: []int{2, 4}, bShape: []int{4}, aZP: []int{2}, bZP: []int{}},
		{name: "1-D by 1-D is a scalar", aShape: []int{6}, bShape: []int{6}, aZP: []int{}, bZP: []int{}},
		{name: "1-D a with batched b", aShape: []int{4}, bShape: []int{3, 4, 2}},
		{name: "K = 0 gives zeros", aShape: []int{2, 0}, bShape: []int{0, 3}},
		{name: "empty batch", aShape: []int{0, 2, 3}, bShape: []int{3, 4}},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := randInts[uint8](rng, c.aShape...)
			b := randInts[int8](rng, c.bShape...)
			var aZP Tensor[uint8]
			var bZP Tensor[int8]
			if c.aZP != nil {
				aZP = randInts[uint8](rng, c.aZP...)
			}
			if c.bZP != nil {
				bZP = randInts[int8](rng, c.bZP...)
			}
			got, err := MatMulInteger(a, b, aZP, bZP)
			require.NoError(t, err)
			p, err := planMatMul("test", a.Shape, b.Shape)
			require.NoError(t, err)
			ap, bp := vecParam{count: 1}, vecParam{count: 1}
			if c.aZP != nil {
				ap, _ = resolveMatParam("test", "a", aZP.Shape, len(aZP.Data), true, a.Shape, p.m, p.n)
			}
			if c.bZP != nil {
				bp, _ = resolveMatParam("test", "b", bZP.Shape, len(bZP.Data), false, b.Shape, p.m, p.n)
			}
			az, bz := zeroPoints(aZP), zeroPoints(bZP)
			ai, bi := paramIndex(a.Shape, true, ap), paramIndex(b.Shape, false, bp)
			shape, ref := refMatMul(a.Shape, shifted(a.Data, func(e int) int32 { return az[ai(e)] }),
				b.Shape, shifted(b.Data, func(e int) int32 { return bz[bi(e)] }))
			want := Tensor[int32]{Shape: shape, Data: make([]int32, len(ref))}
			for i, v := range ref {
				want.Data[i] = int32(v)
			}
			wantTensor(t, got, want)
		})
	}
}

func TestQLinearMatMulONNX(t *testing.T) {
	a2 := tn([]int{2, 4}, uint8(208), 236, 0, 238, 3, 214, 255, 29)
	b2 := tn([]int{4, 3}, uint8(152), 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247)
	want2 := tn([]int{2, 3}, uint8(168), 115, 255, 1, 66, 151)
	t.Run("onnx test_qlinearmatmul_2D_uint8_float32", func(t *testing.T) {
		got, err := QLinearMatMul(a2, vec[float32](0.0066), vec[uint8](113), b2, vec[float32](0.00705), vec[uint8](114), vec[float32](0.0107), vec[uint8](118))
		require.NoError(t, err)
		wantTensor(t, got, want2)
	})
	t.Run("onnx test_qlinearmatmul_3D_uint8_float32", func(t *testing.T) {
		a3 := tn([]int{2, 2, 4}, slices.Concat(a2.Data, a2.Data)...)
		b3 := tn([]int{2, 4, 3}, slices.Concat(b2.Data, b2.Data)...)
		got, err := QLinearMatMul(a3, vec[float32](0.0066), vec[uint8](113), b3, vec[float32](0.00705), vec[uint8](114), vec[float32](0.0107), vec[uint8](118))
		require.NoError(t, err)
		wantTensor(t, got, tn([]int{2, 2, 3}, slices.Concat(want2.Data, want2.Data)...))
	})
	t.Run("onnx test_qlinearmatmul_2D_int8_float32 inputs, saturated as the spec says", func(t *testing.T) {
		// ONNX builds the int8 case as uint8 - 127 cast to int8 (255-127
		// wraps to -128). Its stored expectation [[41 -12 -9] [1 -75 20]]
		// wraps the last element (-236 + 256 = 20) instead of saturating;
		// the spec's y = saturate(...) gives -128, as ONNX Runtime does.
		a := tn([]int{2, 4}, int8(81), 109, -127, 111, -124, 87, -128, -98)
		b := tn([]int{4, 3}, int8(25), -76, 117, -67, -101, -128, -127, 0, 119, 0, 127, 120)
		got, err := QLinearMatMul(a, vec[float32](0.0066), vec[int8](-14), b, vec[float32](0.00705), vec[int8](-13), vec[float32](0.0107), vec[int8](-9))
		require.NoError(t, err)
		wantTensor(t, got, tn([]int{2, 3}, int8(41), -12, -9, 1, -75, -128))
	})
}

// TestQLinearMatMulFloatReference checks QLinearMatMul against the float
// computation it approximates, quantize(dequant(a)·dequant(b)), for
// per-tensor, per-row/per-column and broadcast operands and every type
// combination: the results may differ by one step where float32 rounding
// of acc·multiplier falls on the other side of a tie.
func TestQLinearMatMulFloatReference(t *testing.T) {
	cases := []struct {
		name           string
		aShape, bShape []int
		aP, bP         []int // scale and zero point shapes
	}{
		{name: "2-D per-tensor", aShape: []int{5, 7}, bShape: []int{7, 6}, aP: []int{}, bP: []int{1}},
		{name: "2-D per-row and per-column", aShape: []int{5, 7}, bShape: []int{7, 6}, aP: []int{5}, bP: []int{6}},
		{name: "batched per-matrix rows and columns", aShape: []int{3, 5, 7}, bShape: []int{3, 7, 6}, aP: []int{3, 5, 1}, bP: []int{3, 1, 6}},
		{name: "broadcast [2 1 4 8] x [3 8 5]", aShape: []int{2, 1, 4, 8}, bShape: []int{3, 8, 5}, aP: []int{4}, bP: []int{5}},
		{name: "1-D a", aShape: []int{8}, bShape: []int{2, 8, 3}, aP: []int{}, bP: []int{3}},
		{name: "1-D b", aShape: []int{2, 4, 8}, bShape: []int{8}, aP: []int{4}, bP: []int{}},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range cases {
		t.Run(c.name+" u8×i8→u8", func(t *testing.T) { qlinearFloatCheck[uint8, int8, uint8](t, rng, c.aShape, c.bShape, c.aP, c.bP) })
		t.Run(c.name+" i8×u8→i8", func(t *testing.T) { qlinearFloatCheck[int8, uint8, int8](t, rng, c.aShape, c.bShape, c.aP, c.bP) })
		t.Run(c.name+" i8×i8→u8", func(t *testing.T) { qlinearFloatCheck[int8, int8, uint8](t, rng, c.aShape, c.bShape, c.aP, c.bP) })
	}
}

func qlinearFloatCheck[A, B, Y int8 | uint8](t *testing.T, rng *rand.Rand, aShape, bShape, aPShape, bPShape []int) {
	t.Helper()
	a, b := randInts[A](rng, aShape...), randInts[B](rng, bShape...)
	aZP, bZP := randInts[A](rng, aPShape...), randInts[B](rng, bPShape...)
	randScales := func(shape []int) Tensor[float32] {
		n, _ := numel(shape)
		s := Tensor[float32]{Shape: shape, Data: make([]float32, n)}
		for i := range s.Data {
			s.Data[i] = float32(0.002 + 0.02*rng.Float64())
		}
		return s
	}
	aS, bS := randScales(aPShape), randScales(bPShape)
	var yZP Y
	ys := float32(0.05 + 0.1*rng.Float64())
	got, err := QLinearMatMul(a, aS, aZP, b, bS, bZP, sc(ys), sc(yZP))
	require.NoError(t, err)
	p, _ := planMatMul("test", aShape, bShape)
	ap, _ := resolveMatParam("test", "a", aPShape, len(aS.Data), true, aShape, p.m, p.n)
	bp, _ := resolveMatParam("test", "b", bPShape, len(bS.Data), false, bShape, p.m, p.n)
	ai, bi := paramIndex(aShape, true, ap), paramIndex(bShape, false, bp)
	deq := func(x []float64, s []float32, idx func(int) int) []float64 {
		for e := range x {
			x[e] *= float64(s[idx(e)])
		}
		return x
	}
	az, bz := zeroPoints(aZP), zeroPoints(bZP)
	af := deq(shifted(a.Data, func(e int) int32 { return az[ai(e)] }), aS.Data, ai)
	bf := deq(shifted(b.Data, func(e int) int32 { return bz[bi(e)] }), bS.Data, bi)
	shape, ref := refMatMul(aShape, af, bShape, bf)
	require.Equal(t, shape, got.Shape, "shape")
	qmin, qmax := bounds[Y]()
	diffs := 0
	for i, v := range ref {
		want := min(max(math.RoundToEven(v/float64(ys))+float64(yZP), float64(qmin)), float64(qmax))
		d := math.Abs(float64(got.Data[i]) - want)
		if d > 1 {
			t.Fatalf("element %d: got %d, float reference %v (tolerance 1 step)", i, got.Data[i], want)
		}
		if d != 0 {
			diffs++
		}
	}
	if diffs*20 > len(ref) {
		t.Fatalf("%d of %d elements off by one step: more than 5%%", diffs, len(ref))
	}
}

func TestQLinearMatMulRequantization(t *testing.T) {
	// 1×1 products chosen to land on ties and past the bounds.
	cases := []struct {
		name string
		a    int8
		b    int8
		ys   float32
		yzp  int8
		want int8
	}{
		{name: "2.5 rounds to 2", a: 5, b: 1, ys: 2, want: 2},
		{name: "3.5 rounds to 4", a: 7, b: 1, ys: 2, want: 4},
		{name: "-2.5 rounds to -2", a: -5, b: 1, ys: 2, want: -2},
		{name: "zero point added after rounding", a: 5, b: 1, ys: 2, yzp: 1, want: 3},
		{name: "saturates high", a: 127, b: 127, ys: 1, want: 127},
		{name: "saturates low", a: -128, b: 127, ys: 1, want: -128},
		{name: "saturates after the zero point", a: 100, b: 1, ys: 1, yzp: 100, want: 127},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := QLinearMatMul(tn([]int{1, 1}, c.a), sc[float32](1), Tensor[int8]{}, tn([]int{1, 1}, c.b), sc[float32](1), Tensor[int8]{}, sc(c.ys), sc(c.yzp))
			require.NoError(t, err)
			wantTensor(t, got, tn([]int{1, 1}, c.want))
		})
	}
}
