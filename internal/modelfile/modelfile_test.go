package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testFormat has one 4-byte tag 'f' and one 1-byte tag 'b'.
var testFormat = &Format{
	Magic: "TESTFMT\x00", Version: 3, Header: "test header", Record: "record", Tag: "type", Tags: "'f' or 'b'",
	ElemSize: func(tag byte) int {
		switch tag {
		case 'f':
			return 4
		case 'b':
			return 1
		}
		return 0
	},
	Others: map[string]string{"OTHERFMT": "this is the other kind"},
}

type testHeader struct {
	Input Input  `json:"input"`
	Note  string `json:"note"`
}

func encoded(t *testing.T, recs ...Record) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, testFormat.Write(&b, testHeader{Input: Input{Name: "x", Shape: []int{2}}, Note: "hi"}, recs))
	return b.Bytes()
}

func TestWriteReadRoundTrip(t *testing.T) {
	data := encoded(t,
		Record{Name: "a.w", Tag: 'f', Shape: []int{2, 2}, Values: []float32{1, -2, 3.5, 0}},
		Record{Name: "a.z", Tag: 'b', Shape: []int{3}, Values: []int8{-1, 0, 127}},
		Record{Name: "a.u", Tag: 'b', Shape: []int{0, 5}, Values: []uint8{}},
		Record{Name: "a.i", Tag: 'f', Shape: nil, Values: []int32{-7}},
	)
	var h testHeader
	recs, err := testFormat.Read(data, "test", &h)
	require.NoError(t, err)
	assert.Equal(t, testHeader{Input: Input{Name: "x", Shape: []int{2}}, Note: "hi"}, h)
	require.Len(t, recs, 4)
	assert.Equal(t, []float32{1, -2, 3.5, 0}, Float32s(recs[0].Raw))
	assert.Equal(t, []int8{-1, 0, 127}, Int8s(recs[1].Raw))
	assert.Empty(t, recs[2].Raw)
	assert.Equal(t, 0, recs[2].Elements())
	assert.Equal(t, []int32{-7}, Int32s(recs[3].Raw))
	assert.Equal(t, 1, recs[3].Elements())
	hlen := int(binary.LittleEndian.Uint32(data[12:]))
	assert.Equal(t, 16+hlen+4, recs[0].Offset, "the first record follows the header and the count")
	assert.Equal(t, uint32(3), binary.LittleEndian.Uint32(data[8:]))
	assert.Equal(t, crc32.ChecksumIEEE(data[:len(data)-4]), binary.LittleEndian.Uint32(data[len(data)-4:]))
}

func TestWriteRefusesBadRecords(t *testing.T) {
	cases := []struct {
		name string
		rec  Record
		want string
	}{
		{"unknown tag", Record{Name: "r", Tag: 'q', Shape: []int{1}, Values: []float32{1}}, `record "r": type 'q', want 'f' or 'b'`},
		{"count differs from shape", Record{Name: "r", Tag: 'f', Shape: []int{3}, Values: []float32{1}}, "1 values of 4 bytes for shape [3]"},
		{"size differs from tag", Record{Name: "r", Tag: 'b', Shape: []int{1}, Values: []float32{1}}, "1 values of 4 bytes"},
		{"rank 9", Record{Name: "r", Tag: 'b', Shape: make([]int, 9), Values: []int8{}}, "rank 9 too long"},
		{"negative dimension", Record{Name: "r", Tag: 'b', Shape: []int{-1}, Values: []int8{}}, "does not fit a uint32"},
		{"values of another type", Record{Name: "r", Tag: 'f', Shape: []int{1}, Values: []float64{1}}, "values of type []float64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := testFormat.Write(&b, testHeader{}, []Record{c.rec})
			assert.ErrorContains(t, err, c.want)
			assert.Zero(t, b.Len(), "nothing is written before the records are checked")
		})
	}
}

func TestReadRefusesDamagedFiles(t *testing.T) {
	good := encoded(t, Record{Name: "a.w", Tag: 'f', Shape: []int{2}, Values: []float32{1, 2}})
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	recAt := 16 + hlen + 4
	edit := func(f func(d []byte)) []byte { d := bytes.Clone(good); f(d); return d }
	fix := func(d []byte) []byte {
		binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.ChecksumIEEE(d[:len(d)-4]))
		return d
	}
	cases := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"empty", nil, ErrTruncated, "test: truncated file: the magic number needs 8 bytes at byte offset 0, but the file ends at byte 0"},
		{"other kind", edit(func(d []byte) { copy(d, "OTHERFMT") }), ErrBadMagic, `want "TESTFMT\x00": this is the other kind`},
		{"version", edit(func(d []byte) { d[8] = 9 }), ErrVersion, "unsupported format version 9 (this code reads version 3)"},
		{"header cut", good[:20], ErrTruncated, "the test header needs"},
		{"huge record count", fix(edit(func(d []byte) { binary.LittleEndian.PutUint32(d[16+hlen:], 1<<31) })), ErrTruncated, "record 1 name needs"},
		{"bad tag", fix(edit(func(d []byte) { d[recAt+2+3] = 'x' })), nil, `record "a.w" at byte offset`},
		{"huge dimension", fix(edit(func(d []byte) { binary.LittleEndian.PutUint32(d[recAt+2+3+2:], 1<<31) })), ErrTruncated, `record "a.w" values needs 8589934592 bytes`},
		{"flipped value", edit(func(d []byte) { d[len(d)-6] ^= 1 }), ErrChecksum, "stored CRC-32"},
		{"trailing bytes", append(bytes.Clone(good), 0), nil, "1 unexpected bytes after the checksum"},
		{"unknown header field", fix(edit(func(d []byte) { copy(d[16+2:], "zzzzz") })), nil, "test header at byte offset 16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h testHeader
			_, err := testFormat.Read(c.data, "test", &h)
			require.Error(t, err)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			}
			assert.Contains(t, err.Error(), c.want)
			assert.True(t, strings.HasPrefix(err.Error(), "test: "), "error %q names the file first", err)
		})
	}
	assert.False(t, errors.Is(ErrTruncated, ErrChecksum))
}
