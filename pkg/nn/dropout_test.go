package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestDropoutTrain(t *testing.T) {
	cases := []struct {
		name string
		p    float32
		tol  float64 // on the kept fraction, 10000 elements
	}{
		{"p 0", 0, 0},
		{"p 0.25", 0.25, 0.02},
		{"p 0.5", 0.5, 0.02},
		{"p 1", 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.New(100, 100)
			x.Fill(2)
			l := NewDropout(c.p, 7)
			y, err := l.Forward([]*tensor.Tensor{x}, Train)
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			for _, v := range y.Data() {
				switch {
				case v == 0:
				case math.Abs(float64(v)-2/(1-float64(c.p))) < 1e-5:
					kept++
				default:
					t.Fatalf("element %g is neither 0 nor 2/(1-p)", v)
				}
			}
			frac := float64(kept) / float64(x.Len())
			if math.Abs(frac-(1-float64(c.p))) > c.tol {
				t.Fatalf("kept %.4f of the elements, want %.2f ± %g", frac, 1-c.p, c.tol)
			}
			g := tensor.New(100, 100)
			g.Fill(1)
			dx, err := l.Backward(g)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range dx[0].Data() {
				if v != y.Data()[i]/2 {
					t.Fatalf("input gradient[%d] = %g, want mask %g", i, v, y.Data()[i]/2)
				}
			}
		})
	}
}

func TestDropoutSeedsAndClone(t *testing.T) {
	x := tensor.New(4, 50)
	x.Fill(1)
	run := func(l Layer) []float32 {
		y, err := l.Forward([]*tensor.Tensor{x}, Train)
		if err != nil {
			t.Fatal(err)
		}
		return y.Data()
	}
	a, b := NewDropout(0.5, 3), NewDropout(0.5, 3)
	if !slices.Equal(run(a), run(b)) {
		t.Fatal("same seed gave different masks")
	}
	c := a.Clone()
	next := run(a)
	if !slices.Equal(run(c), next) {
		t.Fatal("a clone must draw the masks the original draws next")
	}
	if slices.Equal(run(a), next) {
		t.Fatal("consecutive passes drew the same mask")
	}
	if slices.Equal(run(NewDropout(0.5, 4)), run(NewDropout(0.5, 3))) {
		t.Fatal("different seeds gave the same mask")
	}
	lit := &Dropout{P: 0.5}
	if got := run(lit); len(got) != x.Len() {
		t.Fatal("a Dropout literal must work")
	}
}

func TestDropoutEvalIsIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	x := randTensorIn(rng, -1, 1, 3, 7)
	l := NewDropout(0.9, 1)
	y, err := l.Forward([]*tensor.Tensor{x}, Eval)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Data(), x.Data()) {
		t.Fatal("Eval must pass the input through")
	}
	if _, err := l.Backward(x); !errors.Is(err, ErrNoForward) {
		t.Fatalf("Eval must not record a pass: %v", err)
	}
}

func TestDropoutGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	gradCheck(t, NewDropout(0.3, 5), []*tensor.Tensor{randTensorIn(rng, -1, 1, 4, 6)}, defaultGradTol)
}

func TestDropoutErrors(t *testing.T) {
	var cases []errCase
	for _, p := range []float32{-0.1, 1.5, float32(math.NaN())} {
		cases = append(cases, errCase{fmt.Sprintf("p %g", p), func() error {
			_, err := (&Dropout{P: p}).Forward(zerosIn(1, 2), Eval)
			return err
		}, ErrLayerConfig, ""})
	}
	cases = append(cases, errCase{"gradient shape", backwardAfterTrain(NewDropout(0.5, 1), tensor.New(2, 4), tensor.New(2, 3)),
		ErrLayerShape, "nn: Dropout: output gradient shape [2 4] does not fit output shape [2 3]"})
	checkErrCases(t, cases)
}
