package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestLinearForwardValues(t *testing.T) {
	l := NewLinear(3, 2, nil)
	copy(l.Weight.Value.Data(), []float32{1, 2, 3, -1, 0, 1})
	copy(l.Bias.Value.Data(), []float32{0.5, -0.5})
	noBias := l.Clone().(*Linear)
	noBias.Bias = nil
	x := tensor.MustFromData([]float32{1, 1, 1, 2, 0, -1}, 2, 3)
	cases := []struct {
		name string
		l    *Linear
		want []float32
	}{
		{"with bias", l, []float32{6.5, -0.5, -0.5, -3.5}},
		{"without bias", noBias, []float32{6, 0, -1, -3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, err := c.l.Forward([]*tensor.Tensor{x}, Eval)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(y.Shape(), []int{2, 2}) || !slices.Equal(y.Data(), c.want) {
				t.Fatalf("got %v, want %v", y, c.want)
			}
		})
	}
}

func TestLinearGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name    string
		n, in   int
		out     int
		noBias  bool
		comment string
	}{
		{"batch 3, 5->4", 3, 5, 4, false, "transposes the input"},
		{"batch 1, 20->30", 1, 20, 30, false, "transposes the weight"},
		{"no bias", 4, 6, 3, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewLinear(c.in, c.out, rng)
			if c.noBias {
				l.Bias = nil
			}
			gradCheck(t, l, []*tensor.Tensor{randTensorIn(rng, -1, 1, c.n, c.in)}, defaultGradTol)
		})
	}
}

func TestLinearBackwardAccumulates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	l := NewLinear(4, 3, rng)
	x := randTensorIn(rng, -1, 1, 5, 4)
	g := randTensorIn(rng, -1, 1, 5, 3)
	if _, err := l.Forward([]*tensor.Tensor{x}, Train); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(g); err != nil {
		t.Fatal(err)
	}
	once := l.Weight.Grad.Clone()
	onceB := l.Bias.Grad.Clone()
	if _, err := l.Backward(g); err != nil {
		t.Fatal(err)
	}
	expectDoubled(t, "weight", once, l.Weight.Grad)
	expectDoubled(t, "bias", onceB, l.Bias.Grad)
}

// expectDoubled checks that twice is 2·once within 1e-6 relative: a second
// Backward adds its products one by one to the first's sums.
func expectDoubled(t *testing.T, what string, once, twice *tensor.Tensor) {
	t.Helper()
	for i, v := range twice.Data() {
		want := 2 * float64(once.Data()[i])
		if math.Abs(float64(v)-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s grad[%d] = %g after two passes, want 2×%g", what, i, v, once.Data()[i])
		}
	}
}

// TestLinearSampleIndependence checks that a sample's output is the same
// bits whatever batch it is in, across both multiplication forms.
func TestLinearSampleIndependence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	l := NewLinear(16, 16, rng)
	big := randTensorIn(rng, -1, 1, 40, 16) // out 16 < batch 40: input transposed
	yBig, err := l.Forward([]*tensor.Tensor{big}, Eval)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 17, 39} {
		one, _ := big.Slice(i, i+1) // batch 1: weight transposed
		y, err := l.Forward([]*tensor.Tensor{one}, Eval)
		if err != nil {
			t.Fatal(err)
		}
		row, _ := yBig.Slice(i, i+1)
		if !slices.Equal(y.Data(), row.Data()) {
			t.Fatalf("sample %d alone gives %v, in the batch %v", i, y.Data(), row.Data())
		}
	}
}

