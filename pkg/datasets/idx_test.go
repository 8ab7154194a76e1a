package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// makeIDX encodes an IDX file: magic, big-endian dimensions, then data.
func makeIDX(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

// gz compresses b with gzip.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	be16 := func(vs ...int16) (b []byte) {
		for _, v := range vs {
			b = binary.BigEndian.AppendUint16(b, uint16(v))
		}
		return b
	}
	be32 := func(vs ...int32) (b []byte) {
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		}
		return b
	}
	f32 := func(vs ...float32) (b []byte) {
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	f64 := func(vs ...float64) (b []byte) {
		for _, v := range vs {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	tests := []struct {
		name  string
		typ   byte
		dims  []int
		data  []byte
		gzip  bool
		wantF []float32
	}{
		{"uint8 raw", TypeUint8, []int{2, 3}, []byte{0, 1, 2, 253, 254, 255}, false, []float32{0, 1, 2, 253, 254, 255}},
		{"uint8 gzip", TypeUint8, []int{2, 3}, []byte{0, 1, 2, 253, 254, 255}, true, []float32{0, 1, 2, 253, 254, 255}},
		{"int8", TypeInt8, []int{3}, []byte{0x80, 0xff, 0x7f}, false, []float32{-128, -1, 127}},
		{"int16", TypeInt16, []int{1, 3}, be16(-32768, -2, 32767), false, []float32{-32768, -2, 32767}},
		{"int32", TypeInt32, []int{2}, be32(-1<<31, 1<<20), true, []float32{-1 << 31, 1 << 20}},
		{"float32", TypeFloat32, []int{1, 1, 2}, f32(-1.5, 3.25), false, []float32{-1.5, 3.25}},
		{"float64", TypeFloat64, []int{2}, f64(0.5, -1e10), false, []float32{0.5, -1e10}},
		{"zero-length dimension", TypeUint8, []int{0, 28, 28}, nil, false, []float32{}},
		{"zero-length dimension gzip", TypeUint8, []int{5, 0}, nil, true, []float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := makeIDX(tc.typ, tc.dims, tc.data)
			if tc.gzip {
				in = gz(t, in)
			}
			x, err := ReadIDX(bytes.NewReader(in), "test.idx")
			if err != nil {
				t.Fatalf("ReadIDX: %v", err)
			}
			if x.Type != tc.typ || !slices.Equal(x.Dims, tc.dims) || !bytes.Equal(x.Data, tc.data) {
				t.Fatalf("got type 0x%02x dims %v data %v, want 0x%02x %v %v", x.Type, x.Dims, x.Data, tc.typ, tc.dims, tc.data)
			}
			if got := x.Float32s(); !slices.Equal(got, tc.wantF) {
				t.Errorf("Float32s = %v, want %v", got, tc.wantF)
			}
			if x.Len() != len(tc.wantF) {
				t.Errorf("Len = %d, want %d", x.Len(), len(tc.wantF))
			}
		})
	}
}

// errReader returns its data, then a fixed error.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadIDXErrors(t *testing.T) {
	valid := makeIDX(TypeUint8, []int{2, 2}, []byte{1, 2, 3, 4})
	badChecksum := gz(t, valid)
	badChecksum[len(badChecksum)-8] ^= 0xff // CRC-32 field of the gzip trailer
	pixels := make([]byte, 100*28*28)
	for i := range pixels {
		pixels[i] = byte(i * i)
	}
	truncGz := gz(t, makeIDX(TypeUint8, []int{100, 28, 28}, pixels))
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name    string
		in      io.Reader
		file    string
		wantIs  []error
		wantMsg string // exact message, or a prefix when it ends in "..."
	}{
		{"empty", bytes.NewReader(nil), "e.idx", []error{ErrCorrupt, ErrTruncated},
			"datasets: e.idx: offset 0: truncated header: want 4 bytes, got 0"},
		{"short header", bytes.NewReader([]byte{0, 0}), "s.idx", []error{ErrCorrupt, ErrTruncated},
			"datasets: s.idx: offset 0: truncated header: want 4 bytes, got 2"},
		{"nonzero magic", bytes.NewReader([]byte{0, 1, 8, 1, 0, 0, 0, 0}), "m.idx", []error{ErrCorrupt},
			"datasets: m.idx: offset 0: bad magic 0x00010801: first two bytes must be zero"},
		{"unknown type", bytes.NewReader([]byte{0, 0, 0x0a, 1, 0, 0, 0, 0}), "u.idx", []error{ErrCorrupt},
			"datasets: u.idx: offset 2: unknown element type 0x0a (want 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)"},
		{"no dimensions", bytes.NewReader([]byte{0, 0, 8, 0}), "n.idx", []error{ErrCorrupt},
			"datasets: n.idx: offset 3: dimension count is 0"},
		{"truncated dimensions", bytes.NewReader([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0}), "d.idx", []error{ErrCorrupt, ErrTruncated},
			"datasets: d.idx: offset 4: truncated dimensions: want 12 bytes, got 5"},
		{"too large", bytes.NewReader(makeIDX(TypeFloat64, []int{1 << 16, 1 << 16}, nil)), "big.idx", []error{ErrCorrupt},
			"datasets: big.idx: offset 8: dimensions 65536x65536 of float64 exceed the 2147483647-byte limit"},
		{"truncated data raw", bytes.NewReader(valid[:len(valid)-1]), "r.idx", []error{ErrCorrupt, ErrTruncated},
			"datasets: r.idx: offset 12: truncated data: want 4 bytes (2x2 uint8), got 3"},
		{"truncated pixel data gzip", bytes.NewReader(gz(t, makeIDX(TypeUint8, []int{10000, 28, 28}, make([]byte, 1200)))),
			"t10k-images-idx3-ubyte.gz", []error{ErrCorrupt, ErrTruncated},
			"datasets: t10k-images-idx3-ubyte.gz: offset 16: truncated data: want 7840000 bytes (10000x28x28 uint8), got 1200"},
		{"truncated gzip stream", bytes.NewReader(truncGz[:len(truncGz)/2]), "cut.gz", []error{ErrCorrupt, ErrTruncated},
			"datasets: cut.gz: offset 16: truncated data: want 78400 bytes (100x28x28 uint8), got ..."},
		{"trailing data raw", bytes.NewReader(append(slices.Clone(valid), 9, 9)), "tr.idx", []error{ErrCorrupt},
			"datasets: tr.idx: offset 16: trailing data after the 16 bytes that the header announces"},
		{"trailing data gzip", bytes.NewReader(gz(t, append(slices.Clone(valid), 0))), "tr.gz", []error{ErrCorrupt},
			"datasets: tr.gz: offset 16: trailing data after the 16 bytes that the header announces"},
		{"garbage after gzip stream", bytes.NewReader(append(gz(t, valid), []byte("not a gzip member")...)), "g.gz", []error{ErrCorrupt, gzip.ErrHeader},
			"datasets: g.gz: offset 16: after the data: gzip: invalid header"},
		{"short garbage after gzip stream", bytes.NewReader(append(gz(t, valid), 'x', 'y', 'z')), "g.gz", []error{ErrCorrupt},
			"datasets: g.gz: offset 16: after the data: unexpected EOF"},
		{"bad gzip checksum", bytes.NewReader(badChecksum), "c.gz", []error{ErrCorrupt, gzip.ErrChecksum},
			"datasets: c.gz: offset 16: after the data: gzip: invalid checksum"},
		{"bad gzip header", bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0}), "h.gz", []error{ErrCorrupt},
			"datasets: h.gz: offset 0: bad gzip header: ..."},
		{"read error in data", &errReader{data: valid[:13], err: errDisk}, "disk.idx", []error{ErrCorrupt, errDisk},
			"datasets: disk.idx: offset 12: reading data: after 1 of 4 bytes: disk on fire"},
		{"read error in header", &errReader{data: valid[:2], err: errDisk}, "disk.idx", []error{ErrCorrupt, errDisk},
			"datasets: disk.idx: offset 0: reading header: disk on fire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := ReadIDX(tc.in, tc.file)
			if err == nil {
				t.Fatalf("ReadIDX = %+v, want an error", x)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != tc.file {
				t.Errorf("error %v is not a *FormatError naming %q", err, tc.file)
			}
			if prefix, ok := strings.CutSuffix(tc.wantMsg, "..."); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error = %q, want prefix %q", err, prefix)
				}
			} else if err.Error() != tc.wantMsg {
				t.Errorf("error = %q, want %q", err, tc.wantMsg)
			}
		})
	}
}

