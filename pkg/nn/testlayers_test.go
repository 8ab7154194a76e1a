package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Test-only layers, independent of the package's real layers, so the graph,
// training and serialization machinery is tested on its own. Their kinds
// start with "T" to stay clear of real kinds in the shared registry.

func init() {
	Register("TDense", func(raw json.RawMessage, _ int) (Layer, error) {
		var a tDenseAttrs
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		if a.In <= 0 || a.Out <= 0 {
			return nil, fmt.Errorf("TDense: sizes %d, %d must be positive", a.In, a.Out)
		}
		return newTDense(a.In, a.Out, nil), nil
	})
	Register("TTanh", func(json.RawMessage, int) (Layer, error) { return &tTanh{}, nil })
	Register("TAdd", func(json.RawMessage, int) (Layer, error) { return &tAdd{}, nil })
	Register("TCounter", func(json.RawMessage, int) (Layer, error) { return newTCounter(), nil })
}

// tDense is y = x W^T + b on [N, In] inputs.
type tDense struct {
	in, out int
	w, b    *Param
	x       *tensor.Tensor
}

type tDenseAttrs struct{ In, Out int }

func newTDense(in, out int, rng *rand.Rand) *tDense {
	l := &tDense{in: in, out: out,
		w: &Param{Name: "weight", Value: tensor.New(out, in), Grad: tensor.New(out, in)},
		b: &Param{Name: "bias", Value: tensor.New(out), Grad: tensor.New(out)}}
	if rng != nil {
		s := float32(math.Sqrt(2 / float64(in)))
		for i := range l.w.Value.Data() {
			l.w.Value.Data()[i] = s * float32(rng.NormFloat64())
		}
	}
	return l
}

func (l *tDense) Kind() string { return "TDense" }
func (l *tDense) Attrs() any   { return tDenseAttrs{l.in, l.out} }
func (l *tDense) OutputShape(in [][]int) ([]int, error) {
	if len(in) != 1 || !slices.Equal(in[0], []int{l.in}) {
		return nil, fmt.Errorf("nn: TDense: want one input of shape [%d], got %v", l.in, in)
	}
	return []int{l.out}, nil
}
func (l *tDense) Forward(in []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	x := in[0]
	n := x.Dim(0)
	y := tensor.New(n, l.out)
	w, b, xd, yd := l.w.Value.Data(), l.b.Value.Data(), x.Data(), y.Data()
	for i := range n {
		for o := range l.out {
			s := b[o]
			for k := range l.in {
				s += xd[i*l.in+k] * w[o*l.in+k]
			}
			yd[i*l.out+o] = s
		}
	}
	if mode == Train {
		l.x = x
	}
	return y, nil
}
func (l *tDense) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	n := g.Dim(0)
	gx := tensor.New(n, l.in)
	w, gw, gb, xd, gd, gxd := l.w.Value.Data(), l.w.Grad.Data(), l.b.Grad.Data(), l.x.Data(), g.Data(), gx.Data()
	for i := range n {
		for o := range l.out {
			go_ := gd[i*l.out+o]
			gb[o] += go_
			for k := range l.in {
				gw[o*l.in+k] += go_ * xd[i*l.in+k]
				gxd[i*l.in+k] += go_ * w[o*l.in+k]
			}
		}
	}
	// Scribble on gradOut: the graph must cope with layers that do.
	g.Fill(float32(math.NaN()))
	return []*tensor.Tensor{gx}, nil
}
func (l *tDense) Params() []*Param { return []*Param{l.w, l.b} }
func (l *tDense) Clone() Layer {
	c := newTDense(l.in, l.out, nil)
	copy(c.w.Value.Data(), l.w.Value.Data())
	copy(c.b.Value.Data(), l.b.Value.Data())
	return c
}

// tTanh is an elementwise tanh of any shape; Backward works in place on
// gradOut and returns it.
type tTanh struct{ y *tensor.Tensor }

func (l *tTanh) Kind() string                          { return "TTanh" }
func (l *tTanh) Attrs() any                            { return struct{}{} }
func (l *tTanh) OutputShape(in [][]int) ([]int, error) { return slices.Clone(in[0]), nil }
func (l *tTanh) Forward(in []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	y := in[0].Clone()
	for i, v := range y.Data() {
		y.Data()[i] = float32(math.Tanh(float64(v)))
	}
	if mode == Train {
		l.y = y
	}
	return y, nil
}
func (l *tTanh) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	for i, y := range l.y.Data() {
		g.Data()[i] *= 1 - y*y
	}
	return []*tensor.Tensor{g}, nil
}
func (l *tTanh) Params() []*Param { return nil }
func (l *tTanh) Clone() Layer     { return &tTanh{} }

