package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestReLUValues(t *testing.T) {
	nan := float32(math.NaN())
	x := tensor.MustFromData([]float32{-2, -0.5, 0, 0.5, 3, nan}, 2, 3)
	l := NewReLU()
	y, err := l.Forward([]*tensor.Tensor{x}, Train)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0, 0.5, 3, nan}
	if !equalOrBothNaN(y.Data(), want) {
		t.Fatalf("output %v, want %v", y.Data(), want)
	}
	g := tensor.MustFromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	dx, err := l.Backward(g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 0, 4, 5, 0}; !slices.Equal(dx[0].Data(), want) {
		t.Fatalf("input gradient %v, want %v", dx[0].Data(), want)
	}
}

func TestReLUGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	gradCheck(t, NewReLU(), []*tensor.Tensor{randAwayFromZero(rng, 3, 2, 4)}, defaultGradTol)
}

func TestReLUErrors(t *testing.T) {
	cases := []errCase{
		{"two shapes", func() error { _, err := NewReLU().OutputShape([][]int{{3}, {3}}); return err },
			ErrLayerShape, "nn: ReLU: takes 1 input, got 2"},
		{"scalar", func() error { _, err := NewReLU().Forward([]*tensor.Tensor{tensor.New()}, Eval); return err },
			ErrLayerShape, "nn: ReLU: input is a scalar; want a batch [N ...]"},
		{"backward first", func() error { _, err := NewReLU().Backward(tensor.New(1, 3)); return err }, ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewReLU(), tensor.New(3, 2), tensor.New(2, 3)),
			ErrLayerShape, "nn: ReLU: output gradient shape [3 2] does not fit output shape [2 3]"},
	}
	checkErrCases(t, cases)
}
