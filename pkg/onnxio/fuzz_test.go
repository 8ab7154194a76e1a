package onnxio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// FuzzImport feeds mutated ONNX files to Import with a small element limit.
// Import must return a graph or an error, never panic; an imported graph
// must export and import again, and run on one sample when it is small.
// The seed corpus is the fixtures (but the 400 kB MLP) and small models
// built here; `go test` runs the seeds.
func FuzzImport(f *testing.F) {
	dir := fixtureDir(f)
	for _, name := range []string{"mnist_lenet_bn", "mnist_tiny_resnet", "unsupported_sigmoid"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".onnx"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	relu := nd("Relu", "r", []string{"x"}, []string{"y"})
	f.Add(testModel{input: []int64{4}, nodes: []*onnxpb.NodeProto{relu}}.bytes(f))
	f.Add(linearModel(rawFloat("w", ramp(12, 0.1, -0.5), 3, 4)).bytes(f))
	f.Add(convModel(attrIs("pads", 1, 1, 1, 1), attrIs("strides", 2, 2)).bytes(f))
	f.Add(testModel{input: []int64{1, 4, 4}, inits: []*onnxpb.TensorProto{int64Init("s", []int64{0, -1}, 2)},
		nodes: []*onnxpb.NodeProto{nd("MaxPool", "mp", []string{"x"}, []string{"m"}, attrIs("kernel_shape", 2, 2), attrIs("strides", 2, 2)),
			nd("Reshape", "rs", []string{"m", "s"}, []string{"y"})}}.bytes(f))
	var exported bytes.Buffer
	if g, err := Import(bytes.NewReader(convModel().bytes(f))); err == nil {
		if err := Export(&exported, g); err == nil {
			f.Add(exported.Bytes())
		}
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
