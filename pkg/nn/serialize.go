package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Sentinel errors of Save and Load, matched with errors.Is. The first four
// are the model-file container's, shared with package ptq's int8 model
// file: errors.Is(err, nn.ErrChecksum) holds for a damaged file of either
// kind.
var (
	// ErrBadMagic reports a file that does not start with "PTQSPEC\x00".
	ErrBadMagic = modelfile.ErrBadMagic
	// ErrVersion reports a format version this code cannot read.
	ErrVersion = modelfile.ErrVersion
	// ErrChecksum reports a CRC-32 that does not match the file's contents.
	ErrChecksum = modelfile.ErrChecksum
	// ErrTruncated reports a file that ends before its structure does.
	ErrTruncated = modelfile.ErrTruncated
	// ErrUnknownKind reports a layer kind with no registered constructor.
	ErrUnknownKind = errors.New("unknown layer kind")
	// ErrNotSerializable reports a layer that does not implement
	// Serializable.
	ErrNotSerializable = errors.New("layer is not serializable")
	// ErrParamShape reports a stored tensor whose name, role or shape
	// disagrees with the architecture.
	ErrParamShape = tensor.NewShapeSentinel("parameter does not match the architecture")
	// ErrNonFinite reports a parameter or buffer holding NaN or ±Inf,
	// which Save refuses to write.
	ErrNonFinite = errors.New("non-finite value")
	// ErrNilModel reports a nil *Graph (or a nil argument standing for a
	// model) given to a function that needs one.
	ErrNilModel = errors.New("nil model")
)

// Record roles of the FP32 model file.
const (
	tagParam  = 'P'
	tagBuffer = 'B'
)

// format is the FP32 model file: version 1, documented on Save.
var format = &modelfile.Format{
	Magic:   "PTQSPEC\x00",
	Version: 1,
	Header:  "architecture header",
	Record:  "tensor",
	Tag:     "role",
	Tags:    "'P' or 'B'",
	ElemSize: func(tag byte) int {
		if tag == tagParam || tag == tagBuffer {
			return 4
		}
		return 0
	},
	Others: map[string]string{"PTQSPECQ": "this is an int8 model file of package ptq (ptq.LoadModel reads it)"},
}

type fileHeader struct {
	Input modelfile.Input `json:"input"`
	Nodes []fileNode      `json:"nodes"`
}

type fileNode struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	Inputs []string        `json:"inputs"`
	Attrs  json.RawMessage `json:"attrs"`
	Shape  []int           `json:"shape"`
}

// Save writes g as an FP32 model file, version 1. All integers are
// unsigned little-endian:
//
//	offset   size  field
//	0        8     magic "PTQSPEC\x00" (50 54 51 53 50 45 43 00)
//	8        4     format version (uint32) = 1
//	12       4     header length H (uint32)
//	16       H     architecture header, UTF-8 JSON (see below)
//	16+H     4     tensor count T (uint32)
//	               T tensor records, in node order, each node's parameters
//	               then its buffers:
//	                 2    name length L (uint16)
//	                 L    name "node.param", e.g. "fc1.weight"
//	                 1    role: 'P' trainable parameter, 'B' buffer
//	                 1    rank R (at most 8)
//	                 4R   dimensions (uint32 each)
//	                 4n   the n = product-of-dimensions values, float32
//	                      IEEE-754, row-major
//	end-4    4     CRC-32 (IEEE polynomial, hash/crc32.ChecksumIEEE) of
//	               every preceding byte
//
// The header is a JSON object:
//
//	{"input": {"name": "input", "shape": [1, 28, 28]},
//	 "nodes": [{"name": "linear1", "kind": "Linear", "inputs": ["flatten1"],
//	            "attrs": {"in": 784, "out": 256, "bias": true},
//	            "shape": [256]}, ...]}
//
// Nodes are in topological order and the last is the output; "attrs" is
// the layer's Attrs() and "shape" its per-sample output shape.
//
// Save writes nothing when g cannot be saved: a nil g (ErrNilModel), a
// layer that is not Serializable (ErrNotSerializable) or a parameter or
// buffer holding NaN or ±Inf (ErrNonFinite) is an error naming the node,
// returned before the first byte.
func Save(w io.Writer, g *Graph) error {
	if err := save(w, g); err != nil {
		return wrap(err, "nn: save")
	}
	return nil
}

