package f32gemm

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks of the epilogue and 2×2 max pool kernels beside their Go
// twins on the same data, SmallCNN's first block at one sample (16
// channels of 28×28, rows read from a GEMM output 30 columns wide):
//
//	go test -run '^$' -bench 'Epilogue|MaxPool' ./internal/f32gemm

// benchEpilogue times the bias + BN + ReLU pass, with the assembly kernel
// where there is one (asm) or the Go loop.
func benchEpilogue(b *testing.B, asm bool) {
	defer func(saved bool) { epilogueAsm = saved }(epilogueAsm)
	epilogueAsm = asm && epilogueAsm
	rng := rand.New(rand.NewPCG(3, 3))
	const ch, rows, cols, lds = 16, 28, 28, 30
	src, dst := randSlice(rng, ch*rows*lds), make([]float32, ch*rows*cols)
	e := Epilogue{Bias: 0.1, AddBias: true, Scale: 1.3, Shift: -0.2, Affine: true, ReLU: true}
	for b.Loop() {
		for c := range ch {
			e.Apply(dst[c*rows*cols:], cols, src[c*rows*lds:], lds, rows, cols)
		}
		benchSink += dst[0]
	}
}

// benchMaxPool times MaxPool2x2 over 16 planes of 28×28.
func benchMaxPool(b *testing.B, asm bool) {
	defer func(saved bool) { epilogueAsm = saved }(epilogueAsm)
	epilogueAsm = asm && epilogueAsm
	rng := rand.New(rand.NewPCG(4, 4))
	const ch, h, w = 16, 28, 28
	src, dst := randSlice(rng, ch*h*w), make([]float32, ch*h*w/4)
	for b.Loop() {
		for c := range ch {
			MaxPool2x2(dst[c*h*w/4:(c+1)*h*w/4], src[c*h*w:(c+1)*h*w], h, w, w)
		}
		benchSink += dst[0]
	}
}

func BenchmarkEpilogueBiasBNReLUAsm(b *testing.B) { benchEpilogue(b, true) }
func BenchmarkEpilogueBiasBNReLUGo(b *testing.B)  { benchEpilogue(b, false) }
func BenchmarkMaxPool2x2Asm(b *testing.B)         { benchMaxPool(b, true) }
func BenchmarkMaxPool2x2Go(b *testing.B)          { benchMaxPool(b, false) }

// benchEpilogues times the bias + BN + ReLU pass over SmallCNN's second
// block after its pool (32 channels of 7×7, rows 49 apart) into another
// buffer: all channels in one Epilogues call (rows), one Epilogue.Apply
// per channel (the baseline), or one Epilogues call in place (whose
// stores of each row's last values hold up the next row's first load).
func benchEpilogues(b *testing.B, mode string) {
	rng := rand.New(rand.NewPCG(5, 5))
	const ch, cols = 32, 49
	src, dst := randSlice(rng, ch*cols), make([]float32, ch*cols)
	e := Epilogues{AddBias: true, Affine: true, ReLU: true, Bias: randSlice(rng, ch)}
	for range ch {
		e.Scale = append(e.Scale, 0.5+rng.Float64())
		e.Shift = append(e.Shift, rng.NormFloat64())
	}
	for b.Loop() {
		switch mode {
		case "rows":
			e.Apply(dst, cols, src, cols, ch, cols)
		case "in place":
			e.Apply(src, cols, src, cols, ch, cols)
		default:
			for c := range ch {
				e.Row(c).Apply(dst[c*cols:], cols, src[c*cols:], cols, 1, cols)
			}
		}
		benchSink += dst[0] + src[0]
	}
}

func BenchmarkEpiloguesRows32x49(b *testing.B)        { benchEpilogues(b, "rows") }
func BenchmarkEpiloguesRowsInPlace32x49(b *testing.B) { benchEpilogues(b, "in place") }
func BenchmarkEpiloguesPerChannel32x49(b *testing.B)  { benchEpilogues(b, "per channel") }
