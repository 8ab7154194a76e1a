package nn_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// A residual connection adds a skip path to a block's output.
func ExampleAdd() {
	x := tensor.MustFromData([]float32{1, 2}, 1, 2)
	residual := tensor.MustFromData([]float32{0.5, -2}, 1, 2)
	y, err := nn.NewAdd().Forward([]*tensor.Tensor{x, residual}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Data())
	// Output: [1.5 0]
}

// GlobalAvgPool averages each channel's plane to one value.
func ExampleGlobalAvgPool() {
	x := tensor.MustFromData([]float32{1, 2, 3, 6, -1, -1, -1, -1}, 1, 2, 2, 2)
	y, err := nn.NewGlobalAvgPool().Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Data())
	// Output: [1 2] [3 -1]
}

// A Train-mode pass normalizes with the batch's statistics and moves the
// running ones by Momentum (0.1).
func ExampleBatchNorm2D() {
	l := nn.NewBatchNorm2D(1)
	x := tensor.MustFromData([]float32{1, 3, 5, 7}, 4, 1, 1, 1)
	y, err := l.Forward([]*tensor.Tensor{x}, nn.Train) // mean 4, variance 5 (unbiased 20/3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.3f\n", y.Data())
	fmt.Printf("running mean %.2f, running var %.4f\n", l.RunningMean.Value.Data()[0], l.RunningVar.Value.Data()[0])
	// Output:
	// [-1.342 -0.447 0.447 1.342]
	// running mean 0.40, running var 1.5667
}

// A 2×2 kernel of ones sums each 2×2 window of a 3×3 image.
func ExampleConv2D() {
	l := nn.NewConv2D(1, 1, 2, 1, 0, nil)
	l.Weight.Value.Fill(1)
	x := tensor.MustFromData([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	y, err := l.Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Data())
	// Output: [1 1 2 2] [12 16 24 28]
}

// Padding must stay smaller than the kernel: a model whose Conv2D pads a
// 1×1 kernel by 16384 is refused when the graph is built, not when its
// first Forward would need gigabytes.
func ExampleConv2D_paddingBound() {
	conv := &nn.Conv2D{InC: 1, OutC: 1, KH: 1, KW: 1, Stride: 1, Pad: 16384,
		Weight: &nn.Param{Name: "weight", Value: tensor.New(1, 1, 1, 1)}}
	_, err := nn.NewBuilder("x", 1, 2, 2).Add("conv", conv).Build()
	fmt.Println(err)
	// Output: nn: node "conv" (Conv2D): input shapes [[1 2 2]]: Conv2D: pad 16384 with a 1x1 kernel: padding must be smaller than the kernel (a window of padding only)
}

// Linear computes x·Wᵀ + b for every sample of the batch.
func ExampleLinear() {
	l := nn.NewLinear(2, 1, nil)
	copy(l.Weight.Value.Data(), []float32{3, -1})
	l.Bias.Value.Data()[0] = 0.5
	x := tensor.MustFromData([]float32{1, 2, 0, 1}, 2, 2) // two samples
	y, err := l.Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Data())
	// Output: [2 1] [1.5 -0.5]
}

// A 2×2 window with stride 2 keeps the largest value of each quarter.
func ExampleMaxPool2D() {
	x := tensor.MustFromData([]float32{
		1, 5, 2, 0,
		3, 4, 8, 1,
		0, 0, 1, 1,
		-1, 2, 1, 7,
	}, 1, 1, 4, 4)
	y, err := nn.NewMaxPool2D(2, 2).Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Data())
	// Output: [1 1 2 2] [5 8 2 7]
}

// Softmax gives probabilities, LogSoftmax their logarithms.
func ExampleSoftmax() {
	x := tensor.MustFromData([]float32{1, 2, 3}, 1, 3)
	p, err := nn.NewSoftmax().Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	lp, err := nn.NewLogSoftmax().Forward([]*tensor.Tensor{x}, nn.Eval)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f\n%.4f\n", p.Data(), lp.Data())
	// Output:
	// [0.0900 0.2447 0.6652]
	// [-2.4076 -1.4076 -0.4076]
}

// A 186-byte file, written by hand in the layout Save documents, declares
// a Linear layer of 2^40 weights. Load refuses it before it allocates
// anything: the file holds none of those weights.
func ExampleLoad_hugeLayer() {
	header := []byte(`{"input":{"name":"x","shape":[1048576]},"nodes":[{"name":"fc","kind":"Linear","inputs":["x"],` +
		`"attrs":{"in":1048576,"out":1048576,"bias":true},"shape":[1048576]}]}`)
	le := binary.LittleEndian
	file := append([]byte("PTQSPEC\x00"), 1, 0, 0, 0) // magic, version 1
	file = le.AppendUint32(file, uint32(len(header)))
	file = append(file, header...)
	file = le.AppendUint32(file, 0) // no tensor records
	file = le.AppendUint32(file, crc32.ChecksumIEEE(file))
	_, err := nn.Load(bytes.NewReader(file))
	fmt.Println(len(file), "bytes:", errors.Is(err, tensor.ErrTooLarge), errors.Is(err, nn.ErrParamShape))
	// Output: 186 bytes: true true
}
