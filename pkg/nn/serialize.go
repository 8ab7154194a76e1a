package nn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The file format is documented byte by byte in doc.go (# File format).
const (
	fileMagic   = "PTQSPEC\x00"
	fileVersion = 1
	maxRank     = 8
)

// Sentinel errors of Save and Load, matched with errors.Is.
var (
	// ErrBadMagic reports a file that does not start with "PTQSPEC\x00".
	ErrBadMagic = errors.New("not a ptqspec model file (bad magic)")
	// ErrVersion reports a format version this code cannot read.
	ErrVersion = errors.New("unsupported format version")
	// ErrChecksum reports a CRC-32 that does not match the file's contents.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrTruncated reports a file that ends before its structure does.
	ErrTruncated = errors.New("truncated file")
	// ErrUnknownKind reports a layer kind with no registered constructor.
	ErrUnknownKind = errors.New("unknown layer kind")
	// ErrNotSerializable reports a layer that does not implement
	// Serializable.
	ErrNotSerializable = errors.New("layer is not serializable")
	// ErrParamShape reports a stored tensor whose name, role or shape
	// disagrees with the architecture.
	ErrParamShape = errors.New("parameter does not match the architecture")
)

type fileHeader struct {
	Input fileInput  `json:"input"`
	Nodes []fileNode `json:"nodes"`
}

type fileInput struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type fileNode struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	Inputs []string        `json:"inputs"`
	Attrs  json.RawMessage `json:"attrs"`
	Shape  []int           `json:"shape"`
}

// fileTensor is one tensor record.
type fileTensor struct {
	name   string
	buffer bool
	shape  []int
	data   []float32
}

// Save writes g in the format documented above. Every layer must be
// Serializable; otherwise Save fails naming the node, before writing.
func Save(w io.Writer, g *Graph) error {
	h, ts, err := contents(g)
	if err != nil {
		return err
	}
	return encode(w, h, ts)
}

// contents returns the header and tensor records describing g.
func contents(g *Graph) (fileHeader, []fileTensor, error) {
	h := fileHeader{Input: fileInput{Name: g.inputName, Shape: g.inputShape}}
	var ts []fileTensor
	for _, n := range g.nodes {
		attrs, err := LayerAttrs(n.Layer)
		if err != nil {
			return h, nil, wrap(nodeErr(n, err), "nn: save")
		}
		h.Nodes = append(h.Nodes, fileNode{Name: n.Name, Kind: n.Layer.Kind(), Inputs: n.Inputs, Attrs: attrs, Shape: n.Shape})
		for _, p := range nodeTensors(n) {
			ts = append(ts, fileTensor{name: n.Name + "." + p.Name, buffer: p.buffer, shape: p.Value.Shape(), data: p.Value.Data()})
		}
	}
	return h, ts, nil
}

// LayerAttrs returns the attributes Save writes for a layer: its Attrs()
// as JSON. A layer that is not Serializable is an error wrapping
// ErrNotSerializable.
func LayerAttrs(l Layer) (json.RawMessage, error) {
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

// NewLayer builds a layer of a registered kind from its JSON attributes,
// as Load does. An unregistered kind is an error wrapping ErrUnknownKind
// that lists the registered kinds; a constructor's error is returned
// wrapped with the attributes it refused.
func NewLayer(kind string, attrs json.RawMessage) (Layer, error) {
	ctor, ok := Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownKind, kind, Kinds())
	}
	l, err := ctor(attrs)
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

