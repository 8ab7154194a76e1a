package onnx

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestErrors(t *testing.T) {
	x4 := tn([]int{1, 3, 3, 2}, make([]float32, 18)...)
	u := func(shape ...int) Tensor[uint8] { n, _ := numel(shape); return tn(shape, make([]uint8, n)...) }
	i8 := func(shape ...int) Tensor[int8] { n, _ := numel(shape); return tn(shape, make([]int8, n)...) }
	f := func(shape ...int) Tensor[float32] {
		n, _ := numel(shape)
		t := tn(shape, make([]float32, n)...)
		for i := range t.Data {
			t.Data[i] = 1
		}
		return t
	}
	one := sc[float32](1)
	cases := []struct {
		name      string
		op        string
		kind      error
		fragments []string
		call      func() error
	}{
		// QuantizeLinear
		{"x Data shorter than its shape", "QuantizeLinear", ErrShape, []string{"x: shape [2 3] holds 6 elements but Data has 5"},
			func() error {
				_, err := QuantizeLinear(tn([]int{2, 3}, make([]float32, 5)...), one, Tensor[uint8]{}, 0)
				return err
			}},
		{"negative dimension", "QuantizeLinear", ErrShape, []string{"[2 -3]"},
			func() error { _, err := QuantizeLinear(tn[float32]([]int{2, -3}), one, Tensor[uint8]{}, 0); return err }},
		{"overflowing shape", "QuantizeLinear", ErrShape, []string{"[1099511627776 1099511627776] has a negative or overflowing dimension"},
			func() error {
				_, err := QuantizeLinear(tn[float32]([]int{1 << 40, 1 << 40}), one, Tensor[uint8]{}, 0)
				return err
			}},
		{"absent scale", "QuantizeLinear", ErrShape, []string{"y_scale is required"},
			func() error { _, err := QuantizeLinear(x4, Tensor[float32]{}, Tensor[uint8]{}, 1); return err }},
		{"empty scale", "QuantizeLinear", ErrShape, []string{"y_scale: shape [0] holds no elements"},
			func() error { _, err := QuantizeLinear(x4, tn[float32]([]int{0}), Tensor[uint8]{}, 1); return err }},
		{"per-axis length mismatch", "QuantizeLinear", ErrShape, []string{"y_scale has 2 elements", "[1 3 3 2]", "axis 1"},
			func() error { _, err := QuantizeLinear(x4, f(2), Tensor[uint8]{}, 1); return err }},
		{"axis past the rank", "QuantizeLinear", ErrAxis, []string{"axis 4", "rank 4"},
			func() error { _, err := QuantizeLinear(x4, f(3), Tensor[uint8]{}, 4); return err }},
		{"axis before -rank", "QuantizeLinear", ErrAxis, []string{"axis -5"},
			func() error { _, err := QuantizeLinear(x4, f(3), Tensor[uint8]{}, -5); return err }},
		{"per-axis scale for a scalar x", "QuantizeLinear", ErrAxis, []string{"rank 0"},
			func() error { _, err := QuantizeLinear(sc[float32](1), f(3), Tensor[uint8]{}, 0); return err }},
		{"zero point and scale lengths differ", "QuantizeLinear", ErrShape, []string{"y_zero_point shape [2]", "y_scale shape [3]"},
			func() error { _, err := QuantizeLinear(x4, f(3), u(2), 1); return err }},
		{"blocked (2-D) scale", "QuantizeLinear", ErrShape, []string{"y_scale shape [1 3]", "blocked"},
			func() error { _, err := QuantizeLinear(x4, f(1, 3), Tensor[int8]{}, 1); return err }},
		{"zero point Data mismatch", "QuantizeLinear", ErrShape, []string{"y_zero_point: shape [3] holds 3 elements but Data has 2"},
			func() error { _, err := QuantizeLinear(x4, f(3), tn([]int{3}, uint8(1), 2), 1); return err }},
		// DequantizeLinear
		{"dequantize per-axis mismatch", "DequantizeLinear", ErrShape, []string{"x_scale has 4 elements"},
			func() error { _, err := DequantizeLinear(u(1, 3, 3, 2), f(4), Tensor[uint8]{}, -1); return err }},
		{"dequantize axis", "DequantizeLinear", ErrAxis, []string{"axis 2"},
			func() error { _, err := DequantizeLinear(i8(2, 3), f(3), Tensor[int8]{}, 2); return err }},
		{"dequantize int32 per-axis non-zero zero point", "DequantizeLinear", ErrZeroPoint, []string{"x_zero_point[1] is 5"},
			func() error {
				_, err := DequantizeLinear(tn([]int{2}, int32(1), 2), f(2), vec[int32](0, 5), 0)
				return err
			}},
		// DynamicQuantizeLinear
		{"NaN input", "DynamicQuantizeLinear", ErrNonFinite, []string{"x[1]", "NaN"},
			func() error { _, _, _, err := DynamicQuantizeLinear(vec(1, nan)); return err }},
		{"infinite input", "DynamicQuantizeLinear", ErrNonFinite, []string{"x[0]", "+Inf"},
			func() error { _, _, _, err := DynamicQuantizeLinear(vec(inf, 1)); return err }},
		{"range overflows float32", "DynamicQuantizeLinear", ErrNonFinite, []string{"overflows float32"},
			func() error { _, _, _, err := DynamicQuantizeLinear(vec[float32](-3e38, 3e38)); return err }},
		{"dynamic bad Data", "DynamicQuantizeLinear", ErrShape, []string{"x: shape [3]"},
			func() error { _, _, _, err := DynamicQuantizeLinear(tn([]int{3}, float32(1))); return err }},
		// MatMulInteger
		{"inner dimensions differ", "MatMulInteger", ErrShape, []string{"a [4 3] and b [2 2]", "inner dimensions 3 and 2 differ"},
			func() error { _, err := MatMulInteger(u(4, 3), u(2, 2), Tensor[uint8]{}, Tensor[uint8]{}); return err }},
		{"scalar operand", "MatMulInteger", ErrShape, []string{"rank >= 1"},
			func() error {
				_, err := MatMulInteger(sc[uint8](1), u(1, 2), Tensor[uint8]{}, Tensor[uint8]{})
				return err
			}},
		{"batch dimensions do not broadcast", "MatMulInteger", ErrShape, []string{"a [2 3 4] and b [3 4 5]", "batch dimensions 2 and 3"},
			func() error {
				_, err := MatMulInteger(u(2, 3, 4), i8(3, 4, 5), Tensor[uint8]{}, Tensor[int8]{})
				return err
			}},
		{"a zero point neither scalar nor per-row", "MatMulInteger", ErrShape, []string{"a_zero_point shape [2]", "per-row [4]"},
			func() error { _, err := MatMulInteger(u(4, 3), u(3, 2), u(2), Tensor[uint8]{}); return err }},
		{"b zero point per-row instead of per-column", "MatMulInteger", ErrShape, []string{"b_zero_point shape [3]", "per-column [2]"},
			func() error { _, err := MatMulInteger(u(4, 3), u(3, 2), Tensor[uint8]{}, u(3)); return err }},
		{"b zero point with wrong batch", "MatMulInteger", ErrShape, []string{"b_zero_point shape [3 1 2]", "[..., 1, 2]"},
			func() error { _, err := MatMulInteger(u(2, 4, 3), u(2, 3, 2), Tensor[uint8]{}, u(3, 1, 2)); return err }},
		{"B Data mismatch", "MatMulInteger", ErrShape, []string{"B: shape [3 2] holds 6 elements but Data has 1"},
			func() error {
				_, err := MatMulInteger(u(4, 3), tn([]int{3, 2}, uint8(1)), Tensor[uint8]{}, Tensor[uint8]{})
				return err
			}},
		{"output too large", "MatMulInteger", ErrTooLarge, []string{"output of shape [1048576 1 1024]"},
			func() error {
				_, err := MatMulInteger(u(1<<20, 1, 0), u(0, 1<<10), Tensor[uint8]{}, Tensor[uint8]{})
				return err
			}},
		// QLinearMatMul
		{"absent a_scale", "QLinearMatMul", ErrShape, []string{"a_scale is required"},
			func() error {
				_, err := QLinearMatMul(u(2, 3), Tensor[float32]{}, u(), u(3, 2), one, u(), one, u())
				return err
			}},
		{"a_scale per-row but a_zero_point per-tensor", "QLinearMatMul", ErrShape, []string{"a_scale shape [2] and a_zero_point shape []"},
			func() error { _, err := QLinearMatMul(u(2, 3), f(2), u(), u(3, 2), one, u(), one, u()); return err }},
		{"b_scale length", "QLinearMatMul", ErrShape, []string{"b_scale shape [3]", "per-column [2]"},
			func() error { _, err := QLinearMatMul(u(2, 3), one, u(), i8(3, 2), f(3), i8(), one, u()); return err }},
		{"y_scale per-axis", "QLinearMatMul", ErrShape, []string{"y_scale shape [2] must hold one element"},
			func() error { _, err := QLinearMatMul(u(2, 3), one, u(), u(3, 2), one, u(), f(2), u()); return err }},
		{"y_zero_point per-axis", "QLinearMatMul", ErrShape, []string{"y_zero_point shape [2] must hold one element"},
			func() error { _, err := QLinearMatMul(u(2, 3), one, u(), u(3, 2), one, u(), one, i8(2)); return err }},
		{"qlinear inner mismatch", "QLinearMatMul", ErrShape, []string{"a [2 3] and b [4 2]"},
			func() error { _, err := QLinearMatMul(u(2, 3), one, u(), u(4, 2), one, u(), one, u()); return err }},
		{"zero y_scale", "QLinearMatMul", ErrNonFinite, []string{"a_scale·b_scale/y_scale[0] is +Inf"},
			func() error {
				_, err := QLinearMatMul(u(2, 3), one, u(), u(3, 2), one, u(), sc[float32](0), u())
				return err
			}},
		{"NaN b_scale", "QLinearMatMul", ErrNonFinite, []string{"a_scale·b_scale/y_scale[1] is NaN"},
			func() error {
				_, err := QLinearMatMul(u(2, 3), one, u(), u(3, 2), vec(1, nan), u(2), one, u())
				return err
			}},
		// ConvInteger
		{"x of rank 2", "ConvInteger", ErrShape, []string{"x shape [2 3]", "rank >= 3"},
			func() error {
				_, err := ConvInteger(u(2, 3), u(1, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{})
				return err
			}},
		{"w rank differs", "ConvInteger", ErrShape, []string{"w shape [1 3 3]", "x shape [1 3 4 4]"},
			func() error {
				_, err := ConvInteger(u(1, 3, 4, 4), u(1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{})
				return err
			}},
		{"channels differ", "ConvInteger", ErrShape, []string{"x shape [1 3 4 4] has 3 channels", "w shape [2 2 3 3]"},
			func() error {
				_, err := ConvInteger(u(1, 3, 4, 4), i8(2, 2, 3, 3), Tensor[uint8]{}, Tensor[int8]{}, ConvAttrs{})
				return err
			}},
		{"output channels not divisible by group", "ConvInteger", ErrShape, []string{"3 output channels are not divisible by group 2"},
			func() error {
				_, err := ConvInteger(u(1, 4, 4, 4), u(3, 2, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Group: 2})
				return err
			}},
		{"negative group", "ConvInteger", ErrAttribute, []string{"group -1"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Group: -1})
				return err
			}},
		{"pads of wrong length", "ConvInteger", ErrAttribute, []string{"pads [1 1 1]: need 4 values"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Pads: []int{1, 1, 1}})
				return err
			}},
		{"negative pad", "ConvInteger", ErrAttribute, []string{"pads [0 -1 0 0]"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Pads: []int{0, -1, 0, 0}})
				return err
			}},
		{"zero stride", "ConvInteger", ErrAttribute, []string{"strides [1 0]"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Strides: []int{1, 0}})
				return err
			}},
		{"dilations of wrong length", "ConvInteger", ErrAttribute, []string{"dilations [2]: need 2 values"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Dilations: []int{2}})
				return err
			}},
		{"huge pad", "ConvInteger", ErrAttribute, []string{"outside [0, 1073741824]"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Pads: []int{1 << 40, 0, 0, 0}})
				return err
			}},
		{"kernel larger than input", "ConvInteger", ErrShape, []string{"padded to 4 is smaller than the kernel 5"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 5, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{})
				return err
			}},
		{"dilated kernel larger than input", "ConvInteger", ErrShape, []string{"kernel 3 dilated by 2"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 3, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Dilations: []int{2, 2}})
				return err
			}},
		{"dilated kernel extent overflows", "ConvInteger", ErrShape, []string{"kernel 1099511627776 dilated by 1073741824"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(0, 1, 1<<40, 1), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Dilations: []int{1 << 30, 1}})
				return err
			}},
		{"zero-sized kernel", "ConvInteger", ErrShape, []string{"kernel dimension 0 is 0"},
			func() error {
				_, err := ConvInteger(u(1, 1, 4, 4), u(1, 1, 0, 3), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{})
				return err
			}},
		{"x zero point per-channel", "ConvInteger", ErrShape, []string{"x_zero_point shape [3] must hold one element"},
			func() error {
				_, err := ConvInteger(u(1, 3, 4, 4), u(2, 3, 3, 3), u(3), Tensor[uint8]{}, ConvAttrs{})
				return err
			}},
		{"w zero point of wrong length", "ConvInteger", ErrShape, []string{"w_zero_point shape [3]", "per output channel [2]"},
			func() error {
				_, err := ConvInteger(u(1, 3, 4, 4), u(2, 3, 3, 3), Tensor[uint8]{}, u(3), ConvAttrs{})
				return err
			}},
		{"padded output too large", "ConvInteger", ErrTooLarge, []string{"output of shape [1 1 32768 32768]"},
			func() error {
				_, err := ConvInteger(u(1, 1, 1, 1), u(1, 1, 1, 1), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Pads: []int{1 << 14, 1 << 14, 1<<14 - 1, 1<<14 - 1}})
				return err
			}},
		{"output beyond MaxElements with no input channels", "ConvInteger", ErrTooLarge, []string{"output of shape [2097152 256 1 1]"},
			func() error {
				_, err := ConvInteger(u(1<<21, 0, 1, 1), u(256, 0, 1, 1), Tensor[uint8]{}, Tensor[uint8]{}, ConvAttrs{Group: 256})
				return err
			}},
		// QLinearConv
		{"x_scale per-channel", "QLinearConv", ErrShape, []string{"x_scale shape [3] must hold one element"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), f(3), u(), u(2, 3, 3, 3), one, u(), one, u(), Tensor[int32]{}, ConvAttrs{})
				return err
			}},
		{"w_scale of wrong length", "QLinearConv", ErrShape, []string{"w_scale shape [3]", "per output channel [2]"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), u(2, 3, 3, 3), f(3), Tensor[uint8]{}, one, u(), Tensor[int32]{}, ConvAttrs{})
				return err
			}},
		{"w_scale and w_zero_point differ", "QLinearConv", ErrShape, []string{"w_scale shape [2] and w_zero_point shape []"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), i8(2, 3, 3, 3), f(2), i8(), one, u(), Tensor[int32]{}, ConvAttrs{})
				return err
			}},
		{"bias of wrong length", "QLinearConv", ErrShape, []string{"bias B shape [3]", "1-D with 2 elements"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), u(2, 3, 3, 3), one, u(), one, u(), vec[int32](1, 2, 3), ConvAttrs{})
				return err
			}},
		{"bias of rank 2", "QLinearConv", ErrShape, []string{"bias B shape [1 2]"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), u(2, 3, 3, 3), one, u(), one, u(), tn([]int{1, 2}, int32(1), 2), ConvAttrs{})
				return err
			}},
		{"absent y_scale", "QLinearConv", ErrShape, []string{"y_scale is required"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), u(2, 3, 3, 3), one, u(), Tensor[float32]{}, u(), Tensor[int32]{}, ConvAttrs{})
				return err
			}},
		{"infinite w_scale", "QLinearConv", ErrNonFinite, []string{"x_scale·w_scale/y_scale[1] is +Inf"},
			func() error {
				_, err := QLinearConv(u(1, 3, 4, 4), one, u(), u(2, 3, 3, 3), vec(1, inf), u(2), one, u(), Tensor[int32]{}, ConvAttrs{})
				return err
			}},
		{"qlinearconv group mismatch", "QLinearConv", ErrShape, []string{"with group 3"},
			func() error {
				_, err := QLinearConv(u(1, 4, 4, 4), one, u(), u(3, 2, 3, 3), one, u(), one, u(), Tensor[int32]{}, ConvAttrs{Group: 3})
				return err
			}},
	}
	for _, c := range cases {
		t.Run(c.op+"/"+c.name, func(t *testing.T) {
			wantErr(t, c.call(), c.op, c.kind, c.fragments...)
		})
	}
}

