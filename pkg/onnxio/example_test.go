package onnxio_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
)

// Export an nn graph to ONNX and import it back.
func ExampleExport() {
	g, err := models.MLP(1, 32)
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	if err := onnxio.Export(&buf, g); err != nil {
		fmt.Println(err)
		return
	}
	back, err := onnxio.Import(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range back.Nodes() {
		fmt.Println(n.Name, n.Layer.Kind(), n.Shape)
	}
	// Output:
	// flatten1 Flatten [784]
	// linear1 Linear [32]
	// relu1 ReLU [32]
	// linear2 Linear [10]
}

// An operator the importer does not map fails with an *UnsupportedError
// naming the node.
func ExampleUnsupportedError() {
	_, err := onnxio.ImportFile(fixture("unsupported_sigmoid.onnx"))
	var ue *onnxio.UnsupportedError
	if errors.As(err, &ue) {
		fmt.Printf("node %s, op %s, opset %d: %s\n", ue.Node, ue.OpType, ue.Opset, ue.What)
	}
	// Output:
	// node /Sigmoid, op Sigmoid, opset 13: operator Sigmoid
}

// fixture returns the path of a shared ONNX fixture: in
// $PTQSPEC_ONNX_FIXTURES, or in shared/onnx above the working folder.
func fixture(name string) string {
	if d := os.Getenv("PTQSPEC_ONNX_FIXTURES"); d != "" {
		return filepath.Join(d, name)
	}
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, "shared", "onnx", name)
		if _, err := os.Stat(p); err == nil || filepath.Dir(dir) == dir {
			return p
		}
		dir = filepath.Dir(dir)
	}
}
