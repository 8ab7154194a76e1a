package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// convGeom is the geometry of a convolution test or benchmark.
type convGeom struct {
	n, inC, outC, h, w, k, stride, pad int
}

func (g convGeom) outHW() (int, int) {
	return ConvOutputSize(g.h, g.k, g.stride, g.pad), ConvOutputSize(g.w, g.k, g.stride, g.pad)
}

// naiveConvForward is the direct nested-loop convolution: the reference of
// the tests and the baseline of the benchmarks. b may be nil.
func naiveConvForward(g convGeom, x, w, b, y []float32) {
	oh, ow := g.outHW()
	for n := range g.n {
		for o := range g.outC {
			for oy := range oh {
				for ox := range ow {
					var s float32
					if b != nil {
						s = b[o]
					}
					for c := range g.inC {
						for ky := range g.k {
							iy := oy*g.stride + ky - g.pad
							if iy < 0 || iy >= g.h {
								continue
							}
							for kx := range g.k {
								ix := ox*g.stride + kx - g.pad
								if ix < 0 || ix >= g.w {
									continue
								}
								s += x[((n*g.inC+c)*g.h+iy)*g.w+ix] * w[((o*g.inC+c)*g.k+ky)*g.k+kx]
							}
						}
					}
					y[((n*g.outC+o)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
}

// naiveConvBackward is the direct nested-loop convolution backward pass: it
// sets dx and adds into dw and db (db may be nil).
func naiveConvBackward(g convGeom, x, w, dy, dx, dw, db []float32) {
	oh, ow := g.outHW()
	clear(dx)
	for n := range g.n {
		for o := range g.outC {
			for oy := range oh {
				for ox := range ow {
					d := dy[((n*g.outC+o)*oh+oy)*ow+ox]
					if db != nil {
						db[o] += d
					}
					for c := range g.inC {
						for ky := range g.k {
							iy := oy*g.stride + ky - g.pad
							if iy < 0 || iy >= g.h {
								continue
							}
							for kx := range g.k {
								ix := ox*g.stride + kx - g.pad
								if ix < 0 || ix >= g.w {
									continue
								}
								xi := ((n*g.inC+c)*g.h+iy)*g.w + ix
								wi := ((o*g.inC+c)*g.k+ky)*g.k + kx
								dx[xi] += d * w[wi]
								dw[wi] += d * x[xi]
							}
						}
					}
				}
			}
		}
	}
}

// convCases cover padding, stride, 1×1 kernels, kernels as large as the
// input, uneven leftovers and both weight-gradient forms (K >= OutC and
// K < OutC).
var convCases = []struct {
	name string
	g    convGeom
	bias bool
}{
	{"3x3 pad 1", convGeom{2, 3, 4, 7, 6, 3, 1, 1}, true},
	{"3x3 stride 2 pad 1", convGeom{3, 2, 5, 9, 8, 3, 2, 1}, true},
	{"5x5 no pad", convGeom{2, 2, 3, 8, 9, 5, 1, 0}, false},
	{"1x1 direct", convGeom{2, 4, 3, 5, 5, 1, 1, 0}, true},
	{"1x1 stride 2", convGeom{2, 3, 2, 5, 6, 1, 2, 0}, true},
	{"kernel fills input", convGeom{2, 2, 3, 3, 3, 3, 1, 0}, true},
	{"stride 3 leftover pad 2", convGeom{1, 2, 2, 10, 7, 4, 3, 2}, true},
	{"K < OutC", convGeom{2, 1, 12, 6, 6, 3, 1, 1}, true},
	{"padding one below the kernel", convGeom{1, 1, 2, 2, 3, 3, 1, 2}, true},
	{"K > 64 and OHW > 192 (several tiles)", convGeom{2, 8, 70, 15, 14, 3, 1, 1}, true},
}

func newConvCase(rng *rand.Rand, g convGeom, bias bool) (*Conv2D, *tensor.Tensor) {
	l := NewConv2D(g.inC, g.outC, g.k, g.stride, g.pad, rng)
	if !bias {
		l.Bias = nil
	}
	return l, randTensorIn(rng, -1, 1, g.n, g.inC, g.h, g.w)
}

func TestConv2DMatchesNaive(t *testing.T) {
	const tol = 1e-5
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			l, x := newConvCase(rng, c.g, c.bias)
			y, err := l.Forward([]*tensor.Tensor{x}, Train)
			if err != nil {
				t.Fatal(err)
			}
			oh, ow := c.g.outHW()
			if want := []int{c.g.n, c.g.outC, oh, ow}; !slices.Equal(y.Shape(), want) {
				t.Fatalf("shape %v, want %v", y.Shape(), want)
			}
			var b []float32
			if l.Bias != nil {
				b = l.Bias.Value.Data()
			}
			want := make([]float32, y.Len())
			naiveConvForward(c.g, x.Data(), l.Weight.Value.Data(), b, want)
			assertClose(t, "output", y.Data(), want, tol)

			dy := randTensorIn(rng, -1, 1, y.Shape()...)
			dx, err := l.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			wantDx := make([]float32, x.Len())
			wantDw := make([]float32, l.Weight.Value.Len())
			var wantDb []float32
			if l.Bias != nil {
				wantDb = make([]float32, c.g.outC)
			}
			naiveConvBackward(c.g, x.Data(), l.Weight.Value.Data(), dy.Data(), wantDx, wantDw, wantDb)
			assertClose(t, "input gradient", dx[0].Data(), wantDx, tol)
			assertClose(t, "weight gradient", l.Weight.Grad.Data(), wantDw, tol)
			if l.Bias != nil {
				assertClose(t, "bias gradient", l.Bias.Grad.Data(), wantDb, tol)
			}
		})
	}
}

// assertClose fails unless every got[i] is within tol·max(1, |want[i]|).
func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*math.Max(1, math.Abs(float64(want[i])))) {
			t.Fatalf("%s[%d] = %g, want %g (diff %.3g > %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func TestConv2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range convCases[:3] {
		t.Run(c.name, func(t *testing.T) {
			l, x := newConvCase(rng, c.g, c.bias)
			gradCheck(t, l, []*tensor.Tensor{x}, defaultGradTol)
		})
	}
}

// TestConv2DDeterministic checks that forward and backward give the same
// bits whatever GOMAXPROCS is, and that a sample's output does not depend
// on its batch.
func TestConv2DDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	cases := []struct {
		name string
		g    convGeom
	}{
		{"K >= OutC", convGeom{9, 3, 4, 10, 10, 3, 1, 1}},
		{"K < OutC", convGeom{9, 1, 16, 12, 12, 3, 2, 1}},
		{"K over 64", convGeom{5, 8, 6, 9, 9, 3, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, x := newConvCase(rng, c.g, true)
			oh, ow := c.g.outHW()
			dy := randTensorIn(rng, -1, 1, c.g.n, c.g.outC, oh, ow)
			run := func(procs int) (y, dx, dw, db []float32) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				m := l.Clone().(*Conv2D)
				out, err := m.Forward([]*tensor.Tensor{x}, Train)
				if err != nil {
					t.Fatal(err)
				}
				g, err := m.Backward(dy.Clone())
				if err != nil {
					t.Fatal(err)
				}
				return out.Data(), g[0].Data(), m.Weight.Grad.Data(), m.Bias.Grad.Data()
			}
			y1, dx1, dw1, db1 := run(1)
			for _, procs := range []int{2, 3, 8} {
				y, dx, dw, db := run(procs)
				for _, p := range []struct {
					what      string
					got, want []float32
				}{{"output", y, y1}, {"input gradient", dx, dx1}, {"weight gradient", dw, dw1}, {"bias gradient", db, db1}} {
					if !slices.Equal(p.got, p.want) {
						t.Fatalf("GOMAXPROCS %d: %s differs from GOMAXPROCS 1", procs, p.what)
					}
				}
			}
			for _, i := range []int{0, 4, c.g.n - 1} {
				one, _ := x.Slice(i, i+1)
				y, err := l.Forward([]*tensor.Tensor{one}, Eval)
				if err != nil {
					t.Fatal(err)
				}
				per := len(y1) / c.g.n
				if !slices.Equal(y.Data(), y1[i*per:(i+1)*per]) {
					t.Fatalf("sample %d alone differs from the same sample in the batch", i)
				}
			}
		})
	}
}

