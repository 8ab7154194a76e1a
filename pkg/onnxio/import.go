package onnxio

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Opset range of the default domain the importer accepts.
const (
	MinOpset = 11
	MaxOpset = 21
)

// DefaultMaxElements is the default bound on the element count of any
// tensor the importer decodes and on the per-sample element count of any
// activation of the imported graph (2^24, 64 MiB of float32).
const DefaultMaxElements = 1 << 24

// MaxNodes bounds the nodes of an imported graph: a file of more fails
// with ErrTooLarge before any node is imported, so that the work and the
// memory an import takes stay proportional to a sensible model.
const MaxNodes = 1 << 14

// maxRank bounds the per-sample rank of the graph input.
const maxRank = 8

// maxFileSize is protobuf's own limit on a serialized message (2 GiB).
const maxFileSize = math.MaxInt32

// Option changes how Import reads a model.
type Option func(*importConfig)

type importConfig struct {
	inputShape  []int
	maxElements int
}

// WithInputShape sets the per-sample input shape (without the batch
// dimension, for example 1, 28, 28), for models whose input declares
// symbolic dimensions other than the batch. A declared fixed dimension
// must agree with it.
func WithInputShape(perSample ...int) Option {
	return func(c *importConfig) { c.inputShape = slices.Clone(perSample) }
}

// WithMaxElements bounds the element count of every tensor in the file and
// of every per-sample activation of the imported graph (DefaultMaxElements
// if not set). Larger ones fail with ErrTooLarge before anything of their
// size is allocated.
func WithMaxElements(n int) Option {
	return func(c *importConfig) { c.maxElements = n }
}

// ImportFile reads the ONNX model at path; see Import.
func ImportFile(path string, opts ...Option) (*nn.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnxio: %w", err)
	}
	defer f.Close()
	g, err := Import(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return g, nil
}

// Import reads an ONNX model (a serialized ModelProto) and returns the
// equivalent FP32 graph of pkg/nn layers. The package documentation lists
// the operators and attributes it maps; anything else fails with an
// *UnsupportedError naming the node. The model must have one float input
// whose first dimension is the batch and one output.
func Import(r io.Reader, opts ...Option) (*nn.Graph, error) {
	cfg := importConfig{maxElements: DefaultMaxElements}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxElements <= 0 {
		cfg.maxElements = DefaultMaxElements
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("onnxio: reading the model: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, invalidf(ErrTooLarge, "file larger than protobuf's 2 GiB limit")
	}
	var m onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("onnxio: %w: %d bytes do not decode as a ModelProto: %v", ErrNotONNX, len(data), err)
	}
	if m.GetGraph() == nil || m.GetIrVersion() <= 0 || len(m.GetOpsetImport()) == 0 {
		return nil, fmt.Errorf("onnxio: %w: %d bytes decode without a graph, IR version or opset import", ErrNotONNX, len(data))
	}
	im := &importer{cfg: cfg, model: &m, opsets: map[string]int64{}}
	return im.run()
}

// importer holds the state of one Import.
type importer struct {
	cfg    importConfig
	model  *onnxpb.ModelProto
	opsets map[string]int64 // domain ("" for the default) -> version

	b         *nn.Builder
	inputName string
	values    map[string]*value // ONNX tensor name -> what it is
	inits     map[string]*onnxpb.TensorProto
	consumers map[string][]*onnxpb.NodeProto
	outputs   map[string]bool // graph output names
	absorbed  map[*onnxpb.NodeProto]bool
	used      map[string]bool  // nn node names (and the input's)
	suffix    map[string]int   // next suffix unique tries for a name
	last      string           // the last nn node added
	nnShapes  map[string][]int // nn node name (or the input's) -> per-sample shape
}

// value is what an ONNX tensor is in the graph being built: an activation
// computed by nn node node (or the graph input), or a constant. shape is
// the ONNX per-sample shape (without the batch); nnShape is the shape the
// nn node gives, which differs only after GlobalAveragePool ([C] for
// [C, 1, 1]). pad is a zero padding (top, left, bottom, right) a Pad node
// put on node's output that its consumer must absorb.
type value struct {
	node    string
	shape   []int
	nnShape []int
	c       *constant
	pad     *padding
}

type padding struct {
	node                     *onnxpb.NodeProto
	top, left, bottom, right int
}

