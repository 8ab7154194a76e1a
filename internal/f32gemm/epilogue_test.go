package f32gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specialValues are the inputs whose handling the epilogue and the max
// pool must get exactly right, mixed into the random data.
var specialValues = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1,
	float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), math.Float32frombits(0xffc00001), // NaNs, the second negative
	math.Float32frombits(1), math.Float32frombits(0x80000001), // denormals
	math.MaxFloat32, -math.MaxFloat32,
}

// randSpecial returns n values, mostly normal random ones, with a share
// of specialValues (frac) at random places.
func randSpecial(rng *rand.Rand, n int, frac float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		if rng.Float64() < frac {
			s[i] = specialValues[rng.IntN(len(specialValues))]
			continue
		}
		s[i] = float32(rng.NormFloat64() * 3)
	}
	return s
}

// refEpilogue is the definition of Epilogue, written as nn's layers
// compute it one after the other: Conv2D's bias, BatchNorm2D's float64
// affine step and ReLU's branch.
func refEpilogue(e Epilogue, v float32) float32 {
	if e.AddBias {
		v += e.Bias
	}
	if e.Affine {
		p := float64(v) * e.Scale
		v = float32(p + e.Shift)
	}
	if e.ReLU {
		var y float32
		if v > 0 || v != v {
			y = v
		}
		v = y
	}
	return v
}

// sameBits reports whether a and b have the same bits, or are both NaN
// (which NaN an arithmetic step returns for two NaN operands depends on
// their order in the instruction, which Go does not specify).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// withKernels runs f with the Go loops, then with the assembly kernels
// where this build and processor have them.
func withKernels(t *testing.T, f func(t *testing.T)) {
	saved := epilogueAsm
	defer func() { epilogueAsm = saved }()
	epilogueAsm = false
	t.Run("go", f)
	if saved {
		epilogueAsm = true
		t.Run("asm", f)
	}
}

