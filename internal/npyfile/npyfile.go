package npyfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// readerName is the file name errors use when decoding a stream.
const readerName = "<reader>"

// Header describes the array a .npy file holds.
type Header struct {
	DType string // NumPy type string, for example "<f4" or "<i8"
	Shape []int  // the array's shape; empty for a 0-d array
}

// ReadTensor reads the float32 (or float64, converted to float32) array in
// the .npy file at path as a tensor of the file's shape.
func ReadTensor(path string) (*tensor.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{File: path, Offset: -1, Msg: "cannot read", Err: err}
	}
	return decodeTensor(data, path)
}

// DecodeTensor reads a float32 (or float64) .npy stream from r until EOF.
// Errors name the stream "<reader>".
func DecodeTensor(r io.Reader) (*tensor.Tensor, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &FileError{File: readerName, Offset: int64(len(data)), Msg: "cannot read", Err: err}
	}
	return decodeTensor(data, readerName)
}

// ReadLabels reads the 1-D integer array in the .npy file at path (int64,
// int32, int16, int8, uint8 or uint16) as class labels.
func ReadLabels(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{File: path, Offset: -1, Msg: "cannot read", Err: err}
	}
	return decodeLabels(data, path)
}

// DecodeLabels reads a 1-D integer .npy stream from r until EOF.
func DecodeLabels(r io.Reader) ([]int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &FileError{File: readerName, Offset: int64(len(data)), Msg: "cannot read", Err: err}
	}
	return decodeLabels(data, readerName)
}

// ReadHeader reads only the header of the .npy file at path.
func ReadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, &FileError{File: path, Offset: -1, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	// A header is at most 12 bytes of prefix plus its declared length; read
	// what the prefix declares, bounded by the file's size.
	st, err := f.Stat()
	if err != nil {
		return Header{}, &FileError{File: path, Offset: -1, Msg: "cannot stat", Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, min(st.Size(), 1<<20)))
	if err != nil {
		return Header{}, &FileError{File: path, Offset: -1, Msg: "cannot read", Err: err}
	}
	h, _, err := parseHeader(data, path)
	return h, err
}

// WriteTensor writes t to path as a '<f4' .npy file of t's shape. The file is
// written to a temporary name beside path and renamed, so a reader never sees
// half a file.
func WriteTensor(path string, t *tensor.Tensor) error {
	return writeFile(path, func(w io.Writer) error { return EncodeTensor(w, t) })
}

// EncodeTensor writes t to w as a '<f4' .npy stream of t's shape.
func EncodeTensor(w io.Writer, t *tensor.Tensor) error {
	if t == nil {
		return &FileError{File: readerName, Offset: -1, Msg: "nil tensor"}
	}
	raw := make([]byte, 4*t.Len())
	for i, v := range t.Data() {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return encode(w, "<f4", t.Shape(), raw)
}

// WriteLabels writes labels to path as a 1-D '<i8' .npy file.
func WriteLabels(path string, labels []int) error {
	return writeFile(path, func(w io.Writer) error { return EncodeLabels(w, labels) })
}

// EncodeLabels writes labels to w as a 1-D '<i8' .npy stream.
func EncodeLabels(w io.Writer, labels []int) error {
	raw := make([]byte, 8*len(labels))
	for i, v := range labels {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(int64(v)))
	}
	return encode(w, "<i8", []int{len(labels)}, raw)
}

// encode writes a version-1.0 .npy stream: the magic, the version, the
// header dictionary padded with spaces so that the data starts at a multiple
// of 64 bytes, then raw, the array's little-endian C-order bytes, in one
// write. npyio's own writer takes shapes only from nested Go slices and
// reflects on every element (2.5 s for 10,000 MNIST images); this layout is
// the one numpy.save writes, and the tests read it back with npyio.
func encode(w io.Writer, dtype string, shape []int, raw []byte) error {
	var dims string
	switch len(shape) {
	case 0:
		dims = "()"
	case 1:
		dims = fmt.Sprintf("(%d,)", shape[0])
	default:
		parts := make([]string, len(shape))
		for i, d := range shape {
			parts[i] = strconv.Itoa(d)
		}
		dims = "(" + strings.Join(parts, ", ") + ")"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtype, dims)
	const prefix = 10 // magic (6), version (2), header length (2)
	total := prefix + len(dict) + 1
	pad := (64 - total%64) % 64
	if len(dict)+pad+1 > math.MaxUint16 {
		return &FileError{File: readerName, Offset: -1, Kind: ErrSize, Msg: fmt.Sprintf("shape %v makes a header too long for format 1.0", shape)}
	}
	hdr := make([]byte, 0, total+pad)
	hdr = append(hdr, npy.Magic[:]...)
	hdr = append(hdr, 1, 0)
	hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(dict)+pad+1))
	hdr = append(hdr, dict...)
	hdr = append(hdr, bytes.Repeat([]byte{' '}, pad)...)
	hdr = append(hdr, '\n')
	if _, err := w.Write(hdr); err != nil {
		return &FileError{File: readerName, Offset: 0, Msg: "cannot write the header", Err: err}
	}
	if _, err := w.Write(raw); err != nil {
		return &FileError{File: readerName, Offset: int64(len(hdr)), Msg: "cannot write the data", Err: err}
	}
	return nil
}