// save is Save without the "nn: save" prefix on its errors.
func save(w io.Writer, g *Graph) error {
	if g.usable() != nil {
		return ErrNilModel
	}
	if w == nil {
		return errors.New("nil writer")
	}
	h, recs, err := contents(g)
	if err != nil {
		return err
	}
	return format.Write(w, h, recs)
}

// contents returns the header and tensor records describing g.
func contents(g *Graph) (fileHeader, []modelfile.Record, error) {
	h := fileHeader{Input: modelfile.Input{Name: g.inputName, Shape: g.inputShape}}
	var recs []modelfile.Record
	for _, n := range g.nodes {
		attrs, err := layerAttrs(n.Layer)
		if err != nil {
			return h, nil, nodeErr(n, err)
		}
		h.Nodes = append(h.Nodes, fileNode{Name: n.Name, Kind: n.Layer.Kind(), Inputs: n.Inputs, Attrs: attrs, Shape: n.Shape})
		for _, p := range nodeTensors(n) {
			name := n.Name + "." + p.Name
			if i := slices.IndexFunc(p.Value.Data(), nonFinite); i >= 0 {
				return h, nil, nodeErr(n, fmt.Errorf("%w: %q holds %g at index %d", ErrNonFinite, name, p.Value.Data()[i], i))
			}
			role := byte(tagParam)
			if p.buffer {
				role = tagBuffer
			}
			recs = append(recs, modelfile.Record{Name: name, Tag: role, Shape: p.Value.Shape(), Values: p.Value.Data()})
		}
	}
	return h, recs, nil
}

func nonFinite(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

// layerAttrs returns the attributes Save writes for a layer: its Attrs()
// as JSON. A layer that is not Serializable is an error wrapping
// ErrNotSerializable.
func layerAttrs(l Layer) (json.RawMessage, error) {
	s, ok := l.(Serializable)
	if !ok {
		return nil, ErrNotSerializable
	}
	attrs, err := json.Marshal(s.Attrs())
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	return attrs, nil
}

// newLayer builds a layer of a registered kind from its JSON attributes,
// its parameters and buffers holding at most limit values (see
// Constructor). An unregistered kind is an error wrapping ErrUnknownKind
// that lists the registered kinds; a constructor's error is returned
// wrapped with the attributes it refused.
func newLayer(kind string, attrs json.RawMessage, limit int) (Layer, error) {
	ctor, ok := Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownKind, kind, Kinds())
	}
	l, err := ctor(attrs, limit)
	if errors.Is(err, tensor.ErrTooLarge) {
		return nil, fmt.Errorf("%w: attributes %s: %w", ErrParamShape, attrs, err)
	}
	if err != nil {
		return nil, fmt.Errorf("attributes %s: %w", attrs, err)
	}
	if l == nil || l.Kind() != kind {
		return nil, fmt.Errorf("constructor of kind %q returned a different layer", kind)
	}
	return l, nil
}

type roleParam struct {
	*Param
	buffer bool
}

// nodeTensors lists a node's params, then its buffers.
func nodeTensors(n *Node) []roleParam {
	var ps []roleParam
	for _, p := range n.Layer.Params() {
		ps = append(ps, roleParam{p, false})
	}
	if b, ok := n.Layer.(Buffered); ok {
		for _, p := range b.Buffers() {
			ps = append(ps, roleParam{p, true})
		}
	}
	return ps
}

// SaveFile saves g to path atomically: path holds its old contents or the
// whole new file, never a part, and no temporary file is left behind on
// error. The file is created with mode 0644.
func SaveFile(path string, g *Graph) error {
	if err := atomicfile.WriteFile(path, func(w io.Writer) error { return save(w, g) }); err != nil {
		return wrap(err, "nn: save %s", path)
	}
	return nil
}

// LoadFile loads a graph saved by SaveFile or Save; errors name the path.
func LoadFile(path string) (*Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	return load(data, "nn: load "+path)
}