func (im *importer) run() (*nn.Graph, error) {
	for _, os := range im.model.GetOpsetImport() {
		d := os.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		im.opsets[d] = os.GetVersion()
	}
	v, ok := im.opsets[""]
	if !ok {
		return nil, &UnsupportedError{Node: im.model.GetGraph().GetName(), What: "model imports no opset of the default domain"}
	}
	if v < MinOpset || v > MaxOpset {
		return nil, &UnsupportedError{Node: im.model.GetGraph().GetName(),
			What: fmt.Sprintf("default-domain opset %d (supported: %d to %d)", v, MinOpset, MaxOpset)}
	}
	g := im.model.GetGraph()
	if len(g.GetNode()) > MaxNodes {
		return nil, invalidf(ErrTooLarge, "graph of %d nodes (at most %d)", len(g.GetNode()), MaxNodes)
	}
	if len(g.GetSparseInitializer()) > 0 {
		return nil, &UnsupportedError{Node: g.GetSparseInitializer()[0].GetValues().GetName(), What: "sparse initializer"}
	}
	im.values = map[string]*value{}
	im.inits = map[string]*onnxpb.TensorProto{}
	im.consumers = map[string][]*onnxpb.NodeProto{}
	im.outputs = map[string]bool{}
	im.absorbed = map[*onnxpb.NodeProto]bool{}
	im.used = map[string]bool{}
	im.suffix = map[string]int{}
	im.nnShapes = map[string][]int{}
	for _, t := range g.GetInitializer() {
		if t.GetName() == "" {
			return nil, invalidf(ErrInvalidGraph, "initializer without a name")
		}
		if im.inits[t.GetName()] != nil {
			return nil, invalidf(ErrInvalidGraph, "initializer %q defined twice", t.GetName())
		}
		im.inits[t.GetName()] = t
	}
	if err := im.input(g); err != nil {
		return nil, err
	}
	if len(g.GetOutput()) != 1 {
		return nil, &UnsupportedError{Node: g.GetName(), What: fmt.Sprintf("graph with %d outputs (one is supported)", len(g.GetOutput()))}
	}
	out := g.GetOutput()[0].GetName()
	im.outputs[out] = true
	order, err := im.sort(g, out)
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		for _, in := range n.GetInput() {
			im.consumers[in] = append(im.consumers[in], n)
		}
	}
	for _, n := range order {
		if im.absorbed[n] {
			continue
		}
		if err := im.node(n); err != nil {
			return nil, err
		}
	}
	ov, err := im.act(out, nil)
	if err != nil {
		return nil, err
	}
	if ov.node != im.last || im.last == "" {
		// The output is the graph input, or a node before the last one
		// (aliased by Identity, Dropout or a Reshape that changes nothing):
		// make it the last node.
		if _, _, err := im.emit(nil, "output", nn.NewIdentity(), ov.node); err != nil {
			return nil, err
		}
	}
	built, err := im.b.Build()
	if err != nil {
		return nil, fmt.Errorf("onnxio: %w: %w", ErrInvalidGraph, err)
	}
	return built, nil
}

// input sets up the graph's one float input.
func (im *importer) input(g *onnxpb.GraphProto) error {
	var ins []*onnxpb.ValueInfoProto
	for _, vi := range g.GetInput() {
		if im.inits[vi.GetName()] == nil {
			ins = append(ins, vi)
		}
	}
	if len(ins) != 1 {
		return &UnsupportedError{Node: g.GetName(), What: fmt.Sprintf("graph with %d inputs that are not initializers (one is supported)", len(ins))}
	}
	vi := ins[0]
	name := vi.GetName()
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return &UnsupportedError{Node: name, What: "graph input that is not a tensor"}
	}
	if tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		return &UnsupportedError{Node: name, What: fmt.Sprintf("graph input of element type %s (float32 is supported)",
			onnxpb.TensorProto_DataType(tt.GetElemType()))}
	}
	dims := tt.GetShape().GetDim()
	if len(dims) > maxRank+1 {
		return &UnsupportedError{Node: name, What: fmt.Sprintf("graph input of rank %d (at most %d)", len(dims), maxRank+1)}
	}
	if tt.GetShape() == nil || len(dims) < 2 {
		if len(im.cfg.inputShape) == 0 {
			return &UnsupportedError{Node: name, What: "graph input without a shape of rank 2 or more [batch, ...]; give one with WithInputShape"}
		}
	}
	shape := im.cfg.inputShape
	if len(dims) >= 2 {
		if shape != nil && len(shape) != len(dims)-1 {
			return invalidf(ErrInvalidGraph, "input %q has rank %d, WithInputShape gave %v", name, len(dims), shape)
		}
		fixed := make([]int, len(dims)-1)
		for k, d := range dims[1:] {
			if dv, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && dv.DimValue > 0 {
				if dv.DimValue > math.MaxInt32 {
					return invalidf(ErrTooLarge, "input %q dimension %d is %d", name, k+1, dv.DimValue)
				}
				fixed[k] = int(dv.DimValue)
				if shape != nil && shape[k] != fixed[k] {
					return invalidf(ErrInvalidGraph, "input %q declares dimension %d as %d, WithInputShape gave %d", name, k+1, fixed[k], shape[k])
				}
			} else if shape == nil {
				return &UnsupportedError{Node: name, What: fmt.Sprintf("input dimension %d is symbolic; give the shape with WithInputShape", k+1)}
			}
		}
		if shape == nil {
			shape = fixed
		}
	}
	if err := im.checkSize(name, shape); err != nil {
		return err
	}
	im.inputName = im.unique(sanitize(name, "input"))
	im.b = nn.NewBuilder(im.inputName, shape...)
	im.nnShapes[im.inputName] = slices.Clone(shape)
	im.values[name] = &value{node: im.inputName, shape: slices.Clone(shape), nnShape: slices.Clone(shape)}
	return nil
}

