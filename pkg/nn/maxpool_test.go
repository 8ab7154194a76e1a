package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestMaxPool2DValues(t *testing.T) {
	nan := float32(math.NaN())
	checkPoolValues(t, func(k, stride int) Layer { return NewMaxPool2D(k, stride) }, []poolCase{
		{"2x2 stride 2", 2, 2, []float32{1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, -1, 2, 1, 7}, 4, 4,
			[]float32{5, 8, 2, 7}, []float32{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1}},
		{"3x3 stride 1 overlapping", 3, 1, []float32{1, 2, 3, 4, 6, 9, 7, 8, 5, 0, 0, 0}, 3, 4,
			[]float32{9, 9}, []float32{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}},
		{"ties go to the first", 2, 2, []float32{3, 3, 3, 3}, 2, 2,
			[]float32{3}, []float32{1, 0, 0, 0}},
		{"odd size drops the leftover", 2, 2, []float32{1, 2, 9, 3, 4, 9, 9, 9, 9}, 3, 3,
			[]float32{4}, []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}},
		{"NaN propagates", 2, 2, []float32{1, nan, 7, 2}, 2, 2,
			[]float32{nan}, []float32{0, 1, 0, 0}},
	})
}

func TestMaxPool2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, c := range []struct {
		name                   string
		k, stride, n, ch, h, w int
	}{
		{"2x2 stride 2", 2, 2, 2, 3, 4, 6},
		{"3x3 stride 2", 3, 2, 2, 2, 7, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			gradCheck(t, NewMaxPool2D(c.k, c.stride), []*tensor.Tensor{randDistinct(rng, c.n, c.ch, c.h, c.w)}, defaultGradTol)
		})
	}
}

func TestMaxPool2DErrors(t *testing.T) {
	l := NewMaxPool2D(2, 2)
	cases := []errCase{
		{"output shape rank", func() error { _, err := l.OutputShape([][]int{{10}}); return err },
			ErrLayerShape, "nn: MaxPool2D: input shape [N 10] does not fit [N C H W]"},
		{"too small", func() error { _, err := NewMaxPool2D(3, 1).OutputShape([][]int{{1, 2, 5}}); return err },
			ErrLayerShape, "nn: MaxPool2D: input shape [N 1 2 5] is smaller than the 3x3 window"},
		{"forward rank", func() error { _, err := l.Forward([]*tensor.Tensor{tensor.New(2, 4, 4)}, Eval); return err },
			ErrLayerShape, "nn: MaxPool2D: input shape [2 4 4] does not fit [N C H W]"},
		{"zero stride", func() error {
			_, err := (&MaxPool2D{K: 2}).Forward([]*tensor.Tensor{tensor.New(1, 1, 2, 2)}, Eval)
			return err
		}, ErrLayerConfig, "nn: MaxPool2D: kernel 2 and stride 0 must be positive"},
		{"backward first", func() error { _, err := l.Backward(tensor.New(1, 1, 1, 1)); return err }, ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewMaxPool2D(2, 2), tensor.New(1, 2, 4, 4), tensor.New(1, 2, 4, 4)),
			ErrLayerShape, "nn: MaxPool2D: output gradient shape [1 2 4 4] does not fit output shape [1 2 2 2]"},
	}
	checkErrCases(t, cases)
}
