package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// IDX element type codes, the third byte of an IDX magic number.
const (
	TypeUint8   byte = 0x08 // unsigned byte
	TypeInt8    byte = 0x09 // signed byte
	TypeInt16   byte = 0x0B // big-endian int16
	TypeInt32   byte = 0x0C // big-endian int32
	TypeFloat32 byte = 0x0D // big-endian IEEE 754 float32
	TypeFloat64 byte = 0x0E // big-endian IEEE 754 float64
)

// MaxIDXBytes is the largest data section ReadIDX accepts (2 GiB - 1). A
// header announcing more is reported as corrupt rather than allocated.
const MaxIDXBytes = math.MaxInt32

// IDX is one decoded IDX file: an N-dimensional array of one element type.
type IDX struct {
	Type byte   // element type code, one of the Type* constants
	Dims []int  // dimensions, outermost first; at least one
	Data []byte // elements in row-major order, big-endian as in the file
}

// typeSize returns the element size of an IDX type code, or 0 if the code
// is unknown.
func typeSize(t byte) int {
	switch t {
	case TypeUint8, TypeInt8:
		return 1
	case TypeInt16:
		return 2
	case TypeInt32, TypeFloat32:
		return 4
	case TypeFloat64:
		return 8
	}
	return 0
}

// TypeName returns a readable name for an IDX type code, such as "uint8".
func TypeName(t byte) string {
	switch t {
	case TypeUint8:
		return "uint8"
	case TypeInt8:
		return "int8"
	case TypeInt16:
		return "int16"
	case TypeInt32:
		return "int32"
	case TypeFloat32:
		return "float32"
	case TypeFloat64:
		return "float64"
	}
	return fmt.Sprintf("unknown type 0x%02x", t)
}

// Len returns the number of elements, the product of Dims, or 0 for a
// nil IDX or dimensions whose product is negative or overflows.
func (x *IDX) Len() int {
	if x == nil {
		return 0
	}
	n, err := tensor.MulDims("idx", x.Dims...)
	if err != nil {
		return 0
	}
	return n
}

// Float32s decodes the elements to float32 in row-major order. Integer
// types convert exactly (int32 values beyond 2^24 round); float64 values
// round to the nearest float32.
//
// A nil IDX, or one whose Data holds fewer bytes than its Dims and Type
// need (an IDX built by hand, not by ReadIDX), gives nil.
func (x *IDX) Float32s() []float32 {
	n := x.Len()
	if x == nil || typeSize(x.Type) == 0 || len(x.Data)/typeSize(x.Type) < n {
		return nil
	}
	out := make([]float32, n)
	d := x.Data
	switch x.Type {
	case TypeUint8:
		for i := range out {
			out[i] = float32(d[i])
		}
	case TypeInt8:
		for i := range out {
			out[i] = float32(int8(d[i]))
		}
	case TypeInt16:
		for i := range out {
			out[i] = float32(int16(binary.BigEndian.Uint16(d[2*i:])))
		}
	case TypeInt32:
		for i := range out {
			out[i] = float32(int32(binary.BigEndian.Uint32(d[4*i:])))
		}
	case TypeFloat32:
		for i := range out {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(d[4*i:]))
		}
	case TypeFloat64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.BigEndian.Uint64(d[8*i:])))
		}
	}
	return out
}

// dimsString renders dimensions as 60000x28x28.
func dimsString(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ReadIDXFile opens path and decodes it with ReadIDX, naming the file by its
// base name in errors.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return readIDX(f, filepath.Base(path), sizeHint(f))
}

// sizeHint guesses the decompressed size of an open file so that the data
// buffer is allocated once: the file size for a raw file, the ISIZE field
// (size mod 2^32) of the gzip trailer for a gzip'd one, bounded by deflate's
// largest expansion (1032:1) so that a forged trailer cannot make a small
// file allocate much. The guess only sizes a buffer; it is never trusted.
// It leaves the file offset at 0.
func sizeHint(f *os.File) int {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0
	}
	size := st.Size()
	var buf [4]byte
	if _, err := f.ReadAt(buf[:2], 0); err != nil || buf[0] != 0x1f || buf[1] != 0x8b {
		return int(min(size, MaxIDXBytes))
	}
	if size < 18 {
		return 0
	}
	if _, err := f.ReadAt(buf[:], size-4); err != nil {
		return 0
	}
	return int(min(int64(binary.LittleEndian.Uint32(buf[:])), 1032*size, MaxIDXBytes))
}