func TestIm2Col(t *testing.T) {
	// One 3×3 channel, 2×2 kernel, stride 1, pad 1: a 4×4 output.
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	col := make([]float32, 4*16)
	Im2Col(x, 1, 3, 3, 2, 2, 1, 1, col)
	want := []float32{
		0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, // ky=0 kx=0
		0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, // ky=0 kx=1
		0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, // ky=1 kx=0
		1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0, // ky=1 kx=1
	}
	if !slices.Equal(col, want) {
		t.Fatalf("col = %v\nwant  %v", col, want)
	}
	// col2im is its adjoint: <col(x), c> = <x, col2im(c)>.
	rng := rand.New(rand.NewPCG(1, 1))
	c := randTensorIn(rng, -1, 1, len(col)).Data()
	back := make([]float32, len(x))
	col2im(c, 1, 3, 3, 2, 2, 1, 1, back)
	var lhs, rhs float64
	for i := range col {
		lhs += float64(col[i]) * float64(c[i])
	}
	for i := range x {
		rhs += float64(x[i]) * float64(back[i])
	}
	if math.Abs(lhs-rhs) > 1e-5 {
		t.Fatalf("col2im is not the adjoint of Im2Col: %g != %g", lhs, rhs)
	}
}

func TestIm2ColPanicsOnBadLengths(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("want a panic")
		}
	}()
	Im2Col(make([]float32, 9), 1, 3, 3, 2, 2, 1, 0, make([]float32, 5))
}

