package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestBatchNorm2DTrainStatistics(t *testing.T) {
	// Two channels, batch 2, 1×2 images. Channel 0 holds 1, 2, 3, 4 (mean
	// 2.5, biased var 1.25, unbiased 5/3); channel 1 holds 10 four times.
	x := tensor.MustFromData([]float32{1, 2, 10, 10, 3, 4, 10, 10}, 2, 2, 1, 2)
	l := NewBatchNorm2D(2)
	copy(l.Gamma.Value.Data(), []float32{2, 1})
	copy(l.Beta.Value.Data(), []float32{0, 0.5})
	y, err := l.Forward([]*tensor.Tensor{x}, Train)
	if err != nil {
		t.Fatal(err)
	}
	is := 1 / math.Sqrt(1.25+1e-5)
	want := []float32{
		float32(2 * -1.5 * is), float32(2 * -0.5 * is), 0.5, 0.5,
		float32(2 * 0.5 * is), float32(2 * 1.5 * is), 0.5, 0.5,
	}
	assertClose(t, "output", y.Data(), want, 1e-6)
	assertClose(t, "running mean", l.RunningMean.Value.Data(), []float32{0.25, 1}, 1e-6)
	assertClose(t, "running var", l.RunningVar.Value.Data(), []float32{0.9 + 0.1*5.0/3, 0.9}, 1e-6)
}

func TestBatchNorm2DEvalUsesRunningStats(t *testing.T) {
	l := NewBatchNorm2D(1)
	l.RunningMean.Value.Data()[0] = 1
	l.RunningVar.Value.Data()[0] = 4
	l.Gamma.Value.Data()[0] = 3
	l.Beta.Value.Data()[0] = -1
	l.Eps = 0
	x := tensor.MustFromData([]float32{1, 3, 5, -1}, 1, 1, 2, 2)
	y, err := l.Forward([]*tensor.Tensor{x}, Eval)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "output", y.Data(), []float32{-1, 2, 5, -4}, 1e-6)
	if l.RunningMean.Value.Data()[0] != 1 || l.RunningVar.Value.Data()[0] != 4 {
		t.Fatal("Eval changed the running statistics")
	}
}

func TestBatchNorm2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := []struct {
		name       string
		n, c, h, w int
	}{
		{"batch 3, 2 channels 3x2", 3, 2, 3, 2},
		{"batch 1, 3 channels 2x2", 1, 3, 2, 2},
		{"batch 4, 1 channel 1x1", 4, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewBatchNorm2D(c.c)
			for i := range c.c {
				l.Gamma.Value.Data()[i] = float32(0.5 + rng.Float64())
				l.Beta.Value.Data()[i] = float32(rng.Float64() - 0.5)
			}
			gradCheck(t, l, []*tensor.Tensor{randTensorIn(rng, -2, 2, c.n, c.c, c.h, c.w)}, defaultGradTol)
		})
	}
}

func TestBatchNorm2DParamsAndBuffers(t *testing.T) {
	l := NewBatchNorm2D(3)
	var names []string
	for _, p := range l.Params() {
		names = append(names, p.Name)
		if p.Grad != nil {
			t.Fatalf("%s has a gradient before any Backward (allocated lazily)", p.Name)
		}
	}
	for _, p := range l.Buffers() {
		names = append(names, p.Name)
		if p.Grad != nil {
			t.Fatalf("buffer %s has a gradient", p.Name)
		}
	}
	if want := []string{"gamma", "beta", "running_mean", "running_var"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	c := l.Clone().(*BatchNorm2D)
	c.RunningVar.Value.Data()[0] = 7
	if l.RunningVar.Value.Data()[0] != 1 {
		t.Fatal("Clone shares running statistics")
	}
}

func TestBatchNorm2DErrors(t *testing.T) {
	l := NewBatchNorm2D(16)
	cases := []errCase{
		{"output shape channels", func() error { _, err := l.OutputShape([][]int{{8, 5, 5}}); return err },
			ErrLayerShape, "nn: BatchNorm2D: input shape [N 8 5 5] does not fit 16 channels [N 16 H W]"},
		{"forward rank", func() error { _, err := l.Forward(zerosIn(4, 16), Eval); return err },
			ErrLayerShape, "nn: BatchNorm2D: input shape [4 16] does not fit 16 channels [N 16 H W]"},
		{"one value per channel", func() error { _, err := l.Forward(zerosIn(1, 16, 1, 1), Train); return err },
			ErrLayerShape, "nn: BatchNorm2D: input shape [1 16 1 1]: training needs more than 1 value per channel"},
		{"bad momentum", func() error {
			m := NewBatchNorm2D(1)
			m.Momentum = 2
			_, err := m.Forward(zerosIn(2, 1, 1, 1), Train)
			return err
		}, ErrLayerConfig, "nn: BatchNorm2D: 1 channels, eps 1e-05, momentum 2: want channels > 0, finite eps >= 0, momentum in [0, 1]"},
		{"missing buffer", func() error {
			m := NewBatchNorm2D(2)
			m.RunningVar = nil
			_, err := m.Forward(zerosIn(2, 2, 1, 1), Eval)
			return err
		}, ErrLayerConfig, "nn: BatchNorm2D: running variance is nil"},
		{"backward first", func() error { _, err := l.Backward(tensor.New(2, 16, 1, 1)); return err }, ErrNoForward, ""},
		{"backward after eval only", func() error {
			m := NewBatchNorm2D(1)
			if _, err := m.Forward(zerosIn(2, 1, 2, 2), Eval); err != nil {
				return err
			}
			_, err := m.Backward(tensor.New(2, 1, 2, 2))
			return err
		}, ErrNoForward, ""},
		{"gradient shape", backwardAfterTrain(NewBatchNorm2D(1), tensor.New(2, 1, 2, 3), tensor.New(2, 1, 2, 2)),
			ErrLayerShape, "nn: BatchNorm2D: output gradient shape [2 1 2 3] does not fit output shape [2 1 2 2]"},
	}
	checkErrCases(t, cases)
}