// TestRandomBadInputsNeverPanic calls every operator with seeded random,
// mostly inconsistent shapes, lengths, axes and attributes: each call must
// return either a self-consistent result or an *OpError wrapping a
// sentinel, never panic.
func TestRandomBadInputsNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	sentinels := []error{ErrShape, ErrAxis, ErrAttribute, ErrZeroPoint, ErrNonFinite, ErrTooLarge}
	dim := func() int {
		switch r := rng.IntN(20); {
		case r == 0:
			return 0
		case r == 1:
			return -1
		case r == 2:
			return 1 << 21
		default:
			return 1 + rng.IntN(4)
		}
	}
	shape := func(maxRank int) []int {
		s := make([]int, rng.IntN(maxRank+1))
		for i := range s {
			s[i] = dim()
		}
		return s
	}
	// data returns a tensor for shape, usually consistent, sometimes off by
	// one, sometimes absent, never allocating for huge shapes.
	data := func(s []int) int {
		n, ok := numel(s)
		if !ok || n > 1<<12 {
			return rng.IntN(4)
		}
		switch rng.IntN(10) {
		case 0:
			return n + 1
		case 1:
			return max(n-1, 0)
		}
		return n
	}
	u8 := func(maxRank int) Tensor[uint8] {
		if rng.IntN(8) == 0 {
			return Tensor[uint8]{}
		}
		s := shape(maxRank)
		return Tensor[uint8]{Shape: s, Data: make([]uint8, data(s))}
	}
	i8 := func(maxRank int) Tensor[int8] {
		if rng.IntN(8) == 0 {
			return Tensor[int8]{}
		}
		s := shape(maxRank)
		d := make([]int8, data(s))
		for i := range d {
			d[i] = int8(rng.IntN(256))
		}
		return Tensor[int8]{Shape: s, Data: d}
	}
	f32 := func(maxRank int) Tensor[float32] {
		if rng.IntN(8) == 0 {
			return Tensor[float32]{}
		}
		s := shape(maxRank)
		d := make([]float32, data(s))
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		return Tensor[float32]{Shape: s, Data: d}
	}
	i32 := func(maxRank int) Tensor[int32] {
		if rng.IntN(4) == 0 {
			return Tensor[int32]{}
		}
		s := shape(maxRank)
		return Tensor[int32]{Shape: s, Data: make([]int32, data(s))}
	}
	ints := func(n int) []int {
		if rng.IntN(3) == 0 {
			return nil
		}
		v := make([]int, n+rng.IntN(2)-rng.IntN(2))
		for i := range v {
			v[i] = rng.IntN(4) - rng.IntN(2)
		}
		return v
	}
	attrs := func() ConvAttrs {
		return ConvAttrs{Pads: ints(4), Strides: ints(2), Dilations: ints(2), Group: rng.IntN(4) - 1}
	}
	ok := map[string]int{}
	check := func(op string, err error, resShape []int, resLen int) {
		t.Helper()
		if err == nil {
			ok[op]++
			if n, good := numel(resShape); !good || n != resLen {
				t.Fatalf("%s: result shape %v with %d elements", op, resShape, resLen)
			}
			return
		}
		var oe *OpError
		if !errors.As(err, &oe) || oe.Op != op {
			t.Fatalf("%s: error %v is not an *OpError of %s", op, err, op)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("%s: error %v wraps no sentinel", op, err)
	}
	guard := func(name string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s panicked: %v", name, r)
			}
		}()
		f()
	}
	// Near-valid operands: consistent shapes from small dimensions (0 to 3)
	// so that the calls also reach the kernels, with random attributes.
	small := func() int { return rng.IntN(4) }
	uT := func(s ...int) Tensor[uint8] {
		n, _ := numel(s)
		return Tensor[uint8]{Shape: s, Data: make([]uint8, n)}
	}
	iT := func(s ...int) Tensor[int8] {
		n, _ := numel(s)
		return Tensor[int8]{Shape: s, Data: make([]int8, n)}
	}
	fT := func(s ...int) Tensor[float32] {
		n, _ := numel(s)
		d := make([]float32, n)
		for i := range d {
			d[i] = 0.5
		}
		return Tensor[float32]{Shape: s, Data: d}
	}
	for i := range 3000 {
		name := fmt.Sprintf("near-valid call %d", i)
		guard(name, func() {
			g := 1 + rng.IntN(2)
			cg, mg := small(), small()
			x := uT(small(), cg*g, small()+1, small()+1)
			w := iT(mg*g, cg, small(), small()+1)
			y, err := ConvInteger(x, w, uT(), iT(rng.IntN(2)*mg*g), ConvAttrs{Pads: ints(4), Strides: ints(2), Dilations: ints(2), Group: g})
			check("ConvInteger", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			m := small() + 1
			x := iT(small(), 2, small()+2)
			w := uT(m, 2, small()+1)
			y, err := QLinearConv(x, fT(), iT(), w, fT(m), uT(m), fT(), uT(), Tensor[int32]{Shape: []int{m}, Data: make([]int32, m)}, ConvAttrs{Pads: ints(2), Strides: ints(1), Dilations: ints(1)})
			check("QLinearConv", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			bt, m, k, n := small(), small(), small(), small()
			a, b := iT(bt, m, k), uT(k, n)
			if rng.IntN(2) == 0 {
				b = uT(rng.IntN(2), k, n)
			}
			y, err := QLinearMatMul(a, fT(m), iT(m), b, fT(n), uT(n), fT(), iT())
			check("QLinearMatMul", err, y.Shape, len(y.Data))
		})
	}
	for i := range 3000 {
		name := fmt.Sprintf("call %d", i)
		guard(name, func() {
			y, err := QuantizeLinear(f32(4), f32(1), u8(1), rng.IntN(9)-4)
			check("QuantizeLinear", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := DequantizeLinear(i8(4), f32(1), i8(1), rng.IntN(9)-4)
			check("DequantizeLinear", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := DequantizeLinear(i32(3), f32(1), i32(1), rng.IntN(7)-3)
			check("DequantizeLinear", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, _, _, err := DynamicQuantizeLinear(f32(3))
			check("DynamicQuantizeLinear", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := MatMulInteger(u8(4), i8(4), u8(3), i8(3))
			check("MatMulInteger", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := QLinearMatMul(i8(4), f32(2), i8(2), u8(4), f32(2), u8(2), f32(1), i8(1))
			check("QLinearMatMul", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := ConvInteger(u8(5), u8(5), u8(1), u8(1), attrs())
			check("ConvInteger", err, y.Shape, len(y.Data))
		})
		guard(name, func() {
			y, err := QLinearConv(i8(4), f32(1), i8(1), i8(4), f32(1), i8(1), f32(1), u8(1), i32(1), attrs())
			check("QLinearConv", err, y.Shape, len(y.Data))
		})
	}
	t.Logf("successful calls among 6000 random ones: %v", ok)
}