func TestConvOutputSize(t *testing.T) {
	cases := []struct {
		name               string
		in, k, stride, pad int
		want               int
	}{
		{"same 3x3", 28, 3, 1, 1, 28},
		{"valid 3x3", 28, 3, 1, 0, 26},
		{"stride 2 rounds down", 7, 3, 2, 0, 3},
		{"pool 2", 28, 2, 2, 0, 14},
		{"too small", 2, 3, 1, 0, 0},
		{"zero stride", 5, 1, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ConvOutputSize(c.in, c.k, c.stride, c.pad); got != c.want {
				t.Fatalf("got %d, want %d", got, c.want)
			}
		})
	}
}

func TestConv2DErrors(t *testing.T) {
	l := NewConv2D(1, 16, 3, 1, 1, nil)
	cases := []errCase{
		{"output shape channels", func() error { _, err := l.OutputShape([][]int{{3, 28, 28}}); return err },
			ErrLayerShape, "nn: Conv2D: input shape [N 3 28 28] does not fit weight [16 1 3 3]"},
		{"output shape rank", func() error { _, err := l.OutputShape([][]int{{784}}); return err },
			ErrLayerShape, "nn: Conv2D: input shape [N 784] does not fit weight [16 1 3 3]"},
		{"too small", func() error {
			_, err := NewConv2D(1, 2, 5, 1, 0, nil).OutputShape([][]int{{1, 4, 9}})
			return err
		}, ErrLayerShape, "nn: Conv2D: input shape [N 1 4 9] is smaller than the 5x5 kernel with padding 0"},
		{"forward channels", func() error { _, err := l.Forward(zerosIn(8, 3, 28, 28), Eval); return err },
			ErrLayerShape, "nn: Conv2D: input shape [8 3 28 28] does not fit weight [16 1 3 3]"},
		{"forward rank", func() error { _, err := l.Forward(zerosIn(8, 784), Eval); return err },
			ErrLayerShape, "nn: Conv2D: input shape [8 784] does not fit weight [16 1 3 3]"},
		{"bad stride", func() error {
			m := NewConv2D(1, 1, 1, 1, 0, nil)
			m.Stride = 0
			_, err := m.Forward(zerosIn(1, 1, 2, 2), Eval)
			return err
		}, ErrLayerConfig, "nn: Conv2D: channels 1->1, kernel 1x1, stride 0, pad 0: sizes and stride must be positive, pad non-negative"},
		{"bias shape", func() error {
			m := NewConv2D(1, 2, 1, 1, 0, nil)
			m.Bias.Value = tensor.New(3)
			_, err := m.Forward(zerosIn(1, 1, 2, 2), Eval)
			return err
		}, ErrLayerConfig, "nn: Conv2D: bias has shape [3], want [2]"},
		{"backward first", func() error { _, err := l.Backward(tensor.New(1, 16, 28, 28)); return err },
			ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewConv2D(1, 2, 3, 1, 0, nil), tensor.New(2, 2, 5, 5), tensor.New(2, 1, 5, 5)),
			ErrLayerShape, "nn: Conv2D: output gradient shape [2 2 5 5] does not fit output shape [2 2 3 3]"},
	}
	checkErrCases(t, cases)
}
