package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// tUnregistered is Serializable, but no constructor is registered for it.
type tUnregistered struct{ tOpaque }

func (l *tUnregistered) Kind() string { return "TUnregistered" }
func (l *tUnregistered) Attrs() any   { return map[string]int{"answer": 42} }

// trainedDiamond returns a diamond graph after one training step, so its
// counter buffer is non-zero.
func trainedDiamond(t *testing.T) *Graph {
	t.Helper()
	g := diamond(t, 90)
	x := randTensor(testRNG(91), 6, 4)
	if _, err := Fit(g, x, []int{0, 1, 2, 0, 1, 2}, TrainConfig{Epochs: 1, BatchSize: 3, Optimizer: NewSGD(0.1, 0)}); err != nil {
		t.Fatal(err)
	}
	return g
}

func saved(t *testing.T, g *Graph) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Save(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rechecksum replaces the trailing CRC-32 of an edited file.
func rechecksum(data []byte) []byte {
	data = slices.Clone(data)
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.ChecksumIEEE(data[:len(data)-4]))
	return data
}

func TestSaveLoadRoundTrip(t *testing.T) {
	g := trainedDiamond(t)
	data := saved(t, g)
	loaded, err := Load(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, g.Summary(), loaded.Summary())
	for _, pair := range [][2][]*Param{{g.Params(), loaded.Params()}, {g.Buffers(), loaded.Buffers()}} {
		want, got := pair[0], pair[1]
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, want[i].Name, got[i].Name)
			assert.Equal(t, want[i].Value.Data(), got[i].Value.Data(), "tensor %q after load", want[i].Name)
		}
	}
	assert.Equal(t, float32(6), loaded.Buffers()[0].Value.Data()[0], "counter buffer after load")
	x := randTensor(testRNG(92), 4, 4)
	a, err := g.Forward(x, Eval)
	require.NoError(t, err)
	b, err := loaded.Forward(x, Eval)
	require.NoError(t, err)
	assert.Equal(t, a.Data(), b.Data(), "bit-identical outputs")
	assert.Equal(t, data, saved(t, loaded), "saving the loaded graph gives the same bytes")
}

func TestSaveLayout(t *testing.T) {
	data := saved(t, trainedDiamond(t))
	le := binary.LittleEndian
	if string(data[:8]) != "PTQSPEC\x00" {
		t.Errorf("magic %q", data[:8])
	}
	if v := le.Uint32(data[8:]); v != 1 {
		t.Errorf("version %d, want 1", v)
	}
	h := int(le.Uint32(data[12:]))
	header := string(data[16 : 16+h])
	for _, want := range []string{`"input":{"name":"x","shape":[4]}`, `"name":"fc2b","kind":"TDense","inputs":["tanh1"],"attrs":{"In":6,"Out":5},"shape":[5]`} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %s:\n%s", want, header)
		}
	}
	if n := le.Uint32(data[16+h:]); n != 9 {
		t.Errorf("tensor count %d, want 9 (8 params, 1 buffer)", n)
	}
	off := 20 + h
	if l := int(le.Uint16(data[off:])); string(data[off+2:off+2+l]) != "fc1.weight" || data[off+2+l] != 'P' || data[off+3+l] != 2 {
		t.Errorf("first tensor record starts %q", data[off:off+16])
	}
	if got, want := le.Uint32(data[len(data)-4:]), crc32.ChecksumIEEE(data[:len(data)-4]); got != want {
		t.Errorf("stored CRC %08x, want %08x", got, want)
	}
}

// loadErrCase is a file Load must refuse with an error prefixed "nn: load: "
// that contains want and, when is is set, matches it with errors.Is.
type loadErrCase struct {
	name string
	data []byte
	is   error
	want string
}

// checkLoadErrors loads each case's file in a subtest.
func checkLoadErrors(t *testing.T, cases []loadErrCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(c.data))
			checkErrPrefixed(t, err, c.is, "nn: load: ", c.want)
		})
	}
}

