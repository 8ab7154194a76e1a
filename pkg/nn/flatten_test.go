package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestFlattenShapes(t *testing.T) {
	cases := []struct {
		name  string
		in    []int
		want  []int
		batch int
	}{
		{"image", []int{1, 28, 28}, []int{784}, 3},
		{"already flat", []int{10}, []int{10}, 2},
		{"feature map", []int{32, 7, 7}, []int{1568}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewFlatten()
			s, err := l.OutputShape([][]int{c.in})
			if err != nil || !slices.Equal(s, c.want) {
				t.Fatalf("OutputShape = %v, %v; want %v", s, err, c.want)
			}
			x := randTensorIn(rand.New(rand.NewPCG(1, 2)), -1, 1, append([]int{c.batch}, c.in...)...)
			y, err := l.Forward([]*tensor.Tensor{x}, Train)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(y.Shape(), append([]int{c.batch}, c.want...)) || !slices.Equal(y.Data(), x.Data()) {
				t.Fatalf("output %v", y)
			}
			if &y.Data()[0] == &x.Data()[0] {
				t.Fatal("output shares the input's storage")
			}
			dx, err := l.Backward(y.Clone())
			if err != nil {
				t.Fatal(err)
			}
			if !dx[0].SameShape(x) || !slices.Equal(dx[0].Data(), x.Data()) {
				t.Fatalf("input gradient %v", dx[0])
			}
		})
	}
}

func TestFlattenErrors(t *testing.T) {
	cases := []errCase{
		{"no inputs", func() error { _, err := NewFlatten().OutputShape(nil); return err },
			ErrLayerShape, "nn: Flatten: takes 1 input, got 0"},
		{"backward first", func() error { _, err := NewFlatten().Backward(tensor.New(1, 3)); return err }, ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewFlatten(), tensor.New(2, 3, 4), tensor.New(2, 3, 4)),
			ErrLayerShape, "nn: Flatten: output gradient shape [2 3 4] does not fit output shape [2 12]"},
	}
	checkErrCases(t, cases)
}
