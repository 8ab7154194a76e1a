package onnxio

import (
	"bytes"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// FuzzImport feeds mutated ONNX files to Import with a small element limit.
// Import must return a graph or an error, never panic; an imported graph
// must export and import again, and run on one sample when it is small.
// The seed corpus is small models built here that cover every supported
// operator (the fixtures are too large: minimizing a 100 kB input stalls
// the fuzzer); `go test` runs the seeds.
func FuzzImport(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Import(bytes.NewReader(data), WithMaxElements(1<<14))
		if err != nil {
			if g != nil {
				t.Fatalf("graph and error %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Export(&buf, g); err != nil {
			t.Fatalf("imported graph does not export: %v", err)
		}
		if _, err := Import(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("exported graph does not import: %v", err)
		}
		in := 1
		for _, d := range g.InputShape() {
			in *= d
		}
		if in <= 1<<12 && g.NumParams() <= 1<<12 {
			_, _ = g.Forward(randomInput(1, 1, g.InputShape()), nn.Eval)
		}
	})
}

// fuzzSeeds returns small valid models covering the supported operators.
func fuzzSeeds(f testing.TB) [][]byte {
	relu := nd("Relu", "r", []string{"x"}, []string{"y"})
	seeds := [][]byte{
		testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{relu}}.bytes(f),
		linearModel(rawFloat("w", ramp(12, 0.1, -0.5), 3, 4)).bytes(f),
		convModel(attrIs("pads", 1, 1, 1, 1), attrIs("strides", 2, 2)).bytes(f),
		testModel{input: []int64{1, 4, 4}, inits: []*onnxpb.TensorProto{int64Init("s", []int64{0, -1}, 2)},
			nodes: []*onnxpb.NodeProto{nd("MaxPool", "mp", []string{"x"}, []string{"m"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2)),
				nd("Reshape", "rs", []string{"m", "s"}, []string{"y"})}}.bytes(f),
		shapeSubgraphModel().bytes(f),
		testModel{input: []int64{1, 5, 5}, inits: []*onnxpb.TensorProto{int64Init("p", []int64{0, 0, 1, 0, 0, 0, 0, 2}, 8)},
			nodes: []*onnxpb.NodeProto{nd("Pad", "pad", []string{"x", "p"}, []string{"xp"}),
				nd("AveragePool", "ap", []string{"xp"}, []string{"y"}, attrIs("kernel_shape", 2, 2), attrIs("pads", 1, 1, 1, 1), attrI("count_include_pad", 1))}}.bytes(f),
		globalPoolModel().bytes(f),
	}
	g, err := models.ResidualCNN(1, 1, 4, 4, 3)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(&buf, g); err != nil {
		f.Fatal(err)
	}
	return append(seeds, buf.Bytes())
}
