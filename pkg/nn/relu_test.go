package nn

import (
	"errors"
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
	if !slices.EqualFunc(y.Data(), want, func(a, b float32) bool { return a == b || (a != a && b != b) }) {
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
	cases := []struct {
		name    string
		run     func() error
		want    error
		wantMsg string
	}{
		{"two shapes", func() error { _, err := NewReLU().OutputShape([][]int{{3}, {3}}); return err },
			ErrLayerShape, "nn: ReLU: takes 1 input, got 2"},
		{"scalar", func() error { _, err := NewReLU().Forward([]*tensor.Tensor{tensor.New()}, Eval); return err },
			ErrLayerShape, "nn: ReLU: input is a scalar; want a batch [N ...]"},
		{"backward first", func() error { _, err := NewReLU().Backward(tensor.New(1, 3)); return err }, ErrNoForward, ""},
		{"gradient shape", func() error {
			l := NewReLU()
			if _, err := l.Forward([]*tensor.Tensor{tensor.New(2, 3)}, Train); err != nil {
				return err
			}
			_, err := l.Backward(tensor.New(3, 2))
			return err
		}, ErrLayerShape, "nn: ReLU: output gradient shape [3 2] does not fit output shape [2 3]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.wantMsg != "" && err.Error() != c.wantMsg {
				t.Fatalf("message %q, want %q", err, c.wantMsg)
			}
		})
	}
}
