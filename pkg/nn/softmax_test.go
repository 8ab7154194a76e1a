package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestSoftmaxValues(t *testing.T) {
	cases := []struct {
		name    string
		x       []float32
		shape   []int
		want    []float64 // softmax
		wantLog []float64 // log-softmax
	}{
		{"uniform", []float32{1, 1, 1, 1}, []int{1, 4},
			[]float64{0.25, 0.25, 0.25, 0.25}, []float64{-math.Log(4), -math.Log(4), -math.Log(4), -math.Log(4)}},
		{"two rows", []float32{0, math.Ln2, 5, 5}, []int{2, 2},
			[]float64{1.0 / 3, 2.0 / 3, 0.5, 0.5}, []float64{-math.Log(3), math.Log(2.0 / 3), -math.Ln2, -math.Ln2}},
		{"large values do not overflow", []float32{1000, 1001}, []int{1, 2},
			[]float64{1 / (1 + math.E), math.E / (1 + math.E)}, []float64{-math.Log1p(math.E), -math.Log1p(1 / math.E)}},
		{"tiny probability stays finite in log", []float32{0, -200}, []int{1, 2},
			[]float64{1, math.Exp(-200)}, []float64{0, -200}},
		{"last dimension of rank 3", []float32{0, math.Ln2, 0, 0}, []int{1, 2, 2},
			[]float64{1.0 / 3, 2.0 / 3, 0.5, 0.5}, []float64{-math.Log(3), math.Log(2.0 / 3), -math.Ln2, -math.Ln2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.MustFromData(c.x, c.shape...)
			for _, l := range []struct {
				layer Layer
				want  []float64
			}{{NewSoftmax(), c.want}, {NewLogSoftmax(), c.wantLog}} {
				y, err := l.layer.Forward([]*tensor.Tensor{x}, Eval)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range y.Data() {
					if d := math.Abs(float64(v) - l.want[i]); !(d <= 1e-6*math.Max(1, math.Abs(l.want[i]))) {
						t.Fatalf("%s[%d] = %g, want %g", l.layer.Kind(), i, v, l.want[i])
					}
				}
			}
		})
	}
}

func TestSoftmaxGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	for _, l := range []Layer{NewSoftmax(), NewLogSoftmax()} {
		t.Run(l.Kind(), func(t *testing.T) {
			gradCheck(t, l, []*tensor.Tensor{randTensorIn(rng, -2, 2, 3, 5)}, defaultGradTol)
			gradCheck(t, l.Clone(), []*tensor.Tensor{randTensorIn(rng, -2, 2, 2, 2, 3)}, defaultGradTol)
		})
	}
}

func TestSoftmaxErrors(t *testing.T) {
	for _, l := range []Layer{NewSoftmax(), NewLogSoftmax()} {
		cases := []errCase{
			{"scalar samples", func() error { _, err := l.OutputShape([][]int{{}}); return err },
				ErrLayerShape, "nn: " + l.Kind() + ": input shape [N] has no last dimension to normalize over"},
			{"batch only", func() error { _, err := l.Forward([]*tensor.Tensor{tensor.New(4)}, Eval); return err },
				ErrLayerShape, "nn: " + l.Kind() + ": input shape [4] has no last dimension to normalize over besides the batch"},
			{"backward first", func() error { _, err := l.Clone().Backward(tensor.New(1, 3)); return err }, ErrNoForward, ""},
			{"gradient shape", backwardAfterTrain(l.Clone(), tensor.New(2, 2), tensor.New(2, 3)),
				ErrLayerShape, "nn: " + l.Kind() + ": output gradient shape [2 2] does not fit output shape [2 3]"},
		}
		t.Run(l.Kind(), func(t *testing.T) { checkErrCases(t, cases) })
	}
}
