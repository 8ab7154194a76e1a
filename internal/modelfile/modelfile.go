package modelfile

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
)

// MaxRank is the largest rank of a tensor record.
const MaxRank = 8

// Sentinel errors of Read, matched with errors.Is. Packages nn and ptq
// export them under their own names (nn.ErrBadMagic is ErrBadMagic).
var (
	// ErrBadMagic reports a file that does not start with the format's
	// magic.
	ErrBadMagic = errors.New("not a ptqspec model file (bad magic)")
	// ErrVersion reports a format version this code cannot read.
	ErrVersion = errors.New("unsupported format version")
	// ErrChecksum reports a CRC-32 that does not match the file's contents.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrTruncated reports a file that ends before its structure does.
	ErrTruncated = errors.New("truncated file")
)

// Format describes one kind of model file.
type Format struct {
	// Magic is the 8-byte signature the file starts with.
	Magic string
	// Version is the only format version Read accepts and Write writes.
	Version uint32
	// Header names the JSON header in errors, e.g. "architecture header".
	Header string
	// Record names a tensor record in errors, e.g. "tensor".
	Record string
	// Tag names the byte after a record's name in errors, e.g. "role",
	// and Tags lists its valid values, e.g. "'P' or 'B'".
	Tag, Tags string
	// ElemSize returns the bytes per value of a record with the given tag,
	// or 0 for a tag that is not valid.
	ElemSize func(tag byte) int
	// Others maps the magic of a related file kind to a hint appended to
	// ErrBadMagic errors, e.g. "this is an FP32 model file of package nn".
	Others map[string]string
}

// Input is the model input as both headers describe it: its name and its
// per-sample shape, {"name": "input", "shape": [1, 28, 28]}.
type Input struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Record is one tensor record.
type Record struct {
	// Name is "node.tensor", for example "fc1.weight".
	Name string
	// Tag is the byte written after the name: a role or an element type.
	Tag byte
	// Shape holds the dimensions, row-major, at most MaxRank of them.
	Shape []int
	// Values are what Write encodes: []float32 (IEEE-754), []int32 (two's
	// complement), []int8 or []uint8; their count must be the product of
	// Shape. Read leaves it nil.
	Values any
	// Raw holds the values as the file stores them (little-endian), and
	// Offset the byte offset of the record's name length in the file;
	// Read fills both, sharing Raw with its input.
	Raw    []byte
	Offset int
}

// Elements returns the number of values the record's shape holds.
func (r Record) Elements() int {
	n := 1
	for _, d := range r.Shape {
		n *= d
	}
	return n
}