func TestReadIDXFile(t *testing.T) {
	data := make([]byte, 3*4*5)
	for i := range data {
		data[i] = byte(i * 7)
	}
	raw := makeIDX(TypeUint8, []int{3, 4, 5}, data)
	dir := t.TempDir()
	tests := []struct {
		name    string
		file    string
		content []byte
	}{
		{"raw", "a-idx3-ubyte", raw},
		{"gzip", "a-idx3-ubyte.gz", gz(t, raw)},
		{"gzip with a .idx name", "b.idx", gz(t, raw)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			x, err := ReadIDXFile(path)
			if err != nil {
				t.Fatalf("ReadIDXFile: %v", err)
			}
			if !slices.Equal(x.Dims, []int{3, 4, 5}) || !bytes.Equal(x.Data, data) {
				t.Errorf("got dims %v, %d bytes; want [3 4 5], %d bytes", x.Dims, len(x.Data), len(data))
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadIDXFile(filepath.Join(dir, "nope.gz"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.gz") {
			t.Errorf("error = %v, want fs.ErrNotExist naming nope.gz", err)
		}
	})
	t.Run("truncated file names its base name", func(t *testing.T) {
		path := filepath.Join(dir, "cut-idx3-ubyte")
		if err := os.WriteFile(path, raw[:20], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadIDXFile(path)
		want := "datasets: cut-idx3-ubyte: offset 16: truncated data: want 60 bytes (3x4x5 uint8), got 4"
		if err == nil || err.Error() != want || !errors.Is(err, ErrTruncated) {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
}

func TestTypeName(t *testing.T) {
	tests := []struct {
		typ  byte
		want string
	}{
		{TypeUint8, "uint8"}, {TypeInt8, "int8"}, {TypeInt16, "int16"}, {TypeInt32, "int32"},
		{TypeFloat32, "float32"}, {TypeFloat64, "float64"}, {0x0a, "unknown type 0x0a"},
	}
	for _, tc := range tests {
		if got := TypeName(tc.typ); got != tc.want {
			t.Errorf("TypeName(0x%02x) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	valid := makeIDX(TypeUint8, []int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	f.Add(valid)
	f.Add(gz(f, valid))
	f.Add(makeIDX(TypeFloat64, []int{1}, make([]byte, 8)))
	f.Add(makeIDX(TypeInt16, []int{2, 0, 7}, nil))
	f.Add(makeIDX(TypeUint8, []int{1 << 20, 1 << 20}, []byte{1}))
	f.Add(valid[:9])
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ReadIDX(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "datasets: fuzz: offset ") {
				t.Fatalf("error %q does not match ErrCorrupt with a file and offset", err)
			}
			return
		}
		if len(x.Dims) == 0 || typeSize(x.Type) == 0 || len(x.Data) != x.Len()*typeSize(x.Type) {
			t.Fatalf("accepted an inconsistent IDX: type 0x%02x dims %v, %d bytes", x.Type, x.Dims, len(x.Data))
		}
		if got := len(x.Float32s()); got != x.Len() {
			t.Fatalf("Float32s has %d elements, want %d", got, x.Len())
		}
	})
}
