package quant

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Integer GEMM (int8 activations with a zero point × int8 symmetric weights
// stored [out, in]) beside gonum's float32 Sgemm on the same shapes,
// C = A·Bᵀ. GemmIntNT packs the weights on every call, GemmIntPacked
// reuses weights packed once (what a quantized layer does). Ratio = int8
// time / fp32 time, read from one run:
//
//	go test -run '^$' -bench 'Gemm|Sgemm' -benchtime 20x -count 5 ./pkg/quant

var (
	sinkInt32   []int32
	sinkFloat32 []float32
)

// cpuTime returns the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op under b.Loop and also reports CPU time per operation
// (summed over threads), which a machine shared with other jobs disturbs
// less than wall time.
func loop(b *testing.B, op func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}

func benchGemmIntNT(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(7, 7))
	a := randInts[int8](r, m*k)
	w := randInts[int8](r, n*k)
	c := make([]int32, m*n)
	b.SetBytes(int64(m*k + n*k))
	loop(b, func() { GemmIntNT(m, n, k, a, []int32{-3}, w, []int32{0}, c) })
	sinkInt32 = c
}

// benchGemmIntPacked is benchGemmIntNT with the weights packed once, as a
// quantized Linear or Conv2D keeps them.
func benchGemmIntPacked(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(7, 7))
	a := randInts[int8](r, m*k)
	w := PackBT(n, k, randInts[int8](r, n*k), []int32{0})
	c := make([]int32, m*n)
	b.SetBytes(int64(m*k + n*k))
	loop(b, func() { GemmIntPacked(m, a, []int32{-3}, w, c) })
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
	loop(b, func() { blas32.Gemm(blas.NoTrans, blas.Trans, 1, a, w, 0, c) })
	sinkFloat32 = c.Data
}

func BenchmarkGemmIntNTSquare64(b *testing.B)       { benchGemmIntNT(b, 64, 64, 64) }
func BenchmarkGemmIntPackedSquare64(b *testing.B)   { benchGemmIntPacked(b, 64, 64, 64) }
func BenchmarkSgemmSquare64(b *testing.B)           { benchSgemm(b, 64, 64, 64) }
func BenchmarkGemmIntNTSquare256(b *testing.B)      { benchGemmIntNT(b, 256, 256, 256) }
func BenchmarkGemmIntPackedSquare256(b *testing.B)  { benchGemmIntPacked(b, 256, 256, 256) }
func BenchmarkSgemmSquare256(b *testing.B)          { benchSgemm(b, 256, 256, 256) }
func BenchmarkGemmIntNTSquare1024(b *testing.B)     { benchGemmIntNT(b, 1024, 1024, 1024) }
func BenchmarkGemmIntPackedSquare1024(b *testing.B) { benchGemmIntPacked(b, 1024, 1024, 1024) }
func BenchmarkSgemmSquare1024(b *testing.B)         { benchSgemm(b, 1024, 1024, 1024) }

// MNIST MLP, batch 64: Linear 784->256 and 256->10.
func BenchmarkGemmIntNTMNISTFC1(b *testing.B)     { benchGemmIntNT(b, 64, 256, 784) }
func BenchmarkGemmIntPackedMNISTFC1(b *testing.B) { benchGemmIntPacked(b, 64, 256, 784) }
func BenchmarkSgemmMNISTFC1(b *testing.B)         { benchSgemm(b, 64, 256, 784) }
func BenchmarkGemmIntNTMNISTFC2(b *testing.B)     { benchGemmIntNT(b, 64, 10, 256) }
func BenchmarkGemmIntPackedMNISTFC2(b *testing.B) { benchGemmIntPacked(b, 64, 10, 256) }
func BenchmarkSgemmMNISTFC2(b *testing.B)         { benchSgemm(b, 64, 10, 256) }

// MNIST CNN, batch 64, convolutions as im2col products: 3×3 conv 1->16 on
// 28×28, and 3×3 conv 16->32 on 14×14.
func BenchmarkGemmIntNTMNISTConv1(b *testing.B)     { benchGemmIntNT(b, 64*784, 16, 9) }
func BenchmarkGemmIntPackedMNISTConv1(b *testing.B) { benchGemmIntPacked(b, 64*784, 16, 9) }
func BenchmarkSgemmMNISTConv1(b *testing.B)         { benchSgemm(b, 64*784, 16, 9) }
func BenchmarkGemmIntNTMNISTConv2(b *testing.B)     { benchGemmIntNT(b, 64*196, 32, 144) }
func BenchmarkGemmIntPackedMNISTConv2(b *testing.B) { benchGemmIntPacked(b, 64*196, 32, 144) }
func BenchmarkSgemmMNISTConv2(b *testing.B)         { benchSgemm(b, 64*196, 32, 144) }