// Write encodes a model file: the header as JSON and the records, then
// the checksum. All integers are unsigned little-endian:
//
//	offset   size  field
//	0        8     magic (Format.Magic)
//	8        4     format version (uint32)
//	12       4     header length H (uint32)
//	16       H     header, UTF-8 JSON
//	16+H     4     tensor record count T (uint32)
//	               T tensor records, each:
//	                 2    name length L (uint16)
//	                 L    name, e.g. "fc1.weight"
//	                 1    tag: a role or an element type (see the format)
//	                 1    rank R (at most 8)
//	                 4R   dimensions (uint32 each)
//	                 s·n  the n = product-of-dimensions values, row-major,
//	                      s = Format.ElemSize(tag) bytes each
//	end-4    4     CRC-32 (IEEE polynomial, hash/crc32.ChecksumIEEE) of
//	               every preceding byte
//
// Write checks every record (name length, rank, tag, value count) before
// it writes a byte; its errors carry no package prefix.
func (f *Format) Write(w io.Writer, header any, recs []Record) error {
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Header, err)
	}
	if uint64(len(js)) > math.MaxUint32 || uint64(len(recs)) > math.MaxUint32 {
		return fmt.Errorf("%s of %d bytes with %d records is too large", f.Header, len(js), len(recs))
	}
	for _, r := range recs {
		if err := f.checkRecord(r); err != nil {
			return err
		}
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	le := binary.LittleEndian
	buf := append([]byte(f.Magic), make([]byte, 8)...)
	le.PutUint32(buf[8:], f.Version)
	le.PutUint32(buf[12:], uint32(len(js)))
	buf = append(buf, js...)
	buf = le.AppendUint32(buf, uint32(len(recs)))
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	for _, r := range recs {
		buf = le.AppendUint16(buf[:0], uint16(len(r.Name)))
		buf = append(buf, r.Name...)
		buf = append(buf, r.Tag, byte(len(r.Shape)))
		for _, d := range r.Shape {
			buf = le.AppendUint32(buf, uint32(d))
		}
		switch v := r.Values.(type) {
		case []float32:
			for _, x := range v {
				buf = le.AppendUint32(buf, math.Float32bits(x))
			}
		case []int32:
			for _, x := range v {
				buf = le.AppendUint32(buf, uint32(x))
			}
		case []int8:
			for _, x := range v {
				buf = append(buf, byte(x))
			}
		case []uint8:
			buf = append(buf, v...)
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("%s %q: %w", f.Record, r.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if _, err := w.Write(le.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("checksum: %w", err)
	}
	return nil
}

// checkRecord refuses a record Write cannot encode as Read would read it.
func (f *Format) checkRecord(r Record) error {
	if len(r.Name) > math.MaxUint16 || len(r.Shape) > MaxRank {
		return fmt.Errorf("%s %q: name or rank %d too long", f.Record, r.Name, len(r.Shape))
	}
	size := f.ElemSize(r.Tag)
	if size == 0 {
		return fmt.Errorf("%s %q: %s %q, want %s", f.Record, r.Name, f.Tag, r.Tag, f.Tags)
	}
	for _, d := range r.Shape {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("%s %q: dimension %d of shape %v does not fit a uint32", f.Record, r.Name, d, r.Shape)
		}
	}
	var n, s int
	switch v := r.Values.(type) {
	case []float32:
		n, s = len(v), 4
	case []int32:
		n, s = len(v), 4
	case []int8:
		n, s = len(v), 1
	case []uint8:
		n, s = len(v), 1
	default:
		return fmt.Errorf("%s %q: values of type %T", f.Record, r.Name, r.Values)
	}
	if s != size || n != r.Elements() {
		return fmt.Errorf("%s %q: %d values of %d bytes for shape %v and %s %q", f.Record, r.Name, n, s, r.Shape, f.Tag, r.Tag)
	}
	return nil
}

// Read decodes a model file written by Write into the header v (a
// pointer, decoded strictly: unknown fields are errors) and its records.
// Errors start with prefix, which names the file ("nn: load model.bin").
// Read checks, in this order, the magic (ErrBadMagic), the version
// (ErrVersion), the structure of every record against the bytes that
// remain (ErrTruncated, naming what was being read, its byte offset and
// where the file ends, before any record is allocated), the trailing
// checksum (ErrChecksum; trailing bytes after it are an error too), and
// only then decodes the header. The records' Raw bytes share data.
func (f *Format) Read(data []byte, prefix string, v any) ([]Record, error) {
	c := NewCursor(data, prefix)
	magic, err := c.Next(len(f.Magic), "the magic number")
	if err != nil {
		return nil, err
	}
	if string(magic) != f.Magic {
		hint := ""
		for m, h := range f.Others {
			if string(magic) == m {
				hint = ": " + h
			}
		}
		return nil, fmt.Errorf("%s: %w: file starts with %q, want %q%s", prefix, ErrBadMagic, magic, f.Magic, hint)
	}
	version, err := c.Uint32("the format version")
	if err != nil {
		return nil, err
	}
	if version != f.Version {
		return nil, fmt.Errorf("%s: %w %d (this code reads version %d)", prefix, ErrVersion, version, f.Version)
	}
	hlen, err := c.Uint32("the header length")
	if err != nil {
		return nil, err
	}
	hdrOff := c.Offset()
	js, err := c.Next(int(hlen), "the "+f.Header)
	if err != nil {
		return nil, err
	}
	count, err := c.Uint32("the " + f.Record + " count")
	if err != nil {
		return nil, err
	}
	// Every record takes at least 4 bytes: the slice of records is sized
	// by what remains, not by a count that may be corrupt.
	recs := make([]Record, 0, min(uint64(count), uint64(c.Remaining()/4)))
	for i := range int(count) {
		r, err := f.readRecord(c, i)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	if err := c.Finish(); err != nil {
		return nil, err
	}
	if err := c.DecodeJSON(js, v, f.Header, hdrOff); err != nil {
		return nil, err
	}
	return recs, nil
}

// readRecord reads the i-th record's structure and values.
func (f *Format) readRecord(c *Cursor, i int) (Record, error) {
	r := Record{Offset: c.Offset()}
	what := fmt.Sprintf("%s %d", f.Record, i)
	nl, err := c.Next(2, what+" name length")
	if err != nil {
		return r, err
	}
	name, err := c.Next(int(binary.LittleEndian.Uint16(nl)), what+" name")
	if err != nil {
		return r, err
	}
	r.Name = string(name)
	what = fmt.Sprintf("%s %q", f.Record, name)
	tr, err := c.Next(2, what+" "+f.Tag+" and rank")
	if err != nil {
		return r, err
	}
	size := f.ElemSize(tr[0])
	if size == 0 {
		return r, c.Errorf(what, c.Offset()-2, "%s %q, want %s", f.Tag, tr[0], f.Tags)
	}
	if tr[1] > MaxRank {
		return r, c.Errorf(what, c.Offset()-1, "rank %d exceeds %d", tr[1], MaxRank)
	}
	r.Tag = tr[0]
	shape, elems, err := c.Shape(int(tr[1]), what+" dimensions")
	if err != nil {
		return r, err
	}
	r.Shape = shape
	if r.Raw, err = c.Next(size*elems, what+" values"); err != nil {
		return r, err
	}
	return r, nil
}

// Float32s decodes little-endian float32 values.
func Float32s(raw []byte) []float32 {
	v := make([]float32, len(raw)/4)
	DecodeFloat32s(v, raw)
	return v
}

// DecodeFloat32s decodes little-endian float32 values into dst, as many
// as both hold.
func DecodeFloat32s(dst []float32, raw []byte) {
	for i := range min(len(dst), len(raw)/4) {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
}

// Int32s decodes little-endian int32 values.
func Int32s(raw []byte) []int32 {
	v := make([]int32, len(raw)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// Int8s decodes int8 values.
func Int8s(raw []byte) []int8 {
	v := make([]int8, len(raw))
	for i, b := range raw {
		v[i] = int8(b)
	}
	return v
}

// HasMagic reports whether data starts with the format's magic.
func (f *Format) HasMagic(data []byte) bool { return bytes.HasPrefix(data, []byte(f.Magic)) }
