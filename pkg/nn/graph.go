package nn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Sentinel errors of graph construction and execution, matched with errors.Is.
var (
	// ErrDuplicateNode reports a node name used twice, or equal to the
	// graph input's name.
	ErrDuplicateNode = errors.New("duplicate node name")
	// ErrUnknownInput reports a node reading a name that is neither the graph
	// input nor an earlier node.
	ErrUnknownInput = errors.New("unknown input")
	// ErrInputShape reports a batch whose shape is not [N, InputShape()...].
	ErrInputShape = tensor.NewShapeSentinel("input shape mismatch")
	// ErrNoForward reports Backward called without a preceding, completed
	// Train-mode forward pass.
	ErrNoForward = errors.New("backward without a train-mode forward pass")
)

// NodeError reports a failure tied to one node of a graph. Its message reads
// `nn: node "fc1" (Linear): ...`.
type NodeError struct {
	Node string // the node's name
	Kind string // the node's layer kind, or "" if the layer is nil
	Err  error  // what went wrong
}

// Error implements the error interface.
func (e *NodeError) Error() string {
	return fmt.Sprintf("nn: node %q (%s): %s", e.Node, e.Kind, strings.TrimPrefix(e.Err.Error(), "nn: "))
}

// Unwrap returns the underlying error.
func (e *NodeError) Unwrap() error { return e.Err }

func nodeErr(n *Node, err error) error {
	kind := ""
	if n.Layer != nil {
		kind = n.Layer.Kind()
	}
	return &NodeError{Node: n.Name, Kind: kind, Err: err}
}

// Node is one named layer application in a Graph.
type Node struct {
	// Name identifies the node; parameter names are prefixed with it.
	Name string
	// Layer is the operation. It may be replaced by a layer of identical
	// output shape (quantization does this on a Clone); the graph checks the
	// shape of every output it computes.
	Layer Layer
	// Inputs names the nodes (or the graph input) read, in the order the
	// layer expects them.
	Inputs []string
	// Shape is the per-sample output shape inferred at build time.
	Shape []int
}

// Graph is a directed acyclic graph of layers with one input and one output
// (the last node). Build one with NewBuilder or Sequential.
//
// Eval-mode Forward and Run keep no state on the graph, so they may run
// concurrently. Train-mode passes, Backward, ZeroGrad and optimizer steps
// must not run concurrently with anything else on the same graph.
type Graph struct {
	inputName  string
	inputShape []int
	nodes      []*Node
	index      map[string]*Node
	consumers  map[string][]string
	release    [][]string // release[i]: values no longer needed after node i runs

	// Train-mode record, set by a completed Train-mode Run and consumed by
	// Backward.
	trainReady bool
	trainBatch int
}

func newGraph(inputName string, inputShape []int, nodes []*Node) *Graph {
	g := &Graph{
		inputName:  inputName,
		inputShape: slices.Clone(inputShape),
		nodes:      nodes,
		index:      make(map[string]*Node, len(nodes)),
		consumers:  make(map[string][]string),
		release:    make([][]string, len(nodes)),
	}
	lastUse := map[string]int{}
	for i, n := range nodes {
		g.index[n.Name] = n
		for _, in := range n.Inputs {
			if !slices.Contains(g.consumers[in], n.Name) {
				g.consumers[in] = append(g.consumers[in], n.Name)
			}
			lastUse[in] = i
		}
	}
	out := g.Output()
	for name, i := range lastUse {
		if name != out {
			g.release[i] = append(g.release[i], name)
		}
	}
	for i := range g.release {
		slices.Sort(g.release[i])
	}
	return g
}

// usable returns ErrNilModel for a nil graph or one with no nodes (the
// zero Graph, not built by a Builder). The accessors below return zero
// values for such a graph; the methods that return errors return this one.
func (g *Graph) usable() error {
	if g == nil || len(g.nodes) == 0 {
		return fmt.Errorf("nn: %w", ErrNilModel)
	}
	return nil
}

// InputName returns the name nodes use to read the graph input ("" for a
// nil graph).
func (g *Graph) InputName() string {
	if g == nil {
		return ""
	}
	return g.inputName
}

// InputShape returns a copy of the per-sample input shape (nil for a nil
// graph).
func (g *Graph) InputShape() []int {
	if g == nil {
		return nil
	}
	return slices.Clone(g.inputShape)
}

