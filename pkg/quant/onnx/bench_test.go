package onnx

import (
	"math/rand/v2"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// The operators beside the kernels they wrap and a float32 baseline on the
// same shapes, so that the wrapper overhead (validation, broadcasting,
// im2col, requantization) and the int8/fp32 ratio read from one run:
//
//	go test -run '^$' -bench . -benchtime 20x ./pkg/quant/onnx

var (
	sinkU8  []uint8
	sinkI32 []int32
	sinkF32 []float32
)

func benchRandU8(r *rand.Rand, shape ...int) Tensor[uint8] {
	n, _ := numel(shape)
	t := Tensor[uint8]{Shape: shape, Data: make([]uint8, n)}
	for i := range t.Data {
		t.Data[i] = uint8(r.IntN(256))
	}
	return t
}

func benchRandI8(r *rand.Rand, shape ...int) Tensor[int8] {
	n, _ := numel(shape)
	t := Tensor[int8]{Shape: shape, Data: make([]int8, n)}
	for i := range t.Data {
		t.Data[i] = int8(r.IntN(256))
	}
	return t
}

func benchRandF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// benchQLinearMatMul: uint8 activations (m×k) × int8 per-column weights (k×n).
func benchQLinearMatMul(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, w := benchRandU8(r, m, k), benchRandI8(r, k, n)
	ws := Tensor[float32]{Shape: []int{n}, Data: make([]float32, n)}
	for i := range ws.Data {
		ws.Data[i] = 0.01
	}
	one := Tensor[float32]{Data: []float32{0.02}}
	zp := Tensor[uint8]{Data: []uint8{128}}
	var y Tensor[uint8]
	for b.Loop() {
		var err error
		if y, err = QLinearMatMul(a, one, zp, w, ws, Tensor[int8]{}, one, zp); err != nil {
			b.Fatal(err)
		}
	}
	sinkU8 = y.Data
}

// benchGemmInt is the kernel QLinearMatMul wraps, on the same shapes.
func benchGemmInt(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, w := benchRandU8(r, m, k), benchRandI8(r, k, n)
	c := make([]int32, m*n)
	for b.Loop() {
		quant.GemmInt(m, n, k, a.Data, []int32{128}, w.Data, []int32{0}, c)
	}
	sinkI32 = c
}

// benchSgemm is the float32 baseline: gonum's Sgemm on the same shapes.
func benchSgemm(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := blas32.General{Rows: m, Cols: k, Stride: k, Data: benchRandF32(r, m*k)}
	w := blas32.General{Rows: k, Cols: n, Stride: n, Data: benchRandF32(r, k*n)}
	c := blas32.General{Rows: m, Cols: n, Stride: n, Data: make([]float32, m*n)}
	for b.Loop() {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, a, w, 0, c)
	}
	sinkF32 = c.Data
}

func BenchmarkQLinearMatMul64x256x256(b *testing.B) { benchQLinearMatMul(b, 64, 256, 256) }
func BenchmarkGemmInt64x256x256(b *testing.B)       { benchGemmInt(b, 64, 256, 256) }
func BenchmarkSgemm64x256x256(b *testing.B)         { benchSgemm(b, 64, 256, 256) }

// benchQLinearConv: 2-D, batch n, c→m channels, h×w input, 3×3 kernel,
// pad 1, uint8 activations and per-channel int8 weights.
func benchQLinearConv(b *testing.B, n, c, m, h, w int) {
	r := rand.New(rand.NewPCG(2, 2))
	x, wt := benchRandU8(r, n, c, h, w), benchRandI8(r, m, c, 3, 3)
	ws := Tensor[float32]{Shape: []int{m}, Data: make([]float32, m)}
	for i := range ws.Data {
		ws.Data[i] = 0.01
	}
	bias := Tensor[int32]{Shape: []int{m}, Data: make([]int32, m)}
	one := Tensor[float32]{Data: []float32{0.02}}
	zp := Tensor[uint8]{Data: []uint8{128}}
	attrs := ConvAttrs{Pads: []int{1, 1, 1, 1}}
	var y Tensor[uint8]
	for b.Loop() {
		var err error
		if y, err = QLinearConv(x, one, zp, wt, ws, Tensor[int8]{}, one, zp, bias, attrs); err != nil {
			b.Fatal(err)
		}
	}
	sinkU8 = y.Data
}

// benchConvInteger: the same convolution without requantization.
func benchConvInteger(b *testing.B, n, c, m, h, w int) {
	r := rand.New(rand.NewPCG(2, 2))
	x, wt := benchRandU8(r, n, c, h, w), benchRandI8(r, m, c, 3, 3)
	zp := Tensor[uint8]{Data: []uint8{128}}
	attrs := ConvAttrs{Pads: []int{1, 1, 1, 1}}
	var y Tensor[int32]
	for b.Loop() {
		var err error
		if y, err = ConvInteger(x, wt, zp, Tensor[int8]{}, attrs); err != nil {
			b.Fatal(err)
		}
	}
	sinkI32 = y.Data
}

// benchConvF32 is the float32 baseline: im2col and gonum's Sgemm on the
// same 3×3, pad-1 convolution.
func benchConvF32(b *testing.B, n, c, m, h, w int) {
	r := rand.New(rand.NewPCG(2, 2))
	x, wt := benchRandF32(r, n*c*h*w), benchRandF32(r, m*c*9)
	col := make([]float32, c*9*h*w)
	y := make([]float32, n*m*h*w)
	for b.Loop() {
		for nb := range n {
			for ch := range c {
				for ky := range 3 {
					for kx := range 3 {
						row := col[((ch*3+ky)*3+kx)*h*w:][:h*w]
						for oy := range h {
							iy := oy + ky - 1
							for ox := range w {
								ix := ox + kx - 1
								v := float32(0)
								if iy >= 0 && iy < h && ix >= 0 && ix < w {
									v = x[((nb*c+ch)*h+iy)*w+ix]
								}
								row[oy*w+ox] = v
							}
						}
					}
				}
			}
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
				blas32.General{Rows: m, Cols: c * 9, Stride: c * 9, Data: wt},
				blas32.General{Rows: c * 9, Cols: h * w, Stride: h * w, Data: col}, 0,
				blas32.General{Rows: m, Cols: h * w, Stride: h * w, Data: y[nb*m*h*w:][:m*h*w]})
		}
	}
	sinkF32 = y
}

func BenchmarkQLinearConv8x16x32x28x28(b *testing.B) { benchQLinearConv(b, 8, 16, 32, 28, 28) }
func BenchmarkConvInteger8x16x32x28x28(b *testing.B) { benchConvInteger(b, 8, 16, 32, 28, 28) }
func BenchmarkConvF32x8x16x32x28x28(b *testing.B)    { benchConvF32(b, 8, 16, 32, 28, 28) }
