package nn

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ptqspec/ptqspec/internal/memlimit"
	"github.com/ptqspec/ptqspec/internal/modelfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// craftedFile is a tiny, well-formed model file (valid checksum) whose
// header declares something huge.
type craftedFile struct {
	name string
	data []byte
	is   error // the typed error Load must return
}

// craftFile encodes a one-node model file of the given input shape, kind,
// attributes and records.
func craftFile(t testing.TB, input []int, kind string, attrs any, out []int, recs ...modelfile.Record) []byte {
	t.Helper()
	raw, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	h := fileHeader{Input: modelfile.Input{Name: "x", Shape: input}, Nodes: []fileNode{{Name: "n", Kind: kind, Inputs: []string{"x"}, Attrs: raw, Shape: out}}}
	var b bytes.Buffer
	if err := format.Write(&b, h, recs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// craftedFiles are the model files of issue 12 that once ended the process
// (out of memory, makeslice panics) or made it allocate gigabytes, and a
// few like them.
func craftedFiles(t testing.TB) []craftedFile {
	conv := func(pad int) []byte {
		return craftFile(t, []int{1, 2, 2}, "Conv2D",
			Conv2DAttrs{InC: 1, OutC: 1, KH: 1, KW: 1, Stride: 1, Pad: pad, Bias: true}, []int{1, 2 + 2*pad, 2 + 2*pad},
			modelfile.Record{Name: "n.weight", Tag: tagParam, Shape: []int{1, 1, 1, 1}, Values: []float32{1}},
			modelfile.Record{Name: "n.bias", Tag: tagParam, Shape: []int{1}, Values: []float32{0}})
	}
	linear := func(in, out int) []byte {
		return craftFile(t, []int{in}, "Linear", LinearAttrs{In: in, Out: out, Bias: true}, []int{out})
	}
	return []craftedFile{
		{"Linear 2^20 x 2^20", linear(1<<20, 1<<20), tensor.ErrTooLarge},
		{"Linear 2^14 x 2^14", linear(1<<14, 1<<14), tensor.ErrTooLarge},
		{"Linear in 2^62", linear(1<<62, 2), tensor.ErrTooLarge},
		{"Linear in 2^62 out 2^62", linear(1<<62, 1<<62), tensor.ErrTooLarge},
		{"Conv2D pad 2^14", conv(1 << 14), ErrLayerConfig},
		{"Conv2D pad 2^16", conv(1 << 16), ErrLayerConfig},
		{"Conv2D pad 2^30", conv(1 << 30), ErrLayerConfig},
		{"Conv2D 3x3 on a 2^15 x 2^15 input", craftFile(t, []int{1, 1 << 15, 1 << 15}, "Conv2D",
			Conv2DAttrs{InC: 1, OutC: 1, KH: 3, KW: 3, Stride: 1, Pad: 1}, []int{1, 1 << 15, 1 << 15},
			modelfile.Record{Name: "n.weight", Tag: tagParam, Shape: []int{1, 1, 3, 3}, Values: make([]float32, 9)}), tensor.ErrTooLarge},
		{"Conv2D 2^13 channels 3x3 on 128x128 (im2col 9x2^27)", craftFile(t, []int{1 << 13, 128, 128}, "Conv2D",
			Conv2DAttrs{InC: 1 << 13, OutC: 1, KH: 3, KW: 3, Stride: 1, Pad: 1}, []int{1, 128, 128},
			modelfile.Record{Name: "n.weight", Tag: tagParam, Shape: []int{1, 1 << 13, 3, 3}, Values: make([]float32, 9<<13)}), tensor.ErrTooLarge},
		{"BatchNorm2D 2^40 channels", craftFile(t, []int{1, 1, 1}, "BatchNorm2D", BatchNorm2DAttrs{C: 1 << 40, Eps: 1e-5, Momentum: 0.1}, []int{1, 1, 1}), tensor.ErrTooLarge},
		{"input of 2^62 x 4", craftFile(t, []int{1 << 62, 4}, "ReLU", nil, []int{1 << 62, 4}), tensor.ErrTooLarge},
	}
}

// TestLoadCraftedFilesUnderMemoryLimit loads each crafted file in a child
// process limited to 1 GiB (soft heap limit and, without -race, a hard
// RLIMIT_AS): each must fail with its typed error within a second,
// allocating no more than 64 MiB beyond the file's size.
func TestLoadCraftedFilesUnderMemoryLimit(t *testing.T) {
	var cases []memlimit.Case
	for _, f := range craftedFiles(t) {
		cases = append(cases, memlimit.Case{Name: f.name, Is: f.is, Input: func() []byte { return f.data },
			Load: func(data []byte) error { _, err := Load(bytes.NewReader(data)); return err }})
	}
	memlimit.Test(t, "TestLoadCraftedFilesUnderMemoryLimit", 1<<30, cases)
}