// Load reads a graph written by Save. It reads r to its end and checks
// the magic (ErrBadMagic), the version (ErrVersion), the record structure
// (ErrTruncated, with the byte offset where the file ends) and the
// checksum (ErrChecksum) before it trusts any content. It then rebuilds
// each layer with the constructor registered for its kind
// (ErrUnknownKind, naming the kind and the node), allowing it no more
// values than the file holds for that node, so that a header declaring
// a huge layer is refused before anything is allocated for it (an error
// wrapping tensor.ErrTooLarge). It checks that the inferred shapes match
// the header, that no node's output or intermediate buffer exceeds
// tensor.MaxElements, and fills every parameter and buffer, failing with
// ErrParamShape on a missing, extra, renamed or misshapen tensor. Layers
// are built without gradients, which the first Backward allocates.
func Load(r io.Reader) (*Graph, error) {
	if r == nil {
		return nil, errors.New("nn: load: nil reader")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	return load(data, "nn: load")
}

// load decodes and rebuilds a model file; prefix starts its errors.
func load(data []byte, prefix string) (*Graph, error) {
	var h fileHeader
	recs, err := format.Read(data, prefix, &h)
	if err != nil {
		return nil, err
	}
	g, err := rebuild(h, recs)
	if err != nil {
		return nil, wrapReplacing(err, "nn: ", "%s", prefix)
	}
	return g, nil
}

// rebuild constructs the graph described by a decoded file.
func rebuild(h fileHeader, recs []modelfile.Record) (*Graph, error) {
	if _, err := tensor.Numel(h.Input.Shape); err != nil {
		return nil, fmt.Errorf("input %q: %w", h.Input.Name, err)
	}
	b := NewBuilder(h.Input.Name, h.Input.Shape...)
	for _, fn := range h.Nodes {
		// The node's records hold what its layer may allocate.
		held := 0
		for _, r := range recs {
			if strings.HasPrefix(r.Name, fn.Name+".") {
				held += r.Elements()
			}
		}
		l, err := newLayer(fn.Kind, fn.Attrs, held)
		switch {
		case errors.Is(err, ErrUnknownKind):
			return nil, fmt.Errorf("node %q: %w", fn.Name, err)
		case err != nil:
			return nil, &NodeError{Node: fn.Name, Kind: fn.Kind, Err: err}
		}
		if len(fn.Inputs) == 0 {
			return nil, fmt.Errorf("node %q (%s) lists no inputs", fn.Name, fn.Kind)
		}
		b.Add(fn.Name, l, fn.Inputs...)
		if b.err != nil {
			return nil, b.err
		}
	}
	g, err := b.Build()
	if err != nil {
		return nil, err
	}
	for i, n := range g.nodes {
		if want := h.Nodes[i].Shape; !slices.Equal(n.Shape, want) {
			return nil, nodeErr(n, fmt.Errorf("header says output shape %v, the layer infers %v", want, n.Shape))
		}
	}
	k := 0
	for _, n := range g.nodes {
		for _, p := range nodeTensors(n) {
			name := n.Name + "." + p.Name
			if k == len(recs) {
				return nil, nodeErr(n, fmt.Errorf("%w: %q is missing from the file", ErrParamShape, name))
			}
			r := recs[k]
			k++
			switch {
			case r.Name != name:
				return nil, nodeErr(n, fmt.Errorf("%w: file holds %q where %q belongs", ErrParamShape, r.Name, name))
			case (r.Tag == tagBuffer) != p.buffer:
				return nil, nodeErr(n, fmt.Errorf("%w: %q stored as %s, the layer has a %s", ErrParamShape, name, role(r.Tag == tagBuffer), role(p.buffer)))
			case !slices.Equal(r.Shape, p.Value.Shape()):
				return nil, nodeErr(n, fmt.Errorf("%w: %q has shape %v in the file, the architecture wants %v", ErrParamShape, name, r.Shape, p.Value.Shape()))
			}
			modelfile.DecodeFloat32s(p.Value.Data(), r.Raw)
		}
	}
	if k != len(recs) {
		return nil, fmt.Errorf("%w: file holds %d tensors, the architecture %d (first extra: %q)", ErrParamShape, len(recs), k, recs[k].Name)
	}
	return g, nil
}

func role(buffer bool) string {
	if buffer {
		return "buffer"
	}
	return "parameter"
}