func TestEpilogueMatchesReference(t *testing.T) {
	type shape struct{ rows, cols, ldd, lds int }
	shapes := []shape{{1, 1, 1, 1}, {1, 15, 15, 15}, {1, 16, 16, 16}, {1, 17, 17, 17}, {3, 28, 28, 30}, {5, 14, 20, 16}, {2, 100, 100, 100}, {4, 31, 33, 32}}
	cases := []struct {
		name string
		e    Epilogue
	}{
		{"bias", Epilogue{Bias: 0.37, AddBias: true}},
		{"zero bias turns -0 into +0", Epilogue{AddBias: true}},
		{"affine", Epilogue{Scale: 1.7, Shift: -0.2, Affine: true}},
		{"relu", Epilogue{ReLU: true}},
		{"bias relu", Epilogue{Bias: -0.1, AddBias: true, ReLU: true}},
		{"affine relu", Epilogue{Scale: -0.9, Shift: 0.3, Affine: true, ReLU: true}},
		{"bias affine relu", Epilogue{Bias: 0.05, AddBias: true, Scale: 1 / math.Sqrt(2.5+1e-5), Shift: -0.4, Affine: true, ReLU: true}},
		{"copy", Epilogue{}},
	}
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, c := range cases {
			for _, s := range shapes {
				src := randSpecial(rng, (s.rows-1)*s.lds+s.cols, 0.1)
				dst := randSpecial(rng, (s.rows-1)*s.ldd+s.cols, 0)
				want := append([]float32(nil), dst...)
				for r := range s.rows {
					for j := range s.cols {
						want[r*s.ldd+j] = refEpilogue(c.e, src[r*s.lds+j])
					}
				}
				c.e.Apply(dst, s.ldd, src, s.lds, s.rows, s.cols)
				for i := range dst {
					if !sameBits(dst[i], want[i]) {
						t.Fatalf("%s %v: dst[%d] = %v (%#x), want %v (%#x)", c.name, s, i, dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]))
					}
				}
				// In place gives the same.
				if s.ldd == s.lds {
					c.e.Apply(src, s.lds, src, s.lds, s.rows, s.cols)
					for r := range s.rows {
						for j := range s.cols {
							if i := r*s.ldd + j; !sameBits(src[i], want[i]) {
								t.Fatalf("%s %v in place: [%d] = %v, want %v", c.name, s, i, src[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}

func TestReLUBits(t *testing.T) {
	for _, v := range append(specialValues, 1e-30, -1e-30, 3.5, -3.5) {
		var want float32
		if v > 0 || v != v {
			want = v
		}
		if got := ReLU(v); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("ReLU(%v [%#x]) = %#x, want %#x", v, math.Float32bits(v), math.Float32bits(got), math.Float32bits(want))
		}
	}
}

// refMaxPool2x2 is MaxPool2D(2, 2)'s loop over one plane.
func refMaxPool2x2(src []float32, h, w int) []float32 {
	oh, ow := h/2, w/2
	out := make([]float32, oh*ow)
	for oy := range oh {
		for ox := range ow {
			best := src[2*oy*w+2*ox]
			for ky := range 2 {
				for kx := range 2 {
					if v := src[(2*oy+ky)*w+2*ox+kx]; v > best || (v != v && best == best) {
						best = v
					}
				}
			}
			out[oy*ow+ox] = best
		}
	}
	return out
}

func TestMaxPool2x2MatchesReference(t *testing.T) {
	cases := []struct {
		name string
		h, w int
		frac float64 // share of special values
		pad  int     // extra columns per source row, not read
	}{
		{"28x28 read from rows 30 wide", 28, 28, 0.05, 2},
		{"14x14 read from rows 16 wide", 14, 14, 0.05, 2},
		{"odd 7x7 from rows 9 wide", 7, 7, 0.1, 2},
		{"28x28 mnist plane", 28, 28, 0.05, 0},
		{"14x14", 14, 14, 0.05, 0},
		{"odd 7x7 drops the last row and column", 7, 7, 0.1, 0},
		{"wide 2x70 (three blocks)", 2, 70, 0.1, 0},
		{"exactly 32 columns", 4, 32, 0.1, 0},
		{"33 columns", 4, 33, 0.1, 0},
		{"2x2", 2, 2, 0.3, 0},
		{"mostly special values", 10, 12, 0.8, 0},
		{"1 row gives nothing", 1, 8, 0, 0},
	}
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, c := range cases {
			lds := c.w + c.pad
			src := randSpecial(rng, c.h*lds, c.frac)
			compact := make([]float32, c.h*c.w)
			for r := range c.h {
				copy(compact[r*c.w:(r+1)*c.w], src[r*lds:r*lds+c.w])
				for j := c.w; j < lds; j++ {
					src[r*lds+j] = float32(math.NaN()) // never read
				}
			}
			want := refMaxPool2x2(compact, c.h, c.w)
			got := make([]float32, len(want)+1)
			got[len(want)] = 42 // a sentinel past the end
			MaxPool2x2(got, src, c.h, c.w, lds)
			for i, w := range want {
				if math.Float32bits(got[i]) != math.Float32bits(w) {
					t.Fatalf("%s: out[%d] = %v (%#x), want %v (%#x)", c.name, i, got[i], math.Float32bits(got[i]), w, math.Float32bits(w))
				}
			}
			if got[len(want)] != 42 {
				t.Fatalf("%s: wrote past the output", c.name)
			}
		}
	})
}

func TestEpilogueRejectsShortSlices(t *testing.T) {
	cases := []struct {
		name string
		run  func()
	}{
		{"short dst", func() { Epilogue{ReLU: true}.Apply(make([]float32, 3), 4, make([]float32, 8), 4, 2, 4) }},
		{"short src", func() { Epilogue{ReLU: true}.Apply(make([]float32, 8), 4, make([]float32, 7), 4, 2, 4) }},
		{"leading dimension below cols", func() { Epilogue{ReLU: true}.Apply(make([]float32, 8), 2, make([]float32, 8), 4, 2, 4) }},
		{"short pool output", func() { MaxPool2x2(make([]float32, 3), make([]float32, 16), 4, 4, 4) }},
		{"short pool input", func() { MaxPool2x2(make([]float32, 4), make([]float32, 16), 4, 4, 5) }},
		{"pool stride below width", func() { MaxPool2x2(make([]float32, 4), make([]float32, 16), 4, 4, 3) }},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.run()
		}()
	}
}

func TestEpiloguesMatchApply(t *testing.T) {
	type shape struct{ rows, cols, ldd, lds int }
	shapes := []shape{{1, 1, 1, 1}, {3, 15, 15, 15}, {4, 16, 16, 16}, {2, 17, 20, 17}, {16, 196, 196, 196}, {32, 49, 49, 49}, {5, 33, 40, 35}}
	cases := []struct {
		name                  string
		addBias, affine, relu bool
	}{
		{"bias, affine, ReLU", true, true, true},
		{"affine and ReLU", false, true, true},
		{"bias and ReLU", true, false, true},
		{"bias alone", true, false, false},
		{"affine alone", false, true, false},
		{"nothing", false, false, false},
	}
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, c := range cases {
			for _, s := range shapes {
				for _, inPlace := range []bool{false, true} {
					e := Epilogues{AddBias: c.addBias, Affine: c.affine, ReLU: c.relu}
					if c.addBias {
						e.Bias = randSpecial(rng, s.rows, 0.2)
					}
					if c.affine {
						for range s.rows {
							e.Scale = append(e.Scale, rng.NormFloat64())
							e.Shift = append(e.Shift, rng.NormFloat64())
						}
					}
					ldd, lds := s.ldd, s.lds
					if inPlace {
						lds = ldd
					}
					src := randSpecial(rng, (s.rows-1)*lds+s.cols+1, 0.1)
					dst := randSpecial(rng, (s.rows-1)*ldd+s.cols+1, 0)
					if inPlace {
						dst = src
					}
					want := append([]float32(nil), dst...)
					for r := range s.rows {
						e.Row(r).Apply(want[r*ldd:], ldd, src[r*lds:], lds, 1, s.cols)
					}
					e.Apply(dst, ldd, src, lds, s.rows, s.cols)
					for i := range want {
						if !sameBits(dst[i], want[i]) {
							t.Fatalf("%s, %v, in place %v: dst[%d] = %v (%#x), want %v (%#x)", c.name, s, inPlace, i, dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	})
}

func TestEpiloguesRejectShortSlices(t *testing.T) {
	buf := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name string
		f    func()
	}{
		{"short destination", func() { Epilogues{ReLU: true}.Apply(buf(7), 4, buf(8), 4, 2, 4) }},
		{"short source", func() { Epilogues{ReLU: true}.Apply(buf(8), 4, buf(7), 4, 2, 4) }},
		{"stride below width", func() { Epilogues{ReLU: true}.Apply(buf(16), 3, buf(16), 4, 2, 4) }},
		{"too few biases", func() { Epilogues{AddBias: true, Bias: []float32{1}}.Apply(buf(8), 4, buf(8), 4, 2, 4) }},
		{"too few shifts", func() {
			Epilogues{Affine: true, Scale: []float64{1, 1}, Shift: []float64{0}}.Apply(buf(8), 4, buf(8), 4, 2, 4)
		}},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f()
		}()
	}
}