// Output returns the name of the output node (the last node added), or ""
// for a nil or empty graph.
func (g *Graph) Output() string {
	if g.usable() != nil {
		return ""
	}
	return g.nodes[len(g.nodes)-1].Name
}

// OutputShape returns a copy of the per-sample output shape (nil for a nil
// or empty graph).
func (g *Graph) OutputShape() []int {
	if g.usable() != nil {
		return nil
	}
	return slices.Clone(g.nodes[len(g.nodes)-1].Shape)
}

// Nodes returns the nodes in topological order. The slice is a copy; the
// nodes are the graph's own and must not be renamed or rewired.
func (g *Graph) Nodes() []*Node {
	if g == nil {
		return nil
	}
	return slices.Clone(g.nodes)
}

// Node returns the node with the given name.
func (g *Graph) Node(name string) (*Node, bool) {
	if g == nil {
		return nil, false
	}
	n, ok := g.index[name]
	return n, ok
}

// Consumers returns the names of the nodes that read name's output, in
// topological order. A node reading the same input twice is listed once.
func (g *Graph) Consumers(name string) []string {
	if g == nil {
		return nil
	}
	return slices.Clone(g.consumers[name])
}

// Forward runs the graph on a batch x of shape [N, InputShape()...] and
// returns the output of shape [N, OutputShape()...].
func (g *Graph) Forward(x *tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	return g.Run(x, mode, nil)
}

// Run is Forward with a hook that sees every node's output in topological
// order. The hook must not modify the tensor. A hook error stops the run
// and is returned wrapped in a *NodeError naming the node.
func (g *Graph) Run(x *tensor.Tensor, mode Mode, hook func(n *Node, out *tensor.Tensor) error) (*tensor.Tensor, error) {
	if err := g.usable(); err != nil {
		return nil, err
	}
	if x == nil {
		return nil, fmt.Errorf("nn: input %q: nil tensor", g.inputName)
	}
	shape := x.Shape()
	if len(shape) != len(g.inputShape)+1 || !slices.Equal(shape[1:], g.inputShape) {
		return nil, fmt.Errorf("nn: input %q: got shape %v, want [N %s]: %w",
			g.inputName, shape, strings.Trim(fmt.Sprint(g.inputShape), "[]"), ErrInputShape)
	}
	batch := shape[0]
	if mode == Eval && hook == nil {
		return g.runEval(x, batch)
	}
	if mode == Train {
		g.trainReady = false
	}
	values := map[string]*tensor.Tensor{g.inputName: x}
	want := make([]int, 0, 8)
	for i, n := range g.nodes {
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for j, name := range n.Inputs {
			ins[j] = values[name]
		}
		out, err := n.Layer.Forward(ins, mode)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		if out == nil {
			return nil, nodeErr(n, errors.New("forward returned a nil tensor"))
		}
		want = append(append(want[:0], batch), n.Shape...)
		if got := out.Shape(); !slices.Equal(got, want) {
			return nil, nodeErr(n, fmt.Errorf("forward returned shape %v, want %v", got, want))
		}
		if hook != nil {
			if err := hook(n, out); err != nil {
				return nil, nodeErr(n, err)
			}
		}
		values[n.Name] = out
		for _, name := range g.release[i] {
			delete(values, name)
		}
	}
	if mode == Train {
		g.trainReady, g.trainBatch = true, batch
	}
	return values[g.Output()], nil
}