func TestNewLinearInit(t *testing.T) {
	a := NewLinear(100, 50, rand.New(rand.NewPCG(7, 8)))
	b := NewLinear(100, 50, rand.New(rand.NewPCG(7, 8)))
	if !slices.Equal(a.Weight.Value.Data(), b.Weight.Value.Data()) || !slices.Equal(a.Bias.Value.Data(), b.Bias.Value.Data()) {
		t.Fatal("same seed gave different parameters")
	}
	bound := float32(1 / math.Sqrt(100))
	var maxAbs float32
	for _, v := range append(a.Weight.Value.Data(), a.Bias.Value.Data()...) {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > bound || maxAbs < 0.9*bound {
		t.Fatalf("max |w| = %g, want in [0.9, 1]·%g", maxAbs, bound)
	}
	z := NewLinear(3, 2, nil)
	for _, v := range append(z.Weight.Value.Data(), z.Bias.Value.Data()...) {
		if v != 0 {
			t.Fatal("nil rng must give zero parameters")
		}
	}
	if z.Weight.Name != "weight" || z.Bias.Name != "bias" || len(z.Params()) != 2 {
		t.Fatalf("params %v", z.Params())
	}
}

func TestLinearErrors(t *testing.T) {
	l := NewLinear(784, 10, nil)
	badW := NewLinear(4, 2, nil)
	badW.Weight.Value = tensor.New(2, 5)
	cases := []errCase{
		{"output shape", func() error { _, err := l.OutputShape([][]int{{783}}); return err },
			ErrLayerShape, "nn: Linear: input shape [N 783] does not fit weight [10 784]"},
		{"output shape rank", func() error { _, err := l.OutputShape([][]int{{28, 28}}); return err },
			ErrLayerShape, "nn: Linear: input shape [N 28 28] does not fit weight [10 784]"},
		{"two input shapes", func() error { _, err := l.OutputShape([][]int{{784}, {784}}); return err },
			ErrLayerShape, "nn: Linear: takes 1 input, got 2"},
		{"forward width", func() error { _, err := l.Forward(zerosIn(64, 783), Eval); return err },
			ErrLayerShape, "nn: Linear: input shape [64 783] does not fit weight [10 784]"},
		{"forward rank", func() error { _, err := l.Forward(zerosIn(64, 1, 28, 28), Eval); return err },
			ErrLayerShape, "nn: Linear: input shape [64 1 28 28] does not fit weight [10 784]"},
		{"forward nil", func() error { _, err := l.Forward([]*tensor.Tensor{nil}, Eval); return err },
			ErrLayerShape, "nn: Linear: input is a nil tensor"},
		{"forward no inputs", func() error { _, err := l.Forward(nil, Eval); return err },
			ErrLayerShape, "nn: Linear: takes 1 input, got 0"},
		{"weight shape", func() error { _, err := badW.Forward(zerosIn(1, 4), Eval); return err },
			ErrLayerConfig, "nn: Linear: weight has shape [2 5], want [2 4]"},
		{"backward first", func() error { _, err := NewLinear(2, 2, nil).Backward(tensor.New(1, 2)); return err },
			ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewLinear(3, 2, nil), tensor.New(4, 3), tensor.New(4, 3)),
			ErrLayerShape, "nn: Linear: output gradient shape [4 3] does not fit output shape [4 2]"},
	}
	checkErrCases(t, cases)
}

func TestLinearEmptyBatch(t *testing.T) {
	l := NewLinear(3, 2, rand.New(rand.NewPCG(1, 1)))
	y, err := l.Forward([]*tensor.Tensor{tensor.New(0, 3)}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Shape(), []int{0, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	dx, err := l.Backward(tensor.New(0, 2))
	if err != nil || !slices.Equal(dx[0].Shape(), []int{0, 3}) {
		t.Fatalf("backward: %v, %v", dx, err)
	}
}

// TestLinearDeterministic checks that forward and backward give the same
// bits whatever GOMAXPROCS is, on products large enough to be spread over
// goroutines.
func TestLinearDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	l := NewLinear(300, 64, rng)
	x := randTensorIn(rng, -1, 1, 70, 300)
	dy := randTensorIn(rng, -1, 1, 70, 64)
	run := func(procs int) [][]float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m := l.Clone().(*Linear)
		y, err := m.Forward([]*tensor.Tensor{x}, Train)
		if err != nil {
			t.Fatal(err)
		}
		dx, err := m.Backward(dy)
		if err != nil {
			t.Fatal(err)
		}
		return [][]float32{y.Data(), dx[0].Data(), m.Weight.Grad.Data(), m.Bias.Grad.Data()}
	}
	want := run(1)
	for _, procs := range []int{2, 5} {
		for i, got := range run(procs) {
			if !slices.Equal(got, want[i]) {
				t.Fatalf("GOMAXPROCS %d: result %d (output, input, weight, bias gradient) differs from GOMAXPROCS 1", procs, i)
			}
		}
	}
}