func writeFile(path string, encodeTo func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dirOf(path), ".npyfile-*.tmp")
	if err != nil {
		return &FileError{File: path, Offset: -1, Msg: "cannot create", Err: err}
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := encodeTo(bw); err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.File = path
		}
		return err
	}
	if err := bw.Flush(); err != nil {
		return &FileError{File: path, Offset: -1, Msg: "cannot write", Err: err}
	}
	// CreateTemp makes the file private (0600); give it the mode os.Create
	// would, before the umask.
	if err := f.Chmod(0o644); err != nil {
		return &FileError{File: path, Offset: -1, Msg: "cannot set the file mode", Err: err}
	}
	if err := f.Close(); err != nil {
		return &FileError{File: path, Offset: -1, Msg: "cannot close", Err: err}
	}
	if err := os.Rename(tmp, path); err != nil {
		return &FileError{File: path, Offset: -1, Msg: "cannot rename the temporary file", Err: err}
	}
	return nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			if i == 0 {
				return path[:1]
			}
			return path[:i]
		}
	}
	return "."
}

// parseHeader checks the prefix and header of data before npyio decodes it,
// so that malformed headers (which npyio's parser may panic on or allocate
// for) give errors. It returns the header and the offset of the first data
// byte; data may end after the header.
func parseHeader(data []byte, name string) (Header, int, error) {
	bad := func(off int, msg string, err error) (Header, int, error) {
		return Header{}, 0, &FileError{File: name, Offset: int64(off), Kind: ErrNotNPY, Msg: msg, Err: err}
	}
	if len(data) < 10 || !bytes.Equal(data[:6], npy.Magic[:]) {
		return bad(0, "no NumPy magic \"\\x93NUMPY\" at the start", nil)
	}
	major := data[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:10])), 10
	case 2:
		if len(data) < 12 {
			return bad(len(data), "truncated header length", nil)
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:12])), 12
	default:
		return bad(6, fmt.Sprintf("format version %d.%d is not 1.x or 2.x", major, data[7]), nil)
	}
	end := start + hlen
	if hlen < 1 || end > len(data) {
		return bad(8, fmt.Sprintf("header declares %d bytes, the file has %d after the prefix", hlen, len(data)-start), nil)
	}
	hdr := data[start:end]
	if hdr[len(hdr)-1] != '\n' {
		return bad(end-1, "header does not end with a newline", nil)
	}
	var h npy.Header
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("header parser failed: %v", r)
			}
		}()
		var rd *npy.Reader
		rd, err = npy.NewReader(bytes.NewReader(data[:end]))
		if err == nil {
			h = rd.Header
		}
	}()
	if err != nil {
		return bad(start, fmt.Sprintf("unreadable header %q", bytes.TrimSpace(hdr)), err)
	}
	if h.Descr.Fortran {
		return Header{}, 0, &FileError{File: name, Offset: int64(start), Kind: ErrDType,
			Msg: "array is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)"}
	}
	out := Header{DType: strings.Trim(h.Descr.Type, "'\""), Shape: append([]int{}, h.Descr.Shape...)}
	for _, d := range out.Shape {
		if d < 0 {
			return Header{}, 0, &FileError{File: name, Offset: int64(start), Kind: ErrSize,
				Msg: fmt.Sprintf("negative dimension in shape %v", out.Shape)}
		}
	}
	return out, end, nil
}

// dtypes this package reads, with their element sizes.
var elemSize = map[string]int{
	"<f4": 4, "<f8": 8,
	"<i8": 8, "<i4": 4, "<i2": 2, "|i1": 1, "|u1": 1, "<u2": 2,
}

