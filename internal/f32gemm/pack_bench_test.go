package f32gemm

import (
	"math/rand/v2"
	"testing"
)

// benchPackB times packing one kc×(16 strips) panel of a transposed B (the
// Linear weight [out, in] read as its transpose), the copy that dominates
// x·Wᵀ beside the kernel.
func benchPackB(b *testing.B, trans bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n, k = 512, 256
	src := randSlice(rng, n*k)
	ld := n
	if trans {
		ld = k
	}
	dst := make([]float32, n*k)
	for b.Loop() {
		packB(dst, trans, src, ld, 0, k, 0, n, 32)
	}
	benchSink += dst[1]
	b.ReportMetric(float64(n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
}

func BenchmarkPackBTrans(b *testing.B)   { benchPackB(b, true) }
func BenchmarkPackBNoTrans(b *testing.B) { benchPackB(b, false) }