// tAdd sums two inputs of equal shape; Backward returns gradOut itself for
// both inputs.
type tAdd struct{ calls int }

func (l *tAdd) Kind() string { return "TAdd" }
func (l *tAdd) Attrs() any   { return struct{}{} }
func (l *tAdd) OutputShape(in [][]int) ([]int, error) {
	if len(in) != 2 || !slices.Equal(in[0], in[1]) {
		return nil, fmt.Errorf("nn: TAdd: want two equal shapes, got %v", in)
	}
	return slices.Clone(in[0]), nil
}
func (l *tAdd) Forward(in []*tensor.Tensor, _ Mode) (*tensor.Tensor, error) {
	y := in[0].Clone()
	for i, v := range in[1].Data() {
		y.Data()[i] += v
	}
	return y, nil
}
func (l *tAdd) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	return []*tensor.Tensor{g, g}, nil
}
func (l *tAdd) Params() []*Param { return nil }
func (l *tAdd) Clone() Layer     { return &tAdd{} }

// tOpaque is an identity that is not Serializable.
type tOpaque struct{ id int }

func (l *tOpaque) Kind() string                          { return "TOpaque" }
func (l *tOpaque) OutputShape(in [][]int) ([]int, error) { return slices.Clone(in[0]), nil }
func (l *tOpaque) Forward(in []*tensor.Tensor, _ Mode) (*tensor.Tensor, error) {
	return in[0].Clone(), nil
}
func (l *tOpaque) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	return []*tensor.Tensor{g}, nil
}
func (l *tOpaque) Params() []*Param { return nil }
func (l *tOpaque) Clone() Layer     { return &tOpaque{} }

// tCounter is an identity with a buffer counting the samples it saw in
// Train mode.
type tCounter struct{ seen *Param }

func newTCounter() *tCounter {
	return &tCounter{seen: &Param{Name: "seen", Value: tensor.New(1)}}
}
func (l *tCounter) Kind() string                          { return "TCounter" }
func (l *tCounter) Attrs() any                            { return struct{}{} }
func (l *tCounter) OutputShape(in [][]int) ([]int, error) { return slices.Clone(in[0]), nil }
func (l *tCounter) Forward(in []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if mode == Train {
		l.seen.Value.Data()[0] += float32(in[0].Dim(0))
	}
	return in[0].Clone(), nil
}
func (l *tCounter) Backward(g *tensor.Tensor) ([]*tensor.Tensor, error) {
	return []*tensor.Tensor{g}, nil
}
func (l *tCounter) Params() []*Param  { return nil }
func (l *tCounter) Buffers() []*Param { return []*Param{l.seen} }
func (l *tCounter) Clone() Layer {
	c := newTCounter()
	c.seen.Value.Data()[0] = l.seen.Value.Data()[0]
	return c
}

// testRNG returns a seeded generator for tests.
func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// randTensor fills a tensor of the given shape with N(0, 1) samples.
func randTensor(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64())
	}
	return t
}

// diamond builds input[4] -> fc1(4->6) -> tanh -> {fc2a, fc2b}(6->5) -> add
// -> tanh2 -> skip add with fc2a -> fc3(5->3): a graph where two nodes feed
// several consumers.
func diamond(t testing.TB, seed uint64) *Graph {
	t.Helper()
	rng := testRNG(seed)
	g, err := NewBuilder("x", 4).
		Add("fc1", newTDense(4, 6, rng)).
		Add("tanh1", &tTanh{}).
		Add("fc2a", newTDense(6, 5, rng), "tanh1").
		Add("fc2b", newTDense(6, 5, rng), "tanh1").
		Add("sum", &tAdd{}, "fc2a", "fc2b").
		Add("tanh2", &tTanh{}).
		Add("skip", &tAdd{}, "tanh2", "fc2a").
		Add("counter", newTCounter()).
		Add("fc3", newTDense(5, 3, rng)).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// equalOrBothNaN reports whether a and b hold the same values, counting a
// NaN equal to a NaN.
func equalOrBothNaN(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return x == y || (x != x && y != y) })
}