// checkSize checks that data after off holds exactly the elements the header
// declares, without allocating for them.
func checkSize(data []byte, name string, h Header, off int) (int, error) {
	esize := elemSize[h.DType]
	n := 1
	for _, d := range h.Shape {
		if d != 0 && n > math.MaxInt/esize/d {
			return 0, &FileError{File: name, Offset: int64(off), Kind: ErrSize,
				Msg: fmt.Sprintf("shape %v overflows", h.Shape)}
		}
		n *= d
	}
	have := len(data) - off
	if n*esize != have {
		return 0, &FileError{File: name, Offset: int64(off), Kind: ErrSize,
			Msg: fmt.Sprintf("shape %v of %s needs %d data bytes, the file has %d", h.Shape, h.DType, n*esize, have)}
	}
	return n, nil
}

func decodeTensor(data []byte, name string) (*tensor.Tensor, error) {
	h, off, err := parseHeader(data, name)
	if err != nil {
		return nil, err
	}
	if h.DType != "<f4" && h.DType != "<f8" {
		return nil, &FileError{File: name, Offset: 0, Kind: ErrDType,
			Msg: fmt.Sprintf("element type %s is not float32 ('<f4') or float64 ('<f8')", h.DType)}
	}
	n, err := checkSize(data, name, h, off)
	if err != nil {
		return nil, err
	}
	rd, err := npy.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, &FileError{File: name, Offset: 0, Kind: ErrNotNPY, Msg: "unreadable header", Err: err}
	}
	var vals []float32
	if h.DType == "<f4" {
		err = rd.Read(&vals)
	} else {
		var v64 []float64
		err = rd.Read(&v64)
		vals = make([]float32, len(v64))
		for i, v := range v64 {
			vals[i] = float32(v)
		}
	}
	if err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, &FileError{File: name, Offset: int64(off), Kind: ErrSize, Msg: "cannot read the data", Err: err}
	}
	if vals == nil {
		vals = []float32{}
	}
	t, err := tensor.FromData(vals, h.Shape...)
	if err != nil {
		return nil, &FileError{File: name, Offset: int64(off), Kind: ErrSize, Msg: "data does not fit the shape", Err: err}
	}
	return t, nil
}

func decodeLabels(data []byte, name string) ([]int, error) {
	h, off, err := parseHeader(data, name)
	if err != nil {
		return nil, err
	}
	if len(h.Shape) != 1 {
		return nil, &FileError{File: name, Offset: 0, Kind: ErrLabels,
			Msg: fmt.Sprintf("labels must be a 1-D array, shape is %v", h.Shape)}
	}
	if _, ok := elemSize[h.DType]; !ok || h.DType == "<f4" || h.DType == "<f8" {
		return nil, &FileError{File: name, Offset: 0, Kind: ErrDType,
			Msg: fmt.Sprintf("label element type %s is not an integer type (int64, int32, int16, int8, uint8, uint16)", h.DType)}
	}
	n, err := checkSize(data, name, h, off)
	if err != nil {
		return nil, err
	}
	rd, err := npy.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, &FileError{File: name, Offset: 0, Kind: ErrNotNPY, Msg: "unreadable header", Err: err}
	}
	out := make([]int, n)
	switch h.DType {
	case "<i8":
		err = readInto[int64](rd, out)
	case "<i4":
		err = readInto[int32](rd, out)
	case "<i2":
		err = readInto[int16](rd, out)
	case "|i1":
		err = readInto[int8](rd, out)
	case "|u1":
		err = readInto[uint8](rd, out)
	case "<u2":
		err = readInto[uint16](rd, out)
	}
	if err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, &FileError{File: name, Offset: int64(off), Kind: ErrSize, Msg: "cannot read the labels", Err: err}
	}
	esize := elemSize[h.DType]
	for i, v := range out {
		if v < 0 {
			return nil, &FileError{File: name, Offset: int64(off + i*esize), Kind: ErrLabels,
				Msg: fmt.Sprintf("label %d is negative (%d)", i, v)}
		}
	}
	return out, nil
}

func readInto[T int64 | int32 | int16 | int8 | uint8 | uint16](rd *npy.Reader, out []int) error {
	var vals []T
	if err := rd.Read(&vals); err != nil {
		return err
	}
	if len(vals) != len(out) {
		return fmt.Errorf("read %d labels, header declares %d", len(vals), len(out))
	}
	for i, v := range vals {
		out[i] = int(v)
	}
	return nil
}
