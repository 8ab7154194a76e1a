package f32gemm

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Benchmarks of each micro-kernel beside gonum's blas32 Sgemm (the
// baseline nn used before) on the same operands, so one run gives the
// ratios:
//
//	go test -run '^$' -bench . -count 5 ./internal/f32gemm
//
// GFLOP/s counts 2·m·n·k per product.

var benchSink float32

// benchGemm times C = op(A)·op(B) with the named kernel ("gonum" for
// blas32) on one goroutine.
func benchGemm(b *testing.B, kernel string, m, n, k int, transB bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	ldb := n
	if transB {
		ldb = k
	}
	run := func() {
		tB := blas.NoTrans
		if transB {
			tB = blas.Trans
		}
		blas32.Gemm(blas.NoTrans, tB, 1, blas32.General{Rows: m, Cols: k, Stride: k, Data: a},
			blas32.General{Rows: len(bm) / ldb, Cols: ldb, Stride: ldb, Data: bm}, 0,
			blas32.General{Rows: m, Cols: n, Stride: n, Data: c})
	}
	if kernel != "gonum" {
		var kern *microKernel
		for _, kk := range kernels() {
			if kk.name == kernel {
				kern = kk
			}
		}
		if kern == nil {
			// Not on this machine: time the best one under its own name.
			kern = active
		}
		run = func() { gemm(kern, false, transB, m, n, k, a, k, bm, ldb, 0, c, n) }
	}
	for b.Loop() {
		run()
		benchSink += c[0]
	}
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSquare64Gonum(b *testing.B)    { benchGemm(b, "gonum", 64, 64, 64, false) }
func BenchmarkSquare64AVX2(b *testing.B)     { benchGemm(b, "avx2", 64, 64, 64, false) }
func BenchmarkSquare64AVX512(b *testing.B)   { benchGemm(b, "avx512", 64, 64, 64, false) }
func BenchmarkSquare64Go(b *testing.B)       { benchGemm(b, "go", 64, 64, 64, false) }
func BenchmarkSquare256Gonum(b *testing.B)   { benchGemm(b, "gonum", 256, 256, 256, false) }
func BenchmarkSquare256AVX2(b *testing.B)    { benchGemm(b, "avx2", 256, 256, 256, false) }
func BenchmarkSquare256AVX512(b *testing.B)  { benchGemm(b, "avx512", 256, 256, 256, false) }
func BenchmarkSquare1024Gonum(b *testing.B)  { benchGemm(b, "gonum", 1024, 1024, 1024, false) }
func BenchmarkSquare1024AVX2(b *testing.B)   { benchGemm(b, "avx2", 1024, 1024, 1024, false) }
func BenchmarkSquare1024AVX512(b *testing.B) { benchGemm(b, "avx512", 1024, 1024, 1024, false) }

// MNIST shapes: the MLP's first Linear at batch 64 (x·Wᵀ), SmallCNN's
// second convolution per sample (W·col) and its first (k = 9).
func BenchmarkLinear784x256Gonum(b *testing.B)  { benchGemm(b, "gonum", 64, 256, 784, true) }
func BenchmarkLinear784x256AVX2(b *testing.B)   { benchGemm(b, "avx2", 64, 256, 784, true) }
func BenchmarkLinear784x256AVX512(b *testing.B) { benchGemm(b, "avx512", 64, 256, 784, true) }
func BenchmarkConv2Gonum(b *testing.B)          { benchGemm(b, "gonum", 32, 196, 144, false) }
func BenchmarkConv2AVX2(b *testing.B)           { benchGemm(b, "avx2", 32, 196, 144, false) }
func BenchmarkConv2AVX512(b *testing.B)         { benchGemm(b, "avx512", 32, 196, 144, false) }
func BenchmarkConv1Gonum(b *testing.B)          { benchGemm(b, "gonum", 16, 784, 9, false) }
func BenchmarkConv1AVX2(b *testing.B)           { benchGemm(b, "avx2", 16, 784, 9, false) }
func BenchmarkConv1AVX512(b *testing.B)         { benchGemm(b, "avx512", 16, 784, 9, false) }
