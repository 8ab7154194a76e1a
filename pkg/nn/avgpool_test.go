package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestAvgPool2DValues(t *testing.T) {
	checkPoolValues(t, func(k, stride int) Layer { return NewAvgPool2D(k, stride) }, []poolCase{
		{"2x2 stride 2", 2, 2, []float32{1, 5, 2, 0, 3, 4, 8, 2, 0, 0, 1, 1, -1, 1, 1, 7}, 4, 4,
			[]float32{3.25, 3, 0, 2.5}, slices.Repeat([]float32{0.25}, 16)},
		{"2x2 stride 1 overlapping", 2, 1, []float32{1, 2, 3, 4, 5, 6}, 2, 3,
			[]float32{3, 4}, []float32{0.25, 0.5, 0.25, 0.25, 0.5, 0.25}},
		{"odd size drops the leftover", 2, 2, []float32{1, 2, 9, 3, 4, 9, 9, 9, 9}, 3, 3,
			[]float32{2.5}, []float32{0.25, 0.25, 0, 0.25, 0.25, 0, 0, 0, 0}},
	})
}

// poolCase is a K×K pooling with the given stride of one [1, 1, h, w]
// plane x: its output and the input gradient of an output gradient of ones.
type poolCase struct {
	name      string
	k, stride int
	x         []float32
	h, w      int
	want      []float32
	wantGrad  []float32 // input gradient for an output gradient of ones
}

// checkPoolValues runs each case on the layer newPool builds. Outputs must
// equal want exactly, with NaN matching NaN; gradients must equal wantGrad.
func checkPoolValues(t *testing.T, newPool func(k, stride int) Layer, cases []poolCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newPool(c.k, c.stride)
			x := tensor.MustFromData(c.x, 1, 1, c.h, c.w)
			y, err := l.Forward([]*tensor.Tensor{x}, Train)
			if err != nil {
				t.Fatal(err)
			}
			if !equalOrBothNaN(y.Data(), c.want) {
				t.Fatalf("output %v, want %v", y.Data(), c.want)
			}
			ones := tensor.New(y.Shape()...)
			ones.Fill(1)
			dx, err := l.Backward(ones)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dx[0].Data(), c.wantGrad) {
				t.Fatalf("input gradient %v, want %v", dx[0].Data(), c.wantGrad)
			}
		})
	}
}

func TestPoolGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	cases := []struct {
		name  string
		l     Layer
		shape []int
	}{
		{"AvgPool2D 2x2 stride 2", NewAvgPool2D(2, 2), []int{2, 3, 4, 5}},
		{"AvgPool2D 3x3 stride 1", NewAvgPool2D(3, 1), []int{1, 2, 5, 4}},
		{"GlobalAvgPool", NewGlobalAvgPool(), []int{3, 4, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gradCheck(t, c.l, []*tensor.Tensor{randTensorIn(rng, -1, 1, c.shape...)}, defaultGradTol)
		})
	}
}

func TestGlobalAvgPoolValues(t *testing.T) {
	l := NewGlobalAvgPool()
	if s, err := l.OutputShape([][]int{{16, 7, 7}}); err != nil || !slices.Equal(s, []int{16}) {
		t.Fatalf("OutputShape = %v, %v", s, err)
	}
	x := tensor.MustFromData([]float32{1, 2, 3, 6, -1, -1, -1, -1}, 1, 2, 2, 2)
	y, err := l.Forward([]*tensor.Tensor{x}, Train)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Shape(), []int{1, 2}) || !slices.Equal(y.Data(), []float32{3, -1}) {
		t.Fatalf("output %v", y)
	}
	dx, err := l.Backward(tensor.MustFromData([]float32{4, 8}, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 1, 1, 1, 2, 2, 2, 2}; !slices.Equal(dx[0].Data(), want) {
		t.Fatalf("input gradient %v, want %v", dx[0].Data(), want)
	}
}

func TestAvgPoolErrors(t *testing.T) {
	cases := []errCase{
		{"avg too small", func() error { _, err := NewAvgPool2D(4, 4).OutputShape([][]int{{1, 3, 8}}); return err },
			ErrLayerShape, "nn: AvgPool2D: input shape [N 1 3 8] is smaller than the 4x4 window"},
		{"avg forward rank", func() error {
			_, err := NewAvgPool2D(2, 2).Forward([]*tensor.Tensor{tensor.New(2, 8)}, Eval)
			return err
		}, ErrLayerShape, "nn: AvgPool2D: input shape [2 8] does not fit [N C H W]"},
		{"avg zero kernel", func() error { _, err := (&AvgPool2D{Stride: 1}).OutputShape([][]int{{1, 3, 3}}); return err },
			ErrLayerConfig, "nn: AvgPool2D: kernel 0 and stride 1 must be positive"},
		{"avg backward first", func() error { _, err := NewAvgPool2D(2, 2).Backward(tensor.New(1, 1, 1, 1)); return err },
			ErrNoForward, ""},
		{"global rank", func() error { _, err := NewGlobalAvgPool().OutputShape([][]int{{16}}); return err },
			ErrLayerShape, "nn: GlobalAvgPool: input shape [N 16] does not fit [N C H W] with H, W > 0"},
		{"global forward rank", func() error {
			_, err := NewGlobalAvgPool().Forward([]*tensor.Tensor{tensor.New(2, 16)}, Eval)
			return err
		}, ErrLayerShape, "nn: GlobalAvgPool: input shape [2 16] does not fit [N C H W] with H, W > 0"},
		{"global backward first", func() error { _, err := NewGlobalAvgPool().Backward(tensor.New(1, 1)); return err },
			ErrNoForward, ""},
		{"global gradient shape", backwardAfterTrain(NewGlobalAvgPool(), tensor.New(2, 3, 1, 1), tensor.New(2, 3, 2, 2)),
			ErrLayerShape, "nn: GlobalAvgPool: output gradient shape [2 3 1 1] does not fit output shape [2 3]"},
	}
	checkErrCases(t, cases)
}
