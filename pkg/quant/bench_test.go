package quant

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Integer GEMM (GemmIntNT, int8 activations with a zero point × int8
// symmetric weights stored [out, in]) beside gonum's float32 Sgemm on the
// same shapes, C = A·Bᵀ. Ratio = int8 time / fp32 time, read from one run:
//
//	go test -run '^$' -bench 'Gemm' -benchtime 20x ./pkg/quant

var (
	sinkInt32   []int32
	sinkFloat32 []float32
)

func benchGemmIntNT(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(7, 7))
	a := randInts[int8](r, m*k)
	w := randInts[int8](r, n*k)
	c := make([]int32, m*n)
	b.SetBytes(int64(m*k + n*k))
	for b.Loop() {
		GemmIntNT(m, n, k, a, []int32{-3}, w, []int32{0}, c)
	}
	sinkInt32 = c
}

func benchSgemm(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(7, 7))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	a := blas32.General{Rows: m, Cols: k, Stride: k, Data: fill(m * k)}
	w := blas32.General{Rows: n, Cols: k, Stride: k, Data: fill(n * k)}
	c := blas32.General{Rows: m, Cols: n, Stride: n, Data: make([]float32, m*n)}
	b.SetBytes(int64(4 * (m*k + n*k)))
	for b.Loop() {
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, a, w, 0, c)
	}
	sinkFloat32 = c.Data
}

func BenchmarkGemmIntNTSquare64(b *testing.B)   { benchGemmIntNT(b, 64, 64, 64) }
func BenchmarkSgemmSquare64(b *testing.B)       { benchSgemm(b, 64, 64, 64) }
func BenchmarkGemmIntNTSquare256(b *testing.B)  { benchGemmIntNT(b, 256, 256, 256) }
func BenchmarkSgemmSquare256(b *testing.B)      { benchSgemm(b, 256, 256, 256) }
func BenchmarkGemmIntNTSquare1024(b *testing.B) { benchGemmIntNT(b, 1024, 1024, 1024) }
func BenchmarkSgemmSquare1024(b *testing.B)     { benchSgemm(b, 1024, 1024, 1024) }

// MNIST MLP, batch 64: Linear 784->256 and 256->10.
func BenchmarkGemmIntNTMNISTFC1(b *testing.B) { benchGemmIntNT(b, 64, 256, 784) }
func BenchmarkSgemmMNISTFC1(b *testing.B)     { benchSgemm(b, 64, 256, 784) }
func BenchmarkGemmIntNTMNISTFC2(b *testing.B) { benchGemmIntNT(b, 64, 10, 256) }
func BenchmarkSgemmMNISTFC2(b *testing.B)     { benchSgemm(b, 64, 10, 256) }

// MNIST CNN, batch 64, convolutions as im2col products: 3×3 conv 1->16 on
// 28×28, and 3×3 conv 16->32 on 14×14.
func BenchmarkGemmIntNTMNISTConv1(b *testing.B) { benchGemmIntNT(b, 64*784, 16, 9) }
func BenchmarkSgemmMNISTConv1(b *testing.B)     { benchSgemm(b, 64*784, 16, 9) }
func BenchmarkGemmIntNTMNISTConv2(b *testing.B) { benchGemmIntNT(b, 64*196, 32, 144) }
func BenchmarkSgemmMNISTConv2(b *testing.B)     { benchSgemm(b, 64*196, 32, 144) }
