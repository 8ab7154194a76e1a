package ortrun_test

import (
	"context"
	"fmt"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Run a PyTorch-exported MNIST classifier in ONNX Runtime on 8 test images.
func ExampleRun() {
	x, err := npyfile.ReadTensor("../../../shared/onnx/mnist_mlp.input.npy")
	if err != nil {
		fmt.Println(err)
		return
	}
	outs, err := ortrun.Run(context.Background(), "../../../shared/onnx/mnist_mlp.onnx", map[string]*tensor.Tensor{"input": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	logits := outs["logits"]
	fmt.Println(logits.Shape())
	for i := range logits.Dim(0) {
		row := logits.Data()[i*10 : (i+1)*10]
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		fmt.Print(best, " ")
	}
	fmt.Println()
	// Output:
	// [8 10]
	// 7 2 1 0 4 1 4 9
}
