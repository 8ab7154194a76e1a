package nn

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Builder assembles a Graph node by node. Each Add infers the new node's
// output shape from its inputs, so nodes must be added after the nodes they
// read, which makes the order of Add calls a topological order.
//
// The first error (a duplicate name, an unknown input, shapes a layer does
// not accept, a per-sample output or intermediate buffer larger than
// tensor.MaxElements) is recorded, later calls are ignored, and Build
// returns it.
type Builder struct {
	inputName  string
	inputShape []int
	nodes      []*Node
	index      map[string]*Node
	layers     map[Layer]string
	err        error
}

// NewBuilder starts a graph whose input is called inputName and holds
// samples of the given per-sample shape, for example 1, 28, 28.
func NewBuilder(inputName string, inputShape ...int) *Builder {
	b := &Builder{
		inputName:  inputName,
		inputShape: slices.Clone(inputShape),
		index:      map[string]*Node{},
		layers:     map[Layer]string{},
	}
	switch {
	case inputName == "":
		b.err = errors.New("nn: graph input has an empty name")
	case len(inputShape) == 0:
		b.err = fmt.Errorf("nn: graph input %q has an empty shape", inputName)
	}
	for _, d := range inputShape {
		if d <= 0 && b.err == nil {
			b.err = fmt.Errorf("nn: graph input %q: shape %v has a non-positive dimension", inputName, inputShape)
		}
	}
	if _, err := tensor.Numel(inputShape); err != nil && b.err == nil {
		b.err = fmt.Errorf("nn: graph input %q: %w", inputName, err)
	}
	return b
}

// Add appends a node called name computing l on the named inputs. With no
// inputs the node reads the previous node, or the graph input if it is the
// first. It returns b so calls can be chained.
func (b *Builder) Add(name string, l Layer, inputs ...string) *Builder {
	if b == nil || b.err != nil {
		return b
	}
	n := &Node{Name: name, Layer: l, Inputs: slices.Clone(inputs)}
	if len(n.Inputs) == 0 {
		if len(b.nodes) == 0 {
			n.Inputs = []string{b.inputName}
		} else {
			n.Inputs = []string{b.nodes[len(b.nodes)-1].Name}
		}
	}
	if err := b.check(n); err != nil {
		b.err = nodeErr(n, err)
		return b
	}
	b.nodes = append(b.nodes, n)
	b.index[name] = n
	if sharable(l) {
		b.layers[l] = name
	}
	return b
}

func (b *Builder) check(n *Node) error {
	switch {
	case n.Name == "":
		return errors.New("empty node name")
	case strings.ContainsAny(n.Name, ".,"):
		return fmt.Errorf("node name %q contains '.' or ','", n.Name)
	case n.Name == b.inputName:
		return fmt.Errorf("%w: %q is the graph input's name", ErrDuplicateNode, n.Name)
	case b.index[n.Name] != nil:
		return fmt.Errorf("%w: %q is already used", ErrDuplicateNode, n.Name)
	case n.Layer == nil:
		return errors.New("nil layer")
	}
	if sharable(n.Layer) {
		if other, dup := b.layers[n.Layer]; dup {
			return fmt.Errorf("layer instance already used by node %q; add a Clone instead", other)
		}
	}
	shapes := make([][]int, len(n.Inputs))
	for i, in := range n.Inputs {
		switch {
		case in == b.inputName:
			shapes[i] = slices.Clone(b.inputShape)
		case b.index[in] != nil:
			shapes[i] = slices.Clone(b.index[in].Shape)
		default:
			return fmt.Errorf("%w %q", ErrUnknownInput, in)
		}
	}
	out, err := n.Layer.OutputShape(shapes)
	if err != nil {
		return wrap(err, "input shapes %v", shapes)
	}
	if len(out) == 0 {
		return fmt.Errorf("input shapes %v: empty output shape", shapes)
	}
	for _, d := range out {
		if d <= 0 {
			return fmt.Errorf("input shapes %v give output shape %v with a non-positive dimension", shapes, out)
		}
	}
	if _, err := tensor.Numel(out); err != nil {
		return fmt.Errorf("input shapes %v give an output too large for one sample: %w", shapes, err)
	}
	n.Shape = slices.Clone(out)
	return nil
}

// sharable reports whether a layer value can be compared for identity: a
// pointer to a non-empty type (pointers to distinct zero-size values may
// compare equal).
func sharable(l Layer) bool {
	t := reflect.TypeOf(l)
	return t.Kind() == reflect.Pointer && t.Elem().Size() > 0
}

// Build returns the graph, whose output is the last node added, or the
// first error recorded by NewBuilder or Add.
func (b *Builder) Build() (*Graph, error) {
	if b == nil {
		return nil, errors.New("nn: nil Builder (use NewBuilder)")
	}
	if b.err != nil {
		return nil, b.err
	}
	if len(b.nodes) == 0 {
		return nil, fmt.Errorf("nn: graph with input %q has no nodes", b.inputName)
	}
	return newGraph(b.inputName, b.inputShape, slices.Clone(b.nodes)), nil
}

// Sequential builds a chain of layers on an input called "input". Nodes are
// named by lower-case kind and a 1-based count per kind: "conv2d1",
// "relu1", "linear2".
func Sequential(inputShape []int, layers ...Layer) (*Graph, error) {
	b := NewBuilder("input", inputShape...)
	counts := map[string]int{}
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("nn: sequential: layer %d is nil", i)
		}
		kind := strings.ToLower(l.Kind())
		counts[kind]++
		b.Add(fmt.Sprintf("%s%d", kind, counts[kind]), l)
	}
	return b.Build()
}
