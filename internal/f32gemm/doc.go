// Package f32gemm multiplies float32 matrices for the training and FP32
// inference of package nn: C = op(A)·op(B) + beta·C with either operand
// optionally transposed, on one goroutine (Gemm) or several (GemmParallel),
// and C = A·B' where the rows of B' lie anywhere in one slice
// (GemmOffsetB), which lets a stride-1 convolution multiply straight from
// its zero-padded image.
//
// # Overview
//
// The product is blocked in the manner of BLIS: k in blocks of 256, and a
// register-blocked micro-kernel computes each MR×NR tile of C with fused
// multiply-adds. Operands are packed (copied into strips NR columns wide
// or MR rows high) only where reading them in place would not do: a
// transposed operand, B when more than 8 strips of A rows will reuse it,
// and the strips at the right and bottom edges, zero-padded. A row-major A
// and, for short products, a row-major B are read in place. The
// micro-kernel is chosen once, at start-up, from what the processor and
// the operating system support:
//
//	avx512   8×32 tile in ZMM registers (AVX-512F)
//	avx2     6×16 tile in YMM registers (AVX2 and FMA)
//	go       pure Go, every multiply-add an exactly emulated float32 FMA
//
// Epilogue and MaxPool2x2 are the passes that follow a product in an
// inference: a per-channel bias, a float64 affine step (batch
// normalization with running statistics) and a rectifier in one pass, and
// a 2×2 max pool, in AVX-512 where the processor has AVX-512F and in Go
// otherwise, with the same bits. Epilogues runs a different Epilogue on
// every row of a matrix (a channel's constants each) in one call.
//
// Builds with the noasm tag, and processors or architectures without these
// extensions, use the Go kernel. Kernel reports which one runs and
// PeakGFLOPS the register-only rate of its instructions on one core.
//
// # Invariants
//
// Every element of C is one chain of single-rounding float32 fused
// multiply-adds over k in increasing order, starting from 0 (beta = 0),
// from C (beta = 1) or from float32(beta·C) (any other beta). Blocking,
// tiling, the kernel (assembly or Go) and the number of goroutines change
// neither the operations nor their order, so the result is bit-identical
// across all of them for finite data, and one row of C does not depend on
// the other rows of A. The Go kernel's fma32 rounds exactly as the
// hardware instruction does, including the double-rounding cases a plain
// float32(math.FMA(...)) gets wrong; the tests compare it with math/big.
//
// Epilogue.Apply rounds each of its steps separately (float32 sum,
// float64 product, float64 sum, conversion to float32), never fusing
// them, and MaxPool2x2 only compares and moves values (VMAXPS where a
// block of windows holds no NaN, the earlier value winning ties, explicit
// compares in window order otherwise), so both give the
// bits of the plain Go loops for every input (NaN inputs stay NaN; which
// payload an arithmetic step keeps when both of its operands are NaN is
// the instruction's choice).
//
// Gemm panics with a message prefixed "f32gemm:" when the sizes, leading
// dimensions or slice lengths do not fit: like gonum's blas32, these are
// programmer errors, not data errors.
package f32gemm