// checkSize refuses a per-sample shape with a non-positive dimension or
// more elements than the limit.
func (im *importer) checkSize(name string, shape []int) error {
	d64 := make([]int64, len(shape))
	for k, d := range shape {
		if d <= 0 {
			return invalidf(ErrInvalidGraph, "tensor %q has per-sample shape %v with a non-positive dimension", name, shape)
		}
		d64[k] = int64(d)
	}
	if _, ok := checkedProduct(d64, im.cfg.maxElements); !ok {
		return invalidf(ErrTooLarge, "tensor %q: per-sample shape %v has more than %d elements", name, shape, im.cfg.maxElements)
	}
	return nil
}

// sort returns the nodes the output depends on, in a topological order,
// refusing cycles, tensors defined twice and reads of undefined tensors.
func (im *importer) sort(g *onnxpb.GraphProto, out string) ([]*onnxpb.NodeProto, error) {
	producer := map[string]int{}
	for k, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup || im.inits[o] != nil || im.values[o] != nil {
				return nil, invalidf(ErrInvalidGraph, "tensor %q is defined twice (again by node %q)", o, n.GetName())
			}
			producer[o] = k
		}
	}
	defined := func(t string) bool {
		_, ok := producer[t]
		return ok || im.inits[t] != nil || im.values[t] != nil
	}
	if !defined(out) {
		return nil, invalidf(ErrInvalidGraph, "graph output %q is not computed by any node", out)
	}
	// Mark the nodes the output needs, then order them (Kahn), iteratively.
	needed := map[int]bool{}
	stack := []string{out}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k, ok := producer[t]
		if !ok || needed[k] {
			continue
		}
		needed[k] = true
		n := g.GetNode()[k]
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if !defined(in) {
				return nil, invalidf(ErrInvalidGraph, "node %q (%s) reads tensor %q, which nothing defines", n.GetName(), n.GetOpType(), in)
			}
			stack = append(stack, in)
		}
	}
	indeg := map[int]int{}
	users := map[int][]int{}
	for k := range needed {
		for _, in := range g.GetNode()[k].GetInput() {
			if p, ok := producer[in]; ok && in != "" {
				indeg[k]++
				users[p] = append(users[p], k)
			}
		}
	}
	ready := &intHeap{} // the file's order among ready nodes
	var order []int
	for k := range g.GetNode() {
		if needed[k] && indeg[k] == 0 {
			heap.Push(ready, k)
		}
	}
	for ready.Len() > 0 {
		k := heap.Pop(ready).(int)
		order = append(order, k)
		for _, u := range users[k] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) != len(needed) {
		for k := range g.GetNode() {
			if needed[k] && indeg[k] > 0 {
				n := g.GetNode()[k]
				return nil, invalidf(ErrInvalidGraph, "graph cycle through node %q (%s)", n.GetName(), n.GetOpType())
			}
		}
	}
	nodes := make([]*onnxpb.NodeProto, len(order))
	for i, k := range order {
		nodes[i] = g.GetNode()[k]
	}
	return nodes, nil
}

// intHeap is a min-heap of node indices (container/heap).
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sanitize turns an ONNX name into an nn node name: no leading '/', and
// '.' and ',' (which nn reserves) replaced by '_'. An empty result becomes
// fallback.
func sanitize(name, fallback string) string {
	s := strings.TrimLeft(name, "/")
	s = strings.Map(func(r rune) rune {
		if r == '.' || r == ',' {
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return fallback
	}
	return s
}

// unique returns name, or name with the smallest suffix "_2", "_3", ...
// that no node uses yet, and reserves it. The next suffix to try is kept
// per name, so a file of many nodes with one name costs linear time.
func (im *importer) unique(name string) string {
	s := name
	for k := im.suffix[name]; im.used[s]; k++ {
		k = max(k, 2)
		s = fmt.Sprintf("%s_%d", name, k)
		im.suffix[name] = k + 1
	}
	im.used[s] = true
	return s
}

// emit adds an nn node for ONNX node n (nil for one the importer adds) and
// returns its name.
func (im *importer) emit(n *onnxpb.NodeProto, fallback string, l nn.Layer, inputs ...string) (string, []int, error) {
	name := fallback
	if n != nil {
		name = n.GetName()
		if name == "" && len(n.GetOutput()) > 0 {
			name = n.GetOutput()[0]
		}
		name = sanitize(name, strings.ToLower(n.GetOpType()))
	}
	shapes := make([][]int, len(inputs))
	for k, in := range inputs {
		shapes[k] = slices.Clone(im.nnShapes[in])
	}
	out, err := l.OutputShape(shapes)
	if err != nil {
		sentinel := ErrInvalidGraph
		if errors.Is(err, tensor.ErrTooLarge) {
			sentinel = ErrTooLarge
		}
		return "", nil, fmt.Errorf("onnxio: %w: node %q (%s): %w", sentinel, name, l.Kind(), err)
	}
	if err := im.checkSize(name, out); err != nil {
		return "", nil, err
	}
	name = im.unique(name)
	im.b.Add(name, l, inputs...)
	im.nnShapes[name] = slices.Clone(out)
	im.last = name
	return name, out, nil
}