// ReadIDX decodes one IDX stream, raw or gzip'd (recognised by its 0x1f 0x8b
// magic), from r. The name labels errors. The stream must hold exactly one
// IDX array: two zero bytes, a known type code, a dimension count of at
// least one, the big-endian uint32 dimensions, and then exactly the
// announced data. Anything else is a *FormatError matching ErrCorrupt (and
// ErrTruncated for a short stream) that names the offset in the
// decompressed stream.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	if r == nil {
		return nil, &FormatError{File: name, Msg: "nil reader"}
	}
	return readIDX(r, name, 0)
}

// readIDX is ReadIDX with a guess of the stream's decompressed size, which
// only sizes the first buffer.
func readIDX(r io.Reader, name string, hint int) (*IDX, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{File: name, Offset: 0, Msg: "bad gzip header", Err: err}
		}
		defer zr.Close()
		src = zr
	}
	cr := &countingReader{r: src}

	var head [4]byte
	if err := readSection(cr, name, head[:], "header"); err != nil {
		return nil, err
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, &FormatError{File: name, Offset: 0,
			Msg: fmt.Sprintf("bad magic 0x%02x%02x%02x%02x: first two bytes must be zero", head[0], head[1], head[2], head[3])}
	}
	typ, ndims := head[2], int(head[3])
	size := typeSize(typ)
	if size == 0 {
		return nil, &FormatError{File: name, Offset: 2,
			Msg: fmt.Sprintf("unknown element type 0x%02x (want 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)", typ)}
	}
	if ndims == 0 {
		return nil, &FormatError{File: name, Offset: 3, Msg: "dimension count is 0"}
	}

	raw := make([]byte, 4*ndims)
	if err := readSection(cr, name, raw, "dimensions"); err != nil {
		return nil, err
	}
	dims := make([]int, ndims)
	zero := false
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		zero = zero || dims[i] == 0
	}
	// The product is checked before anything is sized by it; the data
	// buffer then grows only as bytes arrive (readData).
	want := 0
	if !zero {
		for i := range dims {
			elems, err := tensor.MulDims("idx", dims[:i+1]...)
			if err != nil || elems > MaxIDXBytes/size {
				return nil, &FormatError{File: name, Offset: int64(4 + 4*i),
					Msg: fmt.Sprintf("dimensions %s of %s exceed the %d-byte limit", dimsString(dims), TypeName(typ), MaxIDXBytes)}
			}
			want = elems * size
		}
	}

	start := cr.n
	data, err := readData(cr, want, hint)
	if err != nil {
		fe := &FormatError{File: name, Offset: start, Err: err}
		if errors.Is(err, ErrTruncated) {
			fe.Msg = fmt.Sprintf("truncated data: want %d bytes (%s %s), got %d", want, dimsString(dims), TypeName(typ), len(data))
		} else {
			fe.Msg = fmt.Sprintf("reading data: after %d of %d bytes", len(data), want)
		}
		return nil, fe
	}

	// The stream must end here. For gzip this read also verifies the
	// checksum and rejects garbage after the last member.
	end := cr.n
	var one [1]byte
	n, err := io.ReadFull(cr, one[:])
	switch {
	case n > 0:
		return nil, &FormatError{File: name, Offset: end,
			Msg: fmt.Sprintf("trailing data after the %d bytes that the header announces", end)}
	case err != nil && err != io.EOF:
		return nil, &FormatError{File: name, Offset: end, Msg: "after the data", Err: err}
	}
	return &IDX{Type: typ, Dims: dims, Data: data}, nil
}

// readSection fills buf from r, reporting a short read as a truncated
// section at the offset where it began.
func readSection(cr *countingReader, name string, buf []byte, what string) error {
	start := cr.n
	n, err := io.ReadFull(cr, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &FormatError{File: name, Offset: start, Err: ErrTruncated,
			Msg: fmt.Sprintf("truncated %s: want %d bytes, got %d", what, len(buf), n)}
	case err != nil:
		return &FormatError{File: name, Offset: start, Msg: "reading " + what, Err: err}
	}
	return nil
}

// readData reads exactly want bytes. It grows its buffer as data arrives,
// so a header announcing more than the stream holds costs no more memory
// than the stream; hint, a guess of the whole stream's size, lets the first
// buffer be large enough. It returns the bytes read so far with any error; a
// stream that ends early gives ErrTruncated.
func readData(r io.Reader, want, hint int) ([]byte, error) {
	buf := make([]byte, min(want, max(hint, 1<<20)))
	n := 0
	for n < want {
		if n == len(buf) {
			grown := make([]byte, min(2*len(buf), want))
			copy(grown, buf[:n])
			buf = grown
		}
		m, err := r.Read(buf[n:])
		n += m
		if n == want {
			break
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return buf[:n], ErrTruncated
		case err != nil:
			return buf[:n], err
		}
	}
	return buf[:n], nil
}
