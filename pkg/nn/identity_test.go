package nn

import (
	"errors"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestIdentity(t *testing.T) {
	l := NewIdentity()
	if s, err := l.OutputShape([][]int{{3, 4}}); err != nil || !slices.Equal(s, []int{3, 4}) {
		t.Fatalf("OutputShape = %v, %v", s, err)
	}
	x := tensor.MustFromData([]float32{1, -2, 3}, 1, 3)
	y, err := l.Forward([]*tensor.Tensor{x}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Data(), x.Data()) || &y.Data()[0] == &x.Data()[0] {
		t.Fatalf("output %v must be an unshared copy of the input", y)
	}
	g := tensor.MustFromData([]float32{4, 5, 6}, 1, 3)
	dx, err := l.Backward(g)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dx[0].Data(), g.Data()) || &dx[0].Data()[0] == &g.Data()[0] {
		t.Fatalf("input gradient %v must be an unshared copy", dx[0])
	}
	if _, err := NewIdentity().Backward(g); !errors.Is(err, ErrNoForward) {
		t.Fatalf("backward before forward: %v", err)
	}
	if _, err := l.Backward(tensor.New(3, 1)); !errors.Is(err, ErrLayerShape) {
		t.Fatalf("wrong gradient shape: %v", err)
	}
}
