package onnx_test

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
)

// The ONNX QuantizeLinear example: ties round half to even (3/2 = 1.5 → 2)
// and results saturate to uint8.
func ExampleQuantizeLinear() {
	x := onnx.Tensor[float32]{Shape: []int{6}, Data: []float32{0, 2, 3, 1000, -254, -1000}}
	scale := onnx.Tensor[float32]{Shape: []int{}, Data: []float32{2}}
	zeroPoint := onnx.Tensor[uint8]{Shape: []int{}, Data: []uint8{128}}
	y, err := onnx.QuantizeLinear(x, scale, zeroPoint, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape, y.Data)
	// Output: [6] [128 129 130 255 1 0]
}

// Per-axis quantization: one scale and zero point per row (axis 0).
func ExampleQuantizeLinear_perAxis() {
	w := onnx.Tensor[float32]{Shape: []int{2, 3}, Data: []float32{0.5, -0.25, 1, 10, -20, 5}}
	scales := onnx.Tensor[float32]{Shape: []int{2}, Data: []float32{1.0 / 127, 20.0 / 127}}
	q, err := onnx.QuantizeLinear(w, scales, onnx.Tensor[int8]{}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.Data)
	// Output: [64 -32 127 64 -127 32]
}

// The ONNX QLinearMatMul example (2-D, uint8).
func ExampleQLinearMatMul() {
	a := onnx.Tensor[uint8]{Shape: []int{2, 4}, Data: []uint8{208, 236, 0, 238, 3, 214, 255, 29}}
	b := onnx.Tensor[uint8]{Shape: []int{4, 3}, Data: []uint8{152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247}}
	f := func(v float32) onnx.Tensor[float32] { return onnx.Tensor[float32]{Shape: []int{1}, Data: []float32{v}} }
	z := func(v uint8) onnx.Tensor[uint8] { return onnx.Tensor[uint8]{Shape: []int{1}, Data: []uint8{v}} }
	y, err := onnx.QLinearMatMul(a, f(0.0066), z(113), b, f(0.00705), z(114), f(0.0107), z(118))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape, y.Data)
	// Output: [2 3] [168 115 255 1 66 151]
}

// Mismatched shapes are errors that name the operator and both shapes.
func ExampleQLinearMatMul_error() {
	a := onnx.Tensor[int8]{Shape: []int{2, 3}, Data: make([]int8, 6)}
	b := onnx.Tensor[int8]{Shape: []int{4, 2}, Data: make([]int8, 8)}
	one := onnx.Tensor[float32]{Data: []float32{1}}
	_, err := onnx.QLinearMatMul(a, one, onnx.Tensor[int8]{}, b, one, onnx.Tensor[int8]{}, one, onnx.Tensor[int8]{})
	fmt.Println(err)
	// Output: onnx: QLinearMatMul: shape mismatch: a [2 3] and b [4 2]: inner dimensions 3 and 4 differ
}

// The ONNX DynamicQuantizeLinear example.
func ExampleDynamicQuantizeLinear() {
	x := onnx.Tensor[float32]{Shape: []int{6}, Data: []float32{0, 2, -3, -2.5, 1.34, 0.5}}
	y, scale, zeroPoint, err := onnx.DynamicQuantizeLinear(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Data, scale, zeroPoint)
	// Output: [153 255 0 26 221 179] 0.019607844 153
}

// The ONNX ConvInteger example with padding.
func ExampleConvInteger() {
	x := onnx.Tensor[uint8]{Shape: []int{1, 1, 3, 3}, Data: []uint8{2, 3, 4, 5, 6, 7, 8, 9, 10}}
	w := onnx.Tensor[uint8]{Shape: []int{1, 1, 2, 2}, Data: []uint8{1, 1, 1, 1}}
	xZero := onnx.Tensor[uint8]{Data: []uint8{1}}
	y, err := onnx.ConvInteger(x, w, xZero, onnx.Tensor[uint8]{}, onnx.ConvAttrs{Pads: []int{1, 1, 1, 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape, y.Data)
	// Output: [1 1 4 4] [1 3 5 3 5 12 16 9 11 24 28 15 7 15 17 9]
}

// A 2-D QLinearConv with per-output-channel weight scales and an int32 bias.
func ExampleQLinearConv() {
	x := onnx.Tensor[uint8]{Shape: []int{1, 1, 2, 2}, Data: []uint8{10, 20, 30, 40}}
	w := onnx.Tensor[int8]{Shape: []int{2, 1, 1, 1}, Data: []int8{1, -1}}
	scalar := func(v float32) onnx.Tensor[float32] { return onnx.Tensor[float32]{Data: []float32{v}} }
	wScale := onnx.Tensor[float32]{Shape: []int{2}, Data: []float32{0.5, 0.25}}
	bias := onnx.Tensor[int32]{Shape: []int{2}, Data: []int32{4, 0}}
	y, err := onnx.QLinearConv(x, scalar(1), onnx.Tensor[uint8]{}, w, wScale, onnx.Tensor[int8]{},
		scalar(1), onnx.Tensor[uint8]{Data: []uint8{128}}, bias, onnx.ConvAttrs{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape, y.Data)
	// Output: [1 2 2 2] [135 140 145 150 126 123 120 118]
}