// encode writes a header and tensor records, with the checksum.
func encode(w io.Writer, h fileHeader, ts []fileTensor) error {
	js, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("nn: save: header: %w", err)
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	le := binary.LittleEndian
	var buf []byte
	buf = append(buf, fileMagic...)
	buf = le.AppendUint32(buf, fileVersion)
	buf = le.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	buf = le.AppendUint32(buf, uint32(len(ts)))
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("nn: save: %w", err)
	}
	for _, t := range ts {
		if len(t.name) > math.MaxUint16 || len(t.shape) > maxRank {
			return fmt.Errorf("nn: save: tensor %q: name or rank %d too long", t.name, len(t.shape))
		}
		buf = le.AppendUint16(buf[:0], uint16(len(t.name)))
		buf = append(buf, t.name...)
		role := byte('P')
		if t.buffer {
			role = 'B'
		}
		buf = append(buf, role, byte(len(t.shape)))
		for _, d := range t.shape {
			buf = le.AppendUint32(buf, uint32(d))
		}
		for _, v := range t.data {
			buf = le.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("nn: save: tensor %q: %w", t.name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nn: save: %w", err)
	}
	if _, err := w.Write(le.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("nn: save: checksum: %w", err)
	}
	return nil
}

// SaveFile saves g to path, atomically (see WriteFileAtomic).
func SaveFile(path string, g *Graph) error {
	if err := WriteFileAtomic(path, func(w io.Writer) error { return Save(w, g) }); err != nil {
		return wrapReplacing(err, "nn: save: ", "nn: save %s", path)
	}
	return nil
}

// WriteFileAtomic writes a file with write, atomically: write fills a
// temporary file in path's directory, which is renamed over path once it
// is complete and closed, so that path never holds a partial file and a
// failure leaves nothing behind. write's error is returned as it is.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// LoadFile loads a graph saved by SaveFile or Save; errors name the path.
func LoadFile(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	defer f.Close()
	g, err := Load(f)
	if err != nil {
		return nil, wrapReplacing(err, "nn: load: ", "nn: load %s", path)
	}
	return g, nil
}

// Load reads a graph in the format documented above. It reads r to its end,
// checks the magic, the version, the structure (reporting a truncated file
// with the byte offset where it ends) and the checksum before it trusts any
// content, then rebuilds the layers from their registered kinds and fills
// their parameters and buffers.
func Load(r io.Reader) (*Graph, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	h, ts, err := decode(data)
	if err != nil {
		return nil, err
	}
	return rebuild(h, ts)
}

// Cursor reads a file's bytes front to back for a decoder. A read past
// the end is an error wrapping ErrTruncated that says what was being
// read, how many bytes it needs, at which byte offset, and where the
// file ends.
type Cursor struct {
	data   []byte
	off    int
	prefix string
}

// NewCursor returns a cursor at the start of data whose errors start with
// prefix, such as "nn: load".
func NewCursor(data []byte, prefix string) *Cursor {
	return &Cursor{data: data, prefix: prefix}
}

// Offset returns the byte offset of the next read.
func (c *Cursor) Offset() int { return c.off }

// Next returns the next n bytes; what names them in the error.
func (c *Cursor) Next(n int, what string) ([]byte, error) {
	if n < 0 || len(c.data)-c.off < n {
		return nil, fmt.Errorf("%s: %w: %s needs %d bytes at byte offset %d, but the file ends at byte %d",
			c.prefix, ErrTruncated, what, n, c.off, len(c.data))
	}
	b := c.data[c.off : c.off+n]
	c.off += n
	return b, nil
}

// Uint32 reads a little-endian uint32.
func (c *Cursor) Uint32(what string) (uint32, error) {
	b, err := c.Next(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Finish reads the trailing CRC-32, which must end the file, and checks it
// against every byte before it: trailing bytes are an error naming their
// offset, a mismatch one wrapping ErrChecksum.
func (c *Cursor) Finish() error {
	sum, err := c.Uint32("the CRC-32 checksum")
	if err != nil {
		return err
	}
	if c.off != len(c.data) {
		return fmt.Errorf("%s: %d unexpected bytes after the checksum at byte offset %d", c.prefix, len(c.data)-c.off, c.off)
	}
	if got := crc32.ChecksumIEEE(c.data[:c.off-4]); got != sum {
		return fmt.Errorf("%s: %w: stored CRC-32 %08x, contents hash to %08x", c.prefix, ErrChecksum, sum, got)
	}
	return nil
}

// DecodeHeader decodes a JSON header strictly (unknown fields are errors)
// into v; what and off name it in the error.
func (c *Cursor) DecodeHeader(js []byte, v any, what string, off int) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %s at byte offset %d: %w", c.prefix, what, off, err)
	}
	return nil
}

// Shape reads rank dimensions, each a little-endian uint32, and returns
// them with the number of elements they hold. The product is capped far
// above any real file, so that a corrupt shape cannot overflow: reading
// the elements then reports the file truncated.
func (c *Cursor) Shape(rank int, what string) ([]int, int, error) {
	const maxElems = 1 << 40
	shape := make([]int, rank)
	elems := uint64(1)
	for k := range shape {
		d, err := c.Uint32(what)
		if err != nil {
			return nil, 0, err
		}
		shape[k] = int(d)
		if d != 0 && elems > maxElems/uint64(d) {
			elems = maxElems
		} else {
			elems *= uint64(d)
		}
	}
	if slices.Contains(shape, 0) {
		elems = 0
	}
	return shape, int(elems), nil
}

// decode checks the binary structure and the checksum and parses the header.
func decode(data []byte) (fileHeader, []fileTensor, error) {
	var h fileHeader
	c := NewCursor(data, "nn: load")
	magic, err := c.Next(len(fileMagic), "the magic number")
	if err != nil {
		return h, nil, err
	}
	if string(magic) != fileMagic {
		return h, nil, fmt.Errorf("nn: load: %w: file starts with %q, want %q", ErrBadMagic, magic, fileMagic)
	}
	version, err := c.Uint32("the format version")
	if err != nil {
		return h, nil, err
	}
	if version != fileVersion {
		return h, nil, fmt.Errorf("nn: load: %w %d (this code reads version %d)", ErrVersion, version, fileVersion)
	}
	hlen, err := c.Uint32("the header length")
	if err != nil {
		return h, nil, err
	}
	hdrOff := c.off
	js, err := c.Next(int(hlen), "the architecture header")
	if err != nil {
		return h, nil, err
	}
	count, err := c.Uint32("the tensor count")
	if err != nil {
		return h, nil, err
	}
	type record struct {
		fileTensor
		raw []byte
	}
	var recs []record
	for i := range int(count) {
		what := fmt.Sprintf("tensor %d", i)
		nl, err := c.Next(2, what+" name length")
		if err != nil {
			return h, nil, err
		}
		name, err := c.Next(int(binary.LittleEndian.Uint16(nl)), what+" name")
		if err != nil {
			return h, nil, err
		}
		what = fmt.Sprintf("tensor %q", name)
		rr, err := c.Next(2, what+" role and rank")
		if err != nil {
			return h, nil, err
		}
		if rr[0] != 'P' && rr[0] != 'B' {
			return h, nil, fmt.Errorf("nn: load: %s at byte offset %d: role %q, want 'P' or 'B'", what, c.off-2, rr[0])
		}
		if rr[1] > maxRank {
			return h, nil, fmt.Errorf("nn: load: %s at byte offset %d: rank %d exceeds %d", what, c.off-1, rr[1], maxRank)
		}
		t := fileTensor{name: string(name), buffer: rr[0] == 'B'}
		shape, elems, err := c.Shape(int(rr[1]), what+" dimensions")
		if err != nil {
			return h, nil, err
		}
		t.shape = shape
		raw, err := c.Next(4*elems, what+" values")
		if err != nil {
			return h, nil, err
		}
		recs = append(recs, record{t, raw})
	}
	if err := c.Finish(); err != nil {
		return h, nil, err
	}
	if err := c.DecodeHeader(js, &h, "architecture header", hdrOff); err != nil {
		return h, nil, err
	}
	ts := make([]fileTensor, len(recs))
	for i, r := range recs {
		t := r.fileTensor
		t.data = make([]float32, len(r.raw)/4)
		for k := range t.data {
			t.data[k] = math.Float32frombits(binary.LittleEndian.Uint32(r.raw[4*k:]))
		}
		ts[i] = t
	}
	return h, ts, nil
}

// rebuild constructs the graph described by a decoded file.
func rebuild(h fileHeader, ts []fileTensor) (*Graph, error) {
	b := NewBuilder(h.Input.Name, h.Input.Shape...)
	for _, fn := range h.Nodes {
		l, err := NewLayer(fn.Kind, fn.Attrs)
		switch {
		case errors.Is(err, ErrUnknownKind):
			return nil, fmt.Errorf("nn: load: node %q: %w", fn.Name, err)
		case err != nil:
			return nil, wrap(&NodeError{Node: fn.Name, Kind: fn.Kind, Err: err}, "nn: load")
		}
		if len(fn.Inputs) == 0 {
			return nil, fmt.Errorf("nn: load: node %q (%s) lists no inputs", fn.Name, fn.Kind)
		}
		b.Add(fn.Name, l, fn.Inputs...)
	}
	g, err := b.Build()
	if err != nil {
		return nil, wrap(err, "nn: load")
	}
	for i, n := range g.nodes {
		if want := h.Nodes[i].Shape; !slices.Equal(n.Shape, want) {
			return nil, wrap(nodeErr(n, fmt.Errorf("header says output shape %v, the layer infers %v", want, n.Shape)), "nn: load")
		}
	}
	k := 0
	for _, n := range g.nodes {
		for _, p := range nodeTensors(n) {
			name := n.Name + "." + p.Name
			if k == len(ts) {
				return nil, wrap(nodeErr(n, fmt.Errorf("%w: %q is missing from the file", ErrParamShape, name)), "nn: load")
			}
			t := ts[k]
			k++
			switch {
			case t.name != name:
				return nil, wrap(nodeErr(n, fmt.Errorf("%w: file holds %q where %q belongs", ErrParamShape, t.name, name)), "nn: load")
			case t.buffer != p.buffer:
				return nil, wrap(nodeErr(n, fmt.Errorf("%w: %q stored as %s, the layer has a %s", ErrParamShape, name, role(t.buffer), role(p.buffer))), "nn: load")
			case !slices.Equal(t.shape, p.Value.Shape()):
				return nil, wrap(nodeErr(n, fmt.Errorf("%w: %q has shape %v in the file, the architecture wants %v", ErrParamShape, name, t.shape, p.Value.Shape())), "nn: load")
			}
			v, err := tensor.FromData(t.data, t.shape...)
			if err != nil {
				return nil, wrap(nodeErr(n, err), "nn: load")
			}
			if err := p.Value.CopyFrom(v); err != nil {
				return nil, wrap(nodeErr(n, err), "nn: load")
			}
		}
	}
	if k != len(ts) {
		return nil, fmt.Errorf("nn: load: %w: file holds %d tensors, the architecture %d (first extra: %q)", ErrParamShape, len(ts), k, ts[k].name)
	}
	return g, nil
}

func role(buffer bool) string {
	if buffer {
		return "buffer"
	}
	return "parameter"
}
