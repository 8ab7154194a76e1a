package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// gradTol bounds a gradient check: every checked element must satisfy
// |numeric - analytic| <= Abs + Rel·|analytic|, with the numeric gradient a
// central difference of step Step. At most Samples elements of each input
// and parameter are checked (all of them if it holds fewer).
type gradTol struct {
	Step, Abs, Rel float64
	Samples        int
}

// defaultGradTol suits layers computed in float32 on inputs of magnitude
// about 1: the loss is summed in float64, so the central difference is
// accurate to about 1e-5, well inside Abs.
var defaultGradTol = gradTol{Step: 1e-2, Abs: 2e-3, Rel: 1e-2, Samples: 48}

// gradCheck checks the input and parameter gradients of l against central
// finite differences (see gradMismatches) and reports every mismatch.
func gradCheck(t *testing.T, l Layer, inputs []*tensor.Tensor, tol gradTol) {
	t.Helper()
	bad, err := gradMismatches(l, inputs, tol)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range bad {
		t.Error(m)
	}
}

// gradMismatches compares the analytic input and parameter gradients of l
// with central finite differences of the loss L = Σ r·y in float64, where y
// is l's Train-mode output on inputs and r a fixed random tensor, and
// describes each element outside tol. Each loss evaluation runs on a fresh
// Clone of l taken before the analytic pass, so layers with random state
// (Dropout) see the same draws every time. It modifies and restores the
// inputs and the clone's parameters.
func gradMismatches(l Layer, inputs []*tensor.Tensor, tol gradTol) ([]string, error) {
	base := l.Clone()
	for _, p := range l.Params() {
		if p.Grad != nil {
			p.Grad.Fill(0)
		}
	}
	y, err := l.Forward(inputs, Train)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	rng := rand.New(rand.NewPCG(99, 1))
	r := randTensorIn(rng, -1, 1, y.Shape()...)
	grads, err := l.Backward(r.Clone())
	if err != nil {
		return nil, fmt.Errorf("backward: %w", err)
	}
	if len(grads) != len(inputs) {
		return nil, fmt.Errorf("backward returned %d input gradients for %d inputs", len(grads), len(inputs))
	}
	var bad []string
	loss := func() (float64, error) {
		out, err := base.Clone().Forward(inputs, Train)
		if err != nil {
			return 0, fmt.Errorf("forward: %w", err)
		}
		var s float64
		for i, v := range out.Data() {
			s += float64(v) * float64(r.Data()[i])
		}
		return s, nil
	}
	check := func(what string, vals, analytic []float32) error {
		if len(vals) != len(analytic) {
			return fmt.Errorf("%s: gradient has %d elements, value %d", what, len(analytic), len(vals))
		}
		for _, i := range sampleIndices(rng, len(vals), tol.Samples) {
			old := vals[i]
			vals[i] = float32(float64(old) + tol.Step)
			up, err := loss()
			if err != nil {
				return err
			}
			vals[i] = float32(float64(old) - tol.Step)
			down, err := loss()
			vals[i] = old
			if err != nil {
				return err
			}
			num := (up - down) / (2 * tol.Step)
			ana := float64(analytic[i])
			if d := math.Abs(num - ana); !(d <= tol.Abs+tol.Rel*math.Abs(ana)) {
				bad = append(bad, fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g (diff %.3g)", what, i, ana, num, d))
			}
		}
		return nil
	}
	for k, x := range inputs {
		if err := check(fmt.Sprintf("input %d", k), x.Data(), grads[k].Data()); err != nil {
			return nil, err
		}
	}
	for j, p := range base.Params() {
		if err := check("param "+p.Name, p.Value.Data(), l.Params()[j].Grad.Data()); err != nil {
			return nil, err
		}
	}
	return bad, nil
}

// sampleIndices returns up to k distinct indices in [0, n): all of them if
// n <= k, otherwise the first, the last and random ones.
func sampleIndices(rng *rand.Rand, n, k int) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := []int{0, n - 1}
	for _, i := range rng.Perm(n)[:k-2] {
		if i != 0 && i != n-1 {
			idx = append(idx, i)
		}
	}
	return idx
}

// randTensorIn returns a tensor of the given shape with elements uniform in
// [lo, hi).
func randTensorIn(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data() {
		x.Data()[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return x
}

// randAwayFromZero returns a tensor uniform in ±[0.1, 1), so that a
// gradient check step of 1e-2 never crosses ReLU's kink.
func randAwayFromZero(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data() {
		v := float32(0.1 + 0.9*rng.Float64())
		if rng.IntN(2) == 0 {
			v = -v
		}
		x.Data()[i] = v
	}
	return x
}

// randDistinct returns a tensor whose elements are a random permutation of
// 0.1·(i - n/2), so any two differ by at least 0.1 and a gradient check
// step of 1e-2 never changes which element of a window is the largest.
func randDistinct(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	n := x.Len()
	for i, p := range rng.Perm(n) {
		x.Data()[i] = 0.1 * float32(p-n/2)
	}
	return x
}

func TestGradCheckCatchesWrongGradient(t *testing.T) {
	// A layer whose Backward is off by a factor of 2 must fail the check.
	x := tensor.MustFromData([]float32{0.5, -0.3}, 1, 2)
	bad, err := gradMismatches(&wrongGradLayer{}, []*tensor.Tensor{x}, defaultGradTol)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 {
		t.Fatalf("got %d mismatches %q, want 2", len(bad), bad)
	}
}

// wrongGradLayer computes y = x with a Backward returning 2·gradOut.
type wrongGradLayer struct{ Identity }

func (l *wrongGradLayer) Clone() Layer { return &wrongGradLayer{} }

func (l *wrongGradLayer) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	d := g.Clone()
	for i := range d.Data() {
		d.Data()[i] *= 2
	}
	return []*tensor.Tensor{d}, nil
}
