package nn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestBuilderErrors(t *testing.T) {
	rng := testRNG(1)
	cases := []struct {
		name  string
		build func() (*Graph, error)
		is    error  // sentinel to match, if any
		want  string // substring of the message
	}{
		{"duplicate node name", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("fc1", newTDense(4, 4, rng)).Add("fc1", newTDense(4, 4, rng)).Build()
		}, ErrDuplicateNode, `nn: node "fc1" (TDense): duplicate node name: "fc1" is already used`},
		{"node named like the input", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("x", newTDense(4, 4, rng)).Build()
		}, ErrDuplicateNode, `"x" is the graph input's name`},
		{"unknown input", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("fc1", newTDense(4, 4, rng), "nope").Build()
		}, ErrUnknownInput, `nn: node "fc1" (TDense): unknown input "nope"`},
		{"shape mismatch", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("fc1", newTDense(4, 3, rng)).Add("fc2", newTDense(4, 2, rng)).Build()
		}, nil, `nn: node "fc2" (TDense): input shapes [[3]]: TDense: want one input of shape [4]`},
		{"nil layer", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("fc1", nil).Build()
		}, nil, `nn: node "fc1" (): nil layer`},
		{"layer instance reused", func() (*Graph, error) {
			l := newTDense(4, 4, rng)
			return NewBuilder("x", 4).Add("a", l).Add("b", l).Build()
		}, nil, `nn: node "b" (TDense): layer instance already used by node "a"`},
		{"empty node name", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("", newTDense(4, 4, rng)).Build()
		}, nil, "empty node name"},
		{"dot in node name", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("a.b", newTDense(4, 4, rng)).Build()
		}, nil, `node name "a.b" contains '.'`},
		{"no nodes", func() (*Graph, error) { return NewBuilder("x", 4).Build() }, nil, `graph with input "x" has no nodes`},
		{"empty input shape", func() (*Graph, error) {
			return NewBuilder("x").Add("t", &tTanh{}).Build()
		}, nil, `graph input "x" has an empty shape`},
		{"zero input dimension", func() (*Graph, error) {
			return NewBuilder("x", 4, 0).Add("t", &tTanh{}).Build()
		}, nil, "non-positive dimension"},
		{"first error wins", func() (*Graph, error) {
			return NewBuilder("x", 4).Add("a", newTDense(4, 4, rng), "nope").Add("a", nil).Build()
		}, ErrUnknownInput, `node "a" (TDense): unknown input`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.build()
			if err == nil {
				t.Fatalf("Build succeeded with %d nodes, want an error", len(g.Nodes()))
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestNodeErrorAs(t *testing.T) {
	_, err := NewBuilder("x", 4).Add("fc9", newTDense(5, 2, nil)).Build()
	var ne *NodeError
	if !errors.As(err, &ne) || ne.Node != "fc9" || ne.Kind != "TDense" {
		t.Fatalf("errors.As(%v) gave %+v, want node fc9 kind TDense", err, ne)
	}
}

func TestSequentialNames(t *testing.T) {
	rng := testRNG(2)
	g, err := Sequential([]int{3}, newTDense(3, 4, rng), &tTanh{}, newTDense(4, 4, rng), &tTanh{}, newTDense(4, 2, rng))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range g.Nodes() {
		names = append(names, n.Name)
	}
	want := []string{"tdense1", "ttanh1", "tdense2", "ttanh2", "tdense3"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if g.InputName() != "input" || !slices.Equal(g.InputShape(), []int{3}) || g.Output() != "tdense3" {
		t.Errorf("input %q %v output %q, want input [3] tdense3", g.InputName(), g.InputShape(), g.Output())
	}
	if n, _ := g.Node("tdense2"); !slices.Equal(n.Inputs, []string{"ttanh1"}) || !slices.Equal(n.Shape, []int{4}) {
		t.Errorf("tdense2 inputs %v shape %v, want [ttanh1] [4]", n.Inputs, n.Shape)
	}
	if _, err := Sequential([]int{3}, newTDense(3, 4, rng), nil); err == nil || !strings.Contains(err.Error(), "layer 1 is nil") {
		t.Errorf("nil layer: error %v, want one naming layer 1", err)
	}
}

func TestGraphStructure(t *testing.T) {
	g := diamond(t, 3)
	cases := []struct {
		node string
		want []string
	}{
		{"x", []string{"fc1"}},
		{"tanh1", []string{"fc2a", "fc2b"}},
		{"fc2a", []string{"sum", "skip"}},
		{"fc3", nil},
		{"missing", nil},
	}
	for _, c := range cases {
		t.Run(c.node, func(t *testing.T) {
			if got := g.Consumers(c.node); !slices.Equal(got, c.want) {
				t.Errorf("Consumers(%q) = %v, want %v", c.node, got, c.want)
			}
		})
	}
	if _, ok := g.Node("missing"); ok {
		t.Error(`Node("missing") found a node`)
	}
	if n, ok := g.Node("skip"); !ok || n.Layer.Kind() != "TAdd" || !slices.Equal(n.Inputs, []string{"tanh2", "fc2a"}) {
		t.Errorf(`Node("skip") = %+v, %v`, n, ok)
	}
	if got, want := g.NumParams(), (4*6+6)+2*(6*5+5)+(5*3+3); got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
	var names []string
	for _, p := range g.Params() {
		names = append(names, p.Name)
	}
	wantNames := []string{"fc1.weight", "fc1.bias", "fc2a.weight", "fc2a.bias", "fc2b.weight", "fc2b.bias", "fc3.weight", "fc3.bias"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("Params names %v, want %v", names, wantNames)
	}
	if bs := g.Buffers(); len(bs) != 1 || bs[0].Name != "counter.seen" || bs[0].Grad != nil {
		t.Errorf("Buffers = %v, want one counter.seen without Grad", bs)
	}
}

func TestForwardInputShapeError(t *testing.T) {
	g := diamond(t, 4)
	cases := []struct {
		name string
		x    *tensor.Tensor
		want string
	}{
		{"wrong feature size", tensor.New(2, 5), `nn: input "x": got shape [2 5], want [N 4]`},
		{"missing batch dimension", tensor.New(4), `got shape [4], want [N 4]`},
		{"extra dimension", tensor.New(2, 4, 1), `got shape [2 4 1], want [N 4]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := g.Forward(c.x, Eval)
			if !errors.Is(err, ErrInputShape) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrInputShape containing %q", err, c.want)
			}
		})
	}
	if _, err := g.Forward(nil, Eval); err == nil {
		t.Error("Forward(nil) succeeded")
	}
}

func TestRunHook(t *testing.T) {
	g := diamond(t, 5)
	x := randTensor(testRNG(6), 3, 4)
	var seen []string
	out, err := g.Run(x, Eval, func(n *Node, out *tensor.Tensor) error {
		if want := append([]int{3}, n.Shape...); !slices.Equal(out.Shape(), want) {
			return fmt.Errorf("shape %v, want %v", out.Shape(), want)
		}
		seen = append(seen, n.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fc1", "tanh1", "fc2a", "fc2b", "sum", "tanh2", "skip", "counter", "fc3"}
	if !slices.Equal(seen, want) {
		t.Errorf("hook saw %v, want %v", seen, want)
	}
	if !slices.Equal(out.Shape(), []int{3, 3}) {
		t.Errorf("output shape %v, want [3 3]", out.Shape())
	}
	stop := errors.New("enough")
	_, err = g.Run(x, Eval, func(n *Node, _ *tensor.Tensor) error {
		if n.Name == "sum" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), `nn: node "sum" (TAdd): enough`) {
		t.Errorf("hook error gave %v, want it wrapped naming node sum", err)
	}
}

// lossOf runs g in Eval mode and returns the summed cross-entropy in float64.
func lossOf(t *testing.T, g *Graph, x *tensor.Tensor, labels []int) float64 {
	t.Helper()
	out, err := g.Forward(x, Eval)
	if err != nil {
		t.Fatal(err)
	}
	loss, _, err := SoftmaxCrossEntropy(out, labels)
	if err != nil {
		t.Fatal(err)
	}
	return loss
}

// TestBackwardFiniteDifferences checks every parameter gradient of a graph
// with fan-out (summed gradients) against central differences.
func TestBackwardFiniteDifferences(t *testing.T) {
	const eps, tol = 1e-2, 2e-3 // float32 forward: absolute tolerance on d(loss)/dw
	g := diamond(t, 7)
	rng := testRNG(8)
	x := randTensor(rng, 5, 4)
	labels := []int{0, 2, 1, 1, 0}
	g.ZeroGrad()
	out, err := g.Forward(x, Train)
	if err != nil {
		t.Fatal(err)
	}
	_, grad, err := SoftmaxCrossEntropy(out, labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(grad); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Params() {
		t.Run(p.Name, func(t *testing.T) {
			w := p.Value.Data()
			for i := range w {
				orig := w[i]
				w[i] = orig + eps
				up := lossOf(t, g, x, labels)
				w[i] = orig - eps
				down := lossOf(t, g, x, labels)
				w[i] = orig
				num := (up - down) / (2 * eps)
				if got := float64(p.Grad.Data()[i]); math.Abs(got-num) > tol {
					t.Errorf("grad[%d] = %.6f, finite difference %.6f (tolerance %g)", i, got, num, tol)
				}
			}
		})
	}
}

// TestBackwardSameInputTwice checks a node reading one input twice gets the
// sum of both gradients: y = fc(x) + fc(x) doubles fc's gradients.
func TestBackwardSameInputTwice(t *testing.T) {
	rng := testRNG(9)
	single, err := NewBuilder("x", 3).Add("fc", newTDense(3, 2, rng)).Build()
	if err != nil {
		t.Fatal(err)
	}
	double, err := NewBuilder("x", 3).Add("fc", single.nodes[0].Layer.Clone()).Add("twice", &tAdd{}, "fc", "fc").Build()
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(rng, 4, 3)
	grads := func(g *Graph) []float32 {
		g.ZeroGrad()
		out, err := g.Forward(x, Train)
		if err != nil {
			t.Fatal(err)
		}
		ones := tensor.New(out.Shape()...)
		ones.Fill(1)
		if err := g.Backward(ones); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(g.Params()[0].Grad.Data())
	}
	gs, gd := grads(single), grads(double)
	for i := range gs {
		if math.Abs(float64(gd[i]-2*gs[i])) > 1e-5 {
			t.Errorf("grad[%d] = %g, want twice %g", i, gd[i], gs[i])
		}
	}
}

func TestBackwardErrors(t *testing.T) {
	g := diamond(t, 10)
	x := randTensor(testRNG(11), 2, 4)
	if err := g.Backward(tensor.New(2, 3)); !errors.Is(err, ErrNoForward) {
		t.Errorf("Backward before any forward: %v, want ErrNoForward", err)
	}
	if _, err := g.Forward(x, Eval); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(tensor.New(2, 3)); !errors.Is(err, ErrNoForward) {
		t.Errorf("Backward after an Eval forward: %v, want ErrNoForward", err)
	}
	if _, err := g.Forward(x, Train); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(tensor.New(3, 3)); err == nil || !strings.Contains(err.Error(), "shape [3 3], want [2 3]") {
		t.Errorf("Backward with a wrong gradient shape: %v", err)
	}
	if _, err := g.Forward(x, Train); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(tensor.New(2, 3)); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(tensor.New(2, 3)); !errors.Is(err, ErrNoForward) {
		t.Errorf("second Backward for one forward: %v, want ErrNoForward", err)
	}
}

func TestZeroGrad(t *testing.T) {
	g := diamond(t, 12)
	out, err := g.Forward(randTensor(testRNG(13), 2, 4), Train)
	if err != nil {
		t.Fatal(err)
	}
	ones := tensor.New(out.Shape()...)
	ones.Fill(1)
	if err := g.Backward(ones); err != nil {
		t.Fatal(err)
	}
	g.ZeroGrad()
	for _, p := range g.Params() {
		for i, v := range p.Grad.Data() {
			if v != 0 {
				t.Fatalf("%s.Grad[%d] = %g after ZeroGrad", p.Name, i, v)
			}
		}
	}
}

func TestClone(t *testing.T) {
	g := diamond(t, 14)
	c := g.Clone()
	x := randTensor(testRNG(15), 3, 4)
	a, err := g.Forward(x, Eval)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Forward(x, Eval)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Data(), b.Data()) {
		t.Fatalf("clone output %v, original %v", b, a)
	}
	c.Params()[0].Value.Data()[0] += 1
	c.Nodes()[0].Inputs[0] = "changed"
	if g.Params()[0].Value.Data()[0] == c.Params()[0].Value.Data()[0] || g.Nodes()[0].Inputs[0] != "x" {
		t.Error("changing the clone changed the original")
	}
	if g.Summary() == "" || c.NumParams() != g.NumParams() {
		t.Error("clone lost parameters")
	}
}

func TestSummary(t *testing.T) {
	g := diamond(t, 16)
	s := g.Summary()
	for _, want := range []string{"NAME", "KIND", "INPUTS", "OUTPUT", "PARAMS", "x ", "Input", "fc2b", "TDense", "tanh2,fc2a", "[5]", "30", "9 nodes, 118 trainable parameters"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary lacks %q:\n%s", want, s)
		}
	}
}

// TestConcurrentEval runs Eval forwards on one graph from several
// goroutines (meaningful under -race) and checks they agree.
func TestConcurrentEval(t *testing.T) {
	g := diamond(t, 17)
	x := randTensor(testRNG(18), 8, 4)
	want, err := g.Forward(x, Eval)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			got, err := g.Forward(x, Eval)
			if err == nil && !slices.Equal(got.Data(), want.Data()) {
				err = fmt.Errorf("goroutine %d: output differs", i)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}
