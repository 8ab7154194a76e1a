package npyfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// sharedDir holds the PyTorch-written fixtures (numpy.save wrote their .npy files).
const sharedDir = "../../../shared/onnx"

// npyBytes builds a version-1 .npy stream by hand, the way numpy.save lays it
// out, so that tests can damage any part of it.
func npyBytes(header string, data []byte) []byte {
	h := header
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.Write([]byte("\x93NUMPY\x01\x00"))
	var l [2]byte
	binary.LittleEndian.PutUint16(l[:], uint16(len(h)))
	b.Write(l[:])
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func f32bytes(vs ...float32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

func TestReadTensorFixtures(t *testing.T) {
	cases := []struct {
		file  string
		shape []int
	}{
		{"mnist_mlp.input.npy", []int{8, 1, 28, 28}},
		{"mnist_mlp.output.npy", []int{8, 10}},
		{"mnist_lenet_bn.output.npy", []int{8, 10}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			x, err := ReadTensor(filepath.Join(sharedDir, c.file))
			require.NoError(t, err)
			assert.Equal(t, c.shape, x.Shape())
			h, err := ReadHeader(filepath.Join(sharedDir, c.file))
			require.NoError(t, err)
			assert.Equal(t, Header{DType: "<f4", Shape: c.shape}, h)
		})
	}
	// MNIST pixels are k/255 in [0, 1].
	x, err := ReadTensor(filepath.Join(sharedDir, "mnist_mlp.input.npy"))
	require.NoError(t, err)
	for i, v := range x.Data() {
		require.True(t, v >= 0 && v <= 1, "pixel %d = %v", i, v)
	}
}

func TestTensorRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
	}{
		{"scalar", []int{}},
		{"empty", []int{0, 3}},
		{"vector", []int{5}},
		{"images", []int{3, 1, 28, 28}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.New(c.shape...)
			for i := range x.Data() {
				x.Data()[i] = float32(i)*0.37 - 11
			}
			if x.Len() > 1 {
				x.Data()[1] = float32(math.Inf(-1))
				x.Data()[0] = math.Float32frombits(0x7fc00001) // a NaN payload survives
			}
			path := filepath.Join(t.TempDir(), "x.npy")
			require.NoError(t, WriteTensor(path, x))
			y, err := ReadTensor(path)
			require.NoError(t, err)
			assert.Equal(t, x.Shape(), y.Shape())
			for i := range x.Data() {
				assert.Equal(t, math.Float32bits(x.Data()[i]), math.Float32bits(y.Data()[i]), "element %d", i)
			}
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Zero(t, (len(raw)-4*x.Len())%16, "numpy aligns the data start to 16 bytes")
		})
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	labels := []int{7, 2, 1, 0, 4, 1, 4, 9}
	var b bytes.Buffer
	require.NoError(t, EncodeLabels(&b, labels))
	got, err := DecodeLabels(&b)
	require.NoError(t, err)
	assert.Equal(t, labels, got)
}

func TestDecodeTypes(t *testing.T) {
	cases := []struct {
		name   string
		header string
		data   []byte
		want   []int
	}{
		{"uint8", "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{7, 2, 255}, []int{7, 2, 255}},
		{"int8", "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", []byte{9, 0}, []int{9, 0}},
		{"int32", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", []byte{1, 0, 0, 0, 0, 1, 0, 0}, []int{1, 256}},
		{"int64", "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", []byte{3, 0, 0, 0, 0, 0, 0, 0}, []int{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeLabels(bytes.NewReader(npyBytes(c.header, c.data)))
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	t.Run("float64 tensor", func(t *testing.T) {
		raw := make([]byte, 16)
		binary.LittleEndian.PutUint64(raw, math.Float64bits(0.25))
		binary.LittleEndian.PutUint64(raw[8:], math.Float64bits(-3))
		x, err := DecodeTensor(bytes.NewReader(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", raw)))
		require.NoError(t, err)
		assert.Equal(t, []int{1, 2}, x.Shape())
		assert.InDeltaSlice(t, []float32{0.25, -3}, x.Data(), 0)
	})
}

func TestDecodeErrors(t *testing.T) {
	good := npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f32bytes(1, 2, 3, 4))
	hugeV2 := append([]byte("\x93NUMPY\x02\x00"), 0xff, 0xff, 0xff, 0x7f)
	cases := []struct {
		name   string
		data   []byte
		kind   error
		msg    string
		labels bool
	}{
		{"empty file", nil, ErrNotNPY, "no NumPy magic", false},
		{"not npy", []byte("PK\x03\x04 a zip file, not npy"), ErrNotNPY, "no NumPy magic", false},
		{"version 3", append([]byte("\x93NUMPY\x03\x00"), good[8:]...), ErrNotNPY, "version 3.0", false},
		{"header longer than the file", good[:40], ErrNotNPY, "header declares 118 bytes", false},
		{"v2 header of 2 GiB", hugeV2, ErrNotNPY, "header declares 2147483647 bytes", false},
		{"truncated data", good[:len(good)-3], ErrSize, "needs 16 data bytes, the file has 13", false},
		{"trailing bytes", append(append([]byte{}, good...), 0, 0), ErrSize, "needs 16 data bytes, the file has 18", false},
		{"declared 2^40 elements", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", f32bytes(1)), ErrSize, "needs 4398046511104 data bytes, the file has 4", false},
		{"overflowing shape", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", nil), ErrSize, "overflows", false},
		{"fortran order", npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f32bytes(1, 2, 3, 4)), ErrDType, "Fortran", false},
		{"int tensor", npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), ErrDType, "element type <i8 is not float32", false},
		{"big-endian floats", npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), ErrDType, ">f4", false},
		{"garbled header", npyBytes("{'shape': (2,), 'descr'}", nil), ErrNotNPY, "unreadable header", false},
		{"float labels", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f32bytes(1, 2)), ErrDType, "not an integer type", true},
		{"2-D labels", npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", []byte{1, 2, 3, 4}), ErrLabels, "1-D array, shape is [2 2]", true},
		{"negative label", npyBytes("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", []byte{1, 0xff}), ErrLabels, "label 1 is negative (-1)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.npy")
			require.NoError(t, os.WriteFile(path, c.data, 0o644))
			var err error
			if c.labels {
				_, err = ReadLabels(path)
			} else {
				_, err = ReadTensor(path)
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, c.kind)
			assert.Contains(t, err.Error(), c.msg)
			assert.Contains(t, err.Error(), path, "the error names the file")
			var fe *FileError
			assert.ErrorAs(t, err, &fe)
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := ReadTensor(filepath.Join(t.TempDir(), "nope.npy"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "nope.npy")
}

func TestWrittenFileIsReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	require.NoError(t, WriteTensor(path, tensor.New(2)))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}