func TestLoadCorruptFiles(t *testing.T) {
	good := saved(t, trainedDiamond(t))
	h := int(binary.LittleEndian.Uint32(good[12:]))
	edit := func(f func(d []byte) []byte) []byte { return f(slices.Clone(good)) }
	cases := []loadErrCase{
		{"empty file", nil, ErrTruncated, "the magic number needs 8 bytes at byte offset 0, but the file ends at byte 0"},
		{"bad magic", edit(func(d []byte) []byte { copy(d, "GGUF"); return d }), ErrBadMagic, `file starts with "GGUFPEC\x00", want "PTQSPEC\x00"`},
		{"unknown version", edit(func(d []byte) []byte { d[8] = 2; return d }), ErrVersion, "unsupported format version 2 (this code reads version 1)"},
		{"flipped weight bit", edit(func(d []byte) []byte { d[len(d)-40] ^= 1; return d }), ErrChecksum, "stored CRC-32"},
		{"flipped header byte", edit(func(d []byte) []byte { d[20] ^= 0x20; return d }), ErrChecksum, "contents hash to"},
		{"flipped checksum", edit(func(d []byte) []byte { d[len(d)-1] ^= 0xff; return d }), ErrChecksum, "checksum mismatch"},
		{"cut in version", good[:10], ErrTruncated, "the format version needs 4 bytes at byte offset 8, but the file ends at byte 10"},
		{"cut in header", good[:16+h/2], ErrTruncated, "the architecture header needs"},
		{"cut before tensor count", good[:16+h], ErrTruncated, "the tensor count needs 4 bytes"},
		{"cut in first name", good[:16+h+7], ErrTruncated, "tensor 0 name needs 10 bytes at byte offset"},
		{"cut in first values", good[:16+h+40], ErrTruncated, `tensor "fc1.weight" values needs 96 bytes`},
		{"cut in last values", good[:len(good)-5], ErrTruncated, `tensor "fc3.bias" values needs 12 bytes`},
		{"cut in checksum", good[:len(good)-1], ErrTruncated, "the CRC-32 checksum needs 4 bytes at byte offset"},
		{"missing checksum", good[:len(good)-4], ErrTruncated, "the CRC-32 checksum needs 4 bytes"},
		{"trailing bytes", append(slices.Clone(good), 0, 0), nil, "2 unexpected bytes after the checksum"},
		{"bad role", edit(func(d []byte) []byte { d[16+h+4+2+10] = 'X'; return d }), nil, `tensor "fc1.weight" at byte offset`},
		{"rank too large", edit(func(d []byte) []byte { d[16+h+4+2+10+1] = 9; return d }), nil, "rank 9 exceeds 8"},
		{"huge dimension", edit(func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[16+h+4+2+10+2:], math.MaxUint32)
			return d
		}), ErrTruncated, `tensor "fc1.weight" values needs`},
		{"invalid header JSON", rechecksum(edit(func(d []byte) []byte { d[16] = '['; return d })), nil, "architecture header at byte offset 16"},
	}
	checkLoadErrors(t, cases)
}