// runEval is an Eval-mode Run without a hook, where nobody sees the
// outputs of the inner nodes: it fuses what it can. A Conv2D followed by
// its only consumers among BatchNorm2D, ReLU and MaxPool2D(2, 2) runs as
// one per-sample pipeline (Conv2D.forward with a convTail), a Linear read
// only by a ReLU rectifies its own output in place, and a Flatten feeding
// only a Linear passes a view of its input instead of a copy.
// Every output element goes through the same operations in the same order
// as in the layer-by-layer pass, so the result has the same bits.
func (g *Graph) runEval(x *tensor.Tensor, batch int) (*tensor.Tensor, error) {
	values := map[string]*tensor.Tensor{g.inputName: x}
	want := make([]int, 0, 8)
	// recycle holds inner outputs whose storage goes back to evalBufs once
	// the pass is over: only layers that neither keep nor pass on their
	// input read them (plainReaders), so nothing refers to them then.
	var recycle []*tensor.Tensor
	defer func() {
		for _, t := range recycle {
			evalBufs.put(t)
		}
	}()
	for i := 0; i < len(g.nodes); {
		n := g.nodes[i]
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for j, name := range n.Inputs {
			ins[j] = values[name]
		}
		last := i // the last node the step computes
		var out *tensor.Tensor
		var err error
		switch l := n.Layer.(type) {
		case *Conv2D:
			var tail convTail
			tail, last = g.convTail(i, l)
			if len(ins) == 1 && ins[0] != nil && l.fusable() && l.check() == nil {
				if g.nodes[last].Name != g.Output() && g.plainReaders(g.nodes[last].Name) {
					tail.bufs = &evalBufs
				}
				out, err = l.forward(ins[0], tail)
				if err == nil && tail.bufs != nil {
					recycle = append(recycle, out)
				}
			} else {
				last = i
				out, err = l.Forward(ins, Eval)
			}
		case *Linear:
			relu := g.soleNext(i)
			if relu {
				_, relu = g.nodes[i+1].Layer.(*ReLU)
			}
			if len(ins) == 1 && ins[0] != nil && l.check() == nil {
				if relu {
					last = i + 1
				}
				var bufs *bufPool
				if g.nodes[last].Name != g.Output() && g.plainReaders(g.nodes[last].Name) {
					bufs = &evalBufs
				}
				out, err = l.forward(ins[0], relu, bufs)
				if err == nil && bufs != nil {
					recycle = append(recycle, out)
				}
			} else {
				out, err = l.Forward(ins, Eval)
			}
		case *Flatten:
			if g.flattenView(i) && len(ins) == 1 && ins[0] != nil && ins[0].Dims() > 0 {
				out, err = ins[0].Reshape(ins[0].Dim(0), ins[0].RowLen())
				if err != nil {
					err = shapeErrorf(l.Kind(), "input shape %v: %v", ins[0].Shape(), err)
				}
			} else {
				out, err = l.Forward(ins, Eval)
			}
		default:
			out, err = n.Layer.Forward(ins, Eval)
		}
		if err != nil {
			return nil, nodeErr(n, err)
		}
		if out == nil {
			return nil, nodeErr(n, errors.New("forward returned a nil tensor"))
		}
		ln := g.nodes[last]
		want = append(append(want[:0], batch), ln.Shape...)
		if got := out.Shape(); !slices.Equal(got, want) {
			return nil, nodeErr(ln, fmt.Errorf("forward returned shape %v, want %v", got, want))
		}
		values[ln.Name] = out
		for k := i; k <= last; k++ {
			for _, name := range g.release[k] {
				delete(values, name)
			}
		}
		i = last + 1
	}
	return values[g.Output()], nil
}

// soleNext reports whether node i's output is read by node i+1 alone,
// as its only input, and is not the graph's output.
func (g *Graph) soleNext(i int) bool {
	if i+1 >= len(g.nodes) {
		return false
	}
	name, next := g.nodes[i].Name, g.nodes[i+1]
	c := g.consumers[name]
	return len(c) == 1 && c[0] == next.Name && len(next.Inputs) == 1 && next.Inputs[0] == name
}

// convTail returns what runEval fuses after the Conv2D l of node i, and
// the index of the last node it covers (i for nothing): a BatchNorm2D over
// l's channels, then a ReLU, then a MaxPool2D(2, 2), each optional but in
// this order, each the only reader of the node before it.
func (g *Graph) convTail(i int, l *Conv2D) (convTail, int) {
	var t convTail
	last := i
	if !l.fusable() || l.check() != nil {
		return t, last
	}
	if g.soleNext(last) {
		if bn, ok := g.nodes[last+1].Layer.(*BatchNorm2D); ok && bn.C == l.OutC && bn.check() == nil {
			t.bn, last = bn, last+1
		}
	}
	if g.soleNext(last) {
		if _, ok := g.nodes[last+1].Layer.(*ReLU); ok {
			t.relu, last = true, last+1
		}
	}
	if g.soleNext(last) {
		s := g.nodes[i].Shape // [OutC, OH, OW]
		if p, ok := g.nodes[last+1].Layer.(*MaxPool2D); ok && p.K == 2 && p.Stride == 2 && len(s) == 3 && s[1] >= 2 && s[2] >= 2 {
			t.pool, last = true, last+1
		}
	}
	return t, last
}

