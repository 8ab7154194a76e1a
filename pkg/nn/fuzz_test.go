package nn

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// fuzzMaxElements bounds every per-sample tensor while fuzzing, so that a
// file that loads runs one Forward quickly.
const fuzzMaxElements = 1 << 16

// fuzzSeedGraphs are small models of every built-in kind with parameters:
// an MLP and a CNN (Conv2D, BatchNorm2D, ReLU, MaxPool2D, AvgPool2D,
// residual Add, GlobalAvgPool, Flatten, Linear, Dropout, Softmax).
func fuzzSeedGraphs(t testing.TB) []*Graph {
	rng := rand.New(rand.NewPCG(1, 2))
	mlp, err := Sequential([]int{6}, NewLinear(6, 5, rng), NewReLU(), NewDropout(0.5, 3), NewLinear(5, 3, rng), NewLogSoftmax())
	if err != nil {
		t.Fatal(err)
	}
	cnn, err := NewBuilder("x", 1, 6, 6).
		Add("conv", NewConv2D(1, 2, 3, 1, 1, rng)).
		Add("bn", NewBatchNorm2D(2)).
		Add("relu", NewReLU()).
		Add("conv2", NewConv2D(2, 2, 1, 1, 0, rng)).
		Add("add", NewAdd(), "relu", "conv2").
		Add("pool", NewMaxPool2D(2, 2)).
		Add("avg", NewAvgPool2D(1, 1)).
		Add("gap", NewGlobalAvgPool()).
		Add("flat", NewFlatten()).
		Add("fc", NewLinear(2, 3, rng)).
		Add("id", NewIdentity()).
		Add("soft", NewSoftmax()).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return []*Graph{mlp, cnn}
}

// fuzzLoaded checks a graph Load accepted: it saves, loads back, and runs
// one sample in Eval mode without panicking.
func fuzzLoaded(t *testing.T, g *Graph) {
	var b bytes.Buffer
	if err := Save(&b, g); err != nil {
		// A layer may hold a non-finite value the file gave it.
		return
	}
	if _, err := Load(bytes.NewReader(b.Bytes())); err != nil {
		t.Fatalf("a loaded graph saved again does not load: %v", err)
	}
	x := tensor.New(append([]int{1}, g.InputShape()...)...)
	_, _ = g.Forward(x, Eval)
}

// FuzzLoad feeds mutated model files to Load: it must return a graph or an
// error, never panic or allocate without bound, and a graph it returns
// must survive Save, Load and one Forward.
func FuzzLoad(f *testing.F) {
	old := tensor.SetMaxElements(fuzzMaxElements)
	f.Cleanup(func() { tensor.SetMaxElements(old) })
	for _, g := range fuzzSeedGraphs(f) {
		var b bytes.Buffer
		if err := Save(&b, g); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	for _, c := range craftedFiles(f) {
		f.Add(c.data)
	}
	f.Add([]byte("PTQSPEC\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		fuzzLoaded(t, g)
	})
}

// FuzzLoadHeader mutates only the JSON architecture header of a valid
// file, keeping its tensor records and repairing the checksum, so that
// the fuzzer spends its time past the CRC, in the layer constructors,
// the shape checks and the graph builder.
func FuzzLoadHeader(f *testing.F) {
	old := tensor.SetMaxElements(fuzzMaxElements)
	f.Cleanup(func() { tensor.SetMaxElements(old) })
	var files [][]byte
	for _, g := range fuzzSeedGraphs(f) {
		var b bytes.Buffer
		if err := Save(&b, g); err != nil {
			f.Fatal(err)
		}
		data := b.Bytes()
		files = append(files, data)
		hlen := binary.LittleEndian.Uint32(data[12:])
		f.Add(uint8(len(files)-1), data[16:16+hlen])
	}
	f.Add(uint8(0), []byte(`{"input":{"name":"x","shape":[1048576]},"nodes":[{"name":"n","kind":"Linear","inputs":["x"],"attrs":{"in":1048576,"out":1048576,"bias":true},"shape":[1048576]}]}`))
	f.Add(uint8(1), []byte(`{"input":{"name":"x","shape":[1,2,2]},"nodes":[{"name":"n","kind":"Conv2D","inputs":["x"],"attrs":{"in_channels":1,"out_channels":1,"kernel_h":1,"kernel_w":1,"stride":1,"pad":16384,"bias":true},"shape":[1,32770,32770]}]}`))
	f.Fuzz(func(t *testing.T, which uint8, header []byte) {
		g, err := Load(bytes.NewReader(withHeader(files[int(which)%len(files)], header)))
		if err != nil {
			return
		}
		fuzzLoaded(t, g)
	})
}

// withHeader returns a model file with file's records under another
// header, and a checksum that matches.
func withHeader(file, header []byte) []byte {
	hlen := binary.LittleEndian.Uint32(file[12:])
	out := make([]byte, 0, len(file)+len(header))
	out = append(out, file[:12]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(header)))
	out = append(out, header...)
	out = append(out, file[16+hlen:len(file)-4]...)
	return binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
}
