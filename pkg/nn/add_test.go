package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestAddValuesAndGradients(t *testing.T) {
	a := tensor.MustFromData([]float32{1, 2, 3, 4}, 2, 2)
	b := tensor.MustFromData([]float32{10, 20, 30, 40}, 2, 2)
	c := tensor.MustFromData([]float32{-1, -1, -1, -1}, 2, 2)
	l := NewAdd()
	y, err := l.Forward([]*tensor.Tensor{a, b, c}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Data(), []float32{10, 21, 32, 43}) {
		t.Fatalf("output %v", y.Data())
	}
	g := tensor.MustFromData([]float32{1, 2, 3, 4}, 2, 2)
	gs, err := l.Backward(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 {
		t.Fatalf("%d input gradients, want 3", len(gs))
	}
	for i, gi := range gs {
		if !slices.Equal(gi.Data(), g.Data()) {
			t.Fatalf("gradient %d = %v", i, gi.Data())
		}
		for j := range i {
			if &gi.Data()[0] == &gs[j].Data()[0] || &gi.Data()[0] == &g.Data()[0] {
				t.Fatalf("gradient %d shares storage", i)
			}
		}
	}
	rng := rand.New(rand.NewPCG(61, 62))
	gradCheck(t, NewAdd(), []*tensor.Tensor{randTensorIn(rng, -1, 1, 2, 3), randTensorIn(rng, -1, 1, 2, 3)}, defaultGradTol)
}

func TestAddErrors(t *testing.T) {
	cases := []errCase{
		{"one input shape", func() error { _, err := NewAdd().OutputShape([][]int{{4}}); return err },
			ErrLayerShape, "nn: Add: takes 2 or more inputs, got 1"},
		{"mismatched shapes", func() error { _, err := NewAdd().OutputShape([][]int{{16, 7, 7}, {16, 7, 7}, {8, 7, 7}}); return err },
			ErrLayerShape, "nn: Add: input 2 shape [N 8 7 7] does not fit input 0 shape [N 16 7 7]"},
		{"forward mismatch", func() error {
			_, err := NewAdd().Forward([]*tensor.Tensor{tensor.New(2, 3), tensor.New(2, 4)}, Eval)
			return err
		}, ErrLayerShape, "nn: Add: input 1 shape [2 4] does not fit input 0 shape [2 3]"},
		{"forward nil", func() error { _, err := NewAdd().Forward([]*tensor.Tensor{tensor.New(2, 3), nil}, Eval); return err },
			ErrLayerShape, "nn: Add: input 1 is a nil tensor"},
		{"backward first", func() error { _, err := NewAdd().Backward(tensor.New(1, 3)); return err }, ErrNoForward, ""},
	}
	checkErrCases(t, cases)
}