// plainReaders reports whether every reader of name's output is a
// built-in layer whose Eval-mode output never shares its input's storage
// (Flatten shares it only as runEval's view feeding a Linear), so that the
// storage is free again once the pass is over.
func (g *Graph) plainReaders(name string) bool {
	for _, c := range g.consumers[name] {
		switch g.index[c].Layer.(type) {
		case *Conv2D, *Linear, *BatchNorm2D, *ReLU, *MaxPool2D, *AvgPool2D, *GlobalAvgPool, *Add:
		case *Flatten:
			if g.consumers[c] == nil {
				return false
			}
			for _, cc := range g.consumers[c] {
				if _, ok := g.index[cc].Layer.(*Linear); !ok {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// flattenView reports whether the Flatten of node i may pass a view of its
// input: its output is read only by a Linear, which does not write its
// input, and is not the graph's output.
func (g *Graph) flattenView(i int) bool {
	c := g.consumers[g.nodes[i].Name]
	if len(c) != 1 || g.nodes[i].Name == g.Output() {
		return false
	}
	_, ok := g.index[c[0]].Layer.(*Linear)
	return ok
}

// Backward propagates gradOut, the gradient of the loss with respect to the
// output of the last Train-mode Forward, back through the graph, adding
// into every parameter's Grad. Where a node's output feeds several
// consumers their gradients are summed. Each Backward consumes the record
// of one forward pass; call ZeroGrad before the forward pass to start from
// zero gradients. Layers may use gradOut as scratch space, so its contents
// are unspecified after the call.
func (g *Graph) Backward(gradOut *tensor.Tensor) error {
	if err := g.usable(); err != nil {
		return err
	}
	if !g.trainReady {
		return fmt.Errorf("nn: %w", ErrNoForward)
	}
	g.trainReady = false
	want := append([]int{g.trainBatch}, g.nodes[len(g.nodes)-1].Shape...)
	if gradOut == nil || !slices.Equal(gradOut.Shape(), want) {
		var got []int
		if gradOut != nil {
			got = gradOut.Shape()
		}
		return fmt.Errorf("nn: backward: output gradient has shape %v, want %v", got, want)
	}
	acc := newGradAccumulator()
	acc.add(g.Output(), gradOut)
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := g.nodes[i]
		gout := acc.take(n.Name)
		if gout == nil {
			continue // the node does not reach the output
		}
		gins, err := n.Layer.Backward(gout)
		if err != nil {
			return nodeErr(n, err)
		}
		if len(gins) != len(n.Inputs) {
			return nodeErr(n, fmt.Errorf("backward returned %d input gradients for %d inputs", len(gins), len(n.Inputs)))
		}
		for j, in := range n.Inputs {
			if in == g.inputName {
				continue
			}
			wantIn := append([]int{g.trainBatch}, g.index[in].Shape...)
			if gins[j] == nil || !slices.Equal(gins[j].Shape(), wantIn) {
				var got []int
				if gins[j] != nil {
					got = gins[j].Shape()
				}
				return nodeErr(n, fmt.Errorf("backward returned gradient of shape %v for input %q, want %v", got, in, wantIn))
			}
			acc.add(in, gins[j])
		}
	}
	return nil
}

// gradAccumulator sums gradients per node. It never writes into a tensor it
// did not allocate, and it never hands the same storage to two nodes, since
// a layer's Backward may use its gradOut as scratch space.
type gradAccumulator struct {
	grads map[string]*tensor.Tensor
	owned map[string]bool
	live  map[*float32]bool
}

func newGradAccumulator() *gradAccumulator {
	return &gradAccumulator{grads: map[string]*tensor.Tensor{}, owned: map[string]bool{}, live: map[*float32]bool{}}
}

func storage(t *tensor.Tensor) *float32 {
	if t.Len() == 0 {
		return nil
	}
	return &t.Data()[0]
}

func (a *gradAccumulator) add(name string, g *tensor.Tensor) {
	cur := a.grads[name]
	if cur == nil {
		if p := storage(g); p != nil && a.live[p] {
			g = g.Clone()
			a.owned[name] = true
		}
		a.grads[name] = g
		if p := storage(g); p != nil {
			a.live[p] = true
		}
		return
	}
	if !a.owned[name] {
		c := cur.Clone()
		delete(a.live, storage(cur))
		cur = c
		a.grads[name], a.owned[name] = c, true
		if p := storage(c); p != nil {
			a.live[p] = true
		}
	}
	dst, src := cur.Data(), g.Data()
	for i := range dst {
		dst[i] += src[i]
	}
}

func (a *gradAccumulator) take(name string) *tensor.Tensor {
	g := a.grads[name]
	if g != nil {
		delete(a.grads, name)
		delete(a.owned, name)
		delete(a.live, storage(g))
	}
	return g
}

// Params returns the trainable parameters of every node in topological
// order, named "node.param" (for example "fc1.weight"). The returned Params
// are fresh, but their Value and Grad tensors are the layers' own.
func (g *Graph) Params() []*Param {
	if g == nil {
		return nil
	}
	var ps []*Param
	for _, n := range g.nodes {
		for _, p := range n.Layer.Params() {
			ps = append(ps, &Param{Name: n.Name + "." + p.Name, Value: p.Value, Grad: p.Grad})
		}
	}
	return ps
}

// Buffers returns the non-trainable state of every Buffered node, named
// like Params.
func (g *Graph) Buffers() []*Param {
	if g == nil {
		return nil
	}
	var ps []*Param
	for _, n := range g.nodes {
		if b, ok := n.Layer.(Buffered); ok {
			for _, p := range b.Buffers() {
				ps = append(ps, &Param{Name: n.Name + "." + p.Name, Value: p.Value, Grad: p.Grad})
			}
		}
	}
	return ps
}

// ZeroGrad sets every parameter gradient to zero.
func (g *Graph) ZeroGrad() {
	if g == nil {
		return
	}
	for _, n := range g.nodes {
		for _, p := range n.Layer.Params() {
			if p.Grad != nil {
				p.Grad.Fill(0)
			}
		}
	}
}

// Clone returns a deep copy sharing no storage with g.
func (g *Graph) Clone() *Graph {
	if g == nil {
		return nil
	}
	nodes := make([]*Node, len(g.nodes))
	for i, n := range g.nodes {
		nodes[i] = &Node{Name: n.Name, Layer: n.Layer.Clone(), Inputs: slices.Clone(n.Inputs), Shape: slices.Clone(n.Shape)}
	}
	return newGraph(g.inputName, g.inputShape, nodes)
}

// NumParams returns the number of trainable scalars (buffers excluded).
func (g *Graph) NumParams() int {
	if g == nil {
		return 0
	}
	total := 0
	for _, n := range g.nodes {
		total += layerParams(n.Layer)
	}
	return total
}

func layerParams(l Layer) int {
	total := 0
	for _, p := range l.Params() {
		total += p.Value.Len()
	}
	return total
}

// Summary returns a table of the graph: one row per node with its name,
// kind, inputs, per-sample output shape and number of trainable scalars,
// then the totals.
func (g *Graph) Summary() string {
	if g == nil {
		return "(nil graph)\n"
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tINPUTS\tOUTPUT\tPARAMS")
	fmt.Fprintf(tw, "%s\tInput\t-\t%v\t0\n", g.inputName, g.inputShape)
	for _, n := range g.nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\n", n.Name, n.Layer.Kind(), strings.Join(n.Inputs, ","), n.Shape, layerParams(n.Layer))
	}
	tw.Flush()
	fmt.Fprintf(&b, "%d nodes, %d trainable parameters\n", len(g.nodes), g.NumParams())
	return b.String()
}

// wrapError adds context in front of an error without repeating the
// package prefix: wrap(err, "nn: train: batch %d", 3) reads
// "nn: train: batch 3: node ..." and unwraps to err.
type wrapError struct {
	msg  string
	trim string // prefix removed from err's message
	err  error
}

func (e *wrapError) Error() string { return e.msg + ": " + strings.TrimPrefix(e.err.Error(), e.trim) }
func (e *wrapError) Unwrap() error { return e.err }

func wrap(err error, format string, args ...any) error {
	return &wrapError{msg: fmt.Sprintf(format, args...), trim: "nn: ", err: err}
}

// wrapReplacing is wrap that removes a longer prefix, so that
// "nn: load: truncated" becomes "nn: load model.bin: truncated".
func wrapReplacing(err error, trim, format string, args ...any) error {
	return &wrapError{msg: fmt.Sprintf(format, args...), trim: trim, err: err}
}