// TestLoadArchitectureMismatch writes internally consistent files (valid
// checksum) whose contents disagree with the architecture.
func TestLoadArchitectureMismatch(t *testing.T) {
	g := trainedDiamond(t)
	craft := func(f func(h *fileHeader, ts []modelfile.Record) []modelfile.Record) []byte {
		h, ts, err := contents(g.Clone())
		if err != nil {
			t.Fatal(err)
		}
		ts = f(&h, ts)
		var b bytes.Buffer
		if err := format.Write(&b, h, ts); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	cases := []loadErrCase{
		{"unknown kind", saved(t, mustBuild(t, NewBuilder("x", 3).Add("mystery", &tUnregistered{}))), ErrUnknownKind,
			`node "mystery": unknown layer kind "TUnregistered" (registered: [`},
		{"param shape", craft(func(_ *fileHeader, ts []modelfile.Record) []modelfile.Record {
			ts[0].Shape = []int{4, 6}
			return ts
		}), ErrParamShape, `node "fc1" (TDense): parameter does not match the architecture: "fc1.weight" has shape [4 6] in the file, the architecture wants [6 4]`},
		{"attrs break the next node", craft(func(h *fileHeader, ts []modelfile.Record) []modelfile.Record {
			h.Nodes[0].Attrs = []byte(`{"In":4,"Out":7}`)
			return ts
		}), nil, `node "fc2a" (TDense): input shapes [[7]]: TDense: want one input of shape [6]`},
		{"renamed tensor", craft(func(_ *fileHeader, ts []modelfile.Record) []modelfile.Record {
			ts[1].Name = "fc1.offset"
			return ts
		}), ErrParamShape, `file holds "fc1.offset" where "fc1.bias" belongs`},
		{"buffer stored as parameter", craft(func(_ *fileHeader, ts []modelfile.Record) []modelfile.Record {
			ts[6].Tag = tagParam
			return ts
		}), ErrParamShape, `"counter.seen" stored as parameter, the layer has a buffer`},
		{"missing tensor", craft(func(_ *fileHeader, ts []modelfile.Record) []modelfile.Record { return ts[:len(ts)-1] }), ErrParamShape,
			`node "fc3" (TDense): parameter does not match the architecture: "fc3.bias" is missing from the file`},
		{"extra tensor", craft(func(_ *fileHeader, ts []modelfile.Record) []modelfile.Record {
			return append(ts, modelfile.Record{Name: "fc3.extra", Tag: tagParam, Shape: []int{1}, Values: []float32{0}})
		}), ErrParamShape, `file holds 10 tensors, the architecture 9 (first extra: "fc3.extra")`},
		{"header shape disagrees", craft(func(h *fileHeader, ts []modelfile.Record) []modelfile.Record {
			h.Nodes[2].Shape = []int{7}
			return ts
		}), nil, `node "fc2a" (TDense): header says output shape [7], the layer infers [5]`},
		{"bad attrs", craft(func(h *fileHeader, ts []modelfile.Record) []modelfile.Record {
			h.Nodes[0].Attrs = []byte(`{"In":0,"Out":6}`)
			return ts
		}), nil, `node "fc1" (TDense): attributes {"In":0,"Out":6}: TDense: sizes 0, 6 must be positive`},
		{"unknown input", craft(func(h *fileHeader, ts []modelfile.Record) []modelfile.Record {
			h.Nodes[1].Inputs = []string{"ghost"}
			return ts
		}), ErrUnknownInput, `node "tanh1" (TTanh): unknown input "ghost"`},
	}
	checkLoadErrors(t, cases)
}

func mustBuild(t *testing.T, b *Builder) *Graph {
	t.Helper()
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSaveNotSerializable(t *testing.T) {
	g := mustBuild(t, NewBuilder("x", 3).Add("fc", newTDense(3, 3, nil)).Add("opaque", &tOpaque{}))
	var b bytes.Buffer
	err := Save(&b, g)
	if !errors.Is(err, ErrNotSerializable) || !strings.Contains(err.Error(), `nn: save: node "opaque" (TOpaque): layer is not serializable`) {
		t.Errorf("error %v, want ErrNotSerializable naming node opaque", err)
	}
	if b.Len() != 0 {
		t.Errorf("Save wrote %d bytes before failing", b.Len())
	}
}

func TestSaveFileLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.ptq")
	g := trainedDiamond(t)
	if err := SaveFile(path, g); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.NumParams() != g.NumParams() {
		t.Errorf("loaded %d params, want %d", loaded.NumParams(), g.NumParams())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after SaveFile, want just the model", len(entries))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.ptq")
	if err := os.WriteFile(corrupt, data[:30], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"missing file", func() error { _, err := LoadFile(filepath.Join(dir, "none.ptq")); return err }, "none.ptq: no such file"},
		{"truncated file", func() error { _, err := LoadFile(corrupt); return err }, "nn: load " + corrupt + ": truncated file"},
		{"missing directory", func() error { return SaveFile(filepath.Join(dir, "no", "m.ptq"), g) }, "nn: save " + filepath.Join(dir, "no", "m.ptq")},
		{"not serializable", func() error {
			return SaveFile(filepath.Join(dir, "o.ptq"), mustBuild(t, NewBuilder("x", 3).Add("opaque", &tOpaque{})))
		}, `nn: save ` + filepath.Join(dir, "o.ptq") + `: node "opaque" (TOpaque): layer is not serializable`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "o.ptq")); !os.IsNotExist(err) {
		t.Error("a failed SaveFile left a file behind")
	}
}

// The per-tensor loop must cope with a graph whose layers hold nothing.
func TestSaveLoadParameterless(t *testing.T) {
	g := mustBuild(t, NewBuilder("in", 2, 3).Add("t", &tTanh{}))
	loaded, err := Load(bytes.NewReader(saved(t, g)))
	require.NoError(t, err)
	x := tensor.MustFromData([]float32{-1, 0, 1, 2, 3, 4}, 1, 2, 3)
	out, err := loaded.Forward(x, Eval)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, out.Shape())
	assert.Equal(t, "in", loaded.InputName())
}
