package quant

import (
	"math/rand/v2"
	"testing"
)

// The integer GEMM on one goroutine, on each path this machine runs
// (VNNI, AVX2 pairs, pure-Go lanes), beside the register-only peak loop
// of the VNNI (or AVX2) multiply-add instruction: the G MAC/s metrics
// (per second of CPU time) read as a fraction of the peak, from one run:
//
//	go test -run '^$' -bench 'GemmPath|GemmPeak' -count 5 ./pkg/quant

// benchGemmPath times GemmIntPackedWorkers on one goroutine with the
// weights packed once, on the named path (see gemmPaths).
func benchGemmPath(b *testing.B, path string, m, n, k int) {
	var p gemmPath
	for _, q := range gemmPaths() {
		if q.name == path {
			p = q
		}
	}
	if p.name == "" {
		b.Fatalf("path %s does not run on this machine and build", path)
	}
	saved := []any{usePairs, pairKernelsInUse, useVNNI, vnniKernelsInUse, vnniMinK}
	usePairs, pairKernelsInUse, useVNNI, vnniKernelsInUse = p.pairs, p.kernels, p.vnni, p.vnniKernels
	if p.vnni {
		vnniMinK = 1
	}
	defer func() {
		usePairs, pairKernelsInUse = saved[0].(bool), saved[1].(pairKernels)
		useVNNI, vnniKernelsInUse, vnniMinK = saved[2].(bool), saved[3].(vnniKernels), saved[4].(int)
	}()
	r := rand.New(rand.NewPCG(7, 7))
	a := randInts[int8](r, m*k)
	w := PackBT(n, k, randInts[int8](r, n*k), []int32{0})
	c := make([]int32, m*n)
	GemmIntPackedWorkers(m, a, []int32{-3}, w, c, 1)
	reportGMACs(b, float64(m)*float64(n)*float64(k), func() { GemmIntPackedWorkers(m, a, []int32{-3}, w, c, 1) })
	sinkInt32 = c
}

// benchGemmPeak runs the register-only loop of the kernel in use.
func benchGemmPeak(b *testing.B) {
	peak, macs := peakLoop()
	if peak == nil {
		b.Fatalf("no peak loop for kernel %s", GEMMKernel())
	}
	const iters = 1 << 12
	reportGMACs(b, float64(iters)*float64(macs), func() { peak(iters) })
}

// reportGMACs runs op under b.Loop and reports its rate in G MAC/s of CPU
// time (op does macs multiply-adds on one goroutine), which other jobs on
// a shared machine disturb less than wall time.
func reportGMACs(b *testing.B, macs float64, op func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(macs*float64(n)/d.Seconds()/1e9, "GMAC/s")
	}
}

func BenchmarkGemmPeak(b *testing.B)               { benchGemmPeak(b) }
func BenchmarkGemmPathVNNI1024(b *testing.B)       { benchGemmPath(b, "vnni-asm", 1024, 1024, 1024) }
func BenchmarkGemmPathPairs1024(b *testing.B)      { benchGemmPath(b, "pairs-asm", 1024, 1024, 1024) }
func BenchmarkGemmPathVNNI256(b *testing.B)        { benchGemmPath(b, "vnni-asm", 256, 256, 256) }
func BenchmarkGemmPathPairs256(b *testing.B)       { benchGemmPath(b, "pairs-asm", 256, 256, 256) }
func BenchmarkGemmPathVNNI64(b *testing.B)         { benchGemmPath(b, "vnni-asm", 64, 64, 64) }
func BenchmarkGemmPathPairs64(b *testing.B)        { benchGemmPath(b, "pairs-asm", 64, 64, 64) }
func BenchmarkGemmPathVNNIConv2(b *testing.B)      { benchGemmPath(b, "vnni-asm", 196, 32, 144) }
func BenchmarkGemmPathPairsConv2(b *testing.B)     { benchGemmPath(b, "pairs-asm", 196, 32, 144) }
func BenchmarkGemmPathVNNIConv1(b *testing.B)      { benchGemmPath(b, "vnni-asm", 784, 16, 9) }
func BenchmarkGemmPathPairsConv1(b *testing.B)     { benchGemmPath(b, "pairs-asm", 784, 16, 9) }
func BenchmarkGemmPathVNNIFC1(b *testing.B)        { benchGemmPath(b, "vnni-asm", 64, 256, 784) }
func BenchmarkGemmPathPairsFC1(b *testing.B)       { benchGemmPath(b, "pairs-asm", 64, 256, 784) }
func BenchmarkGemmPathVNNIFC1Batch1(b *testing.B)  { benchGemmPath(b, "vnni-asm", 1, 256, 784) }
func BenchmarkGemmPathPairsFC1Batch1(b *testing.B) { benchGemmPath(b, "pairs-asm", 1, 256, 784) }
