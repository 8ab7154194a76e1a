package quant

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// kernelSets lists the pair kernels this build and CPU can run.
func kernelSets() map[string]pairKernels {
	sets := map[string]pairKernels{"go": goPairKernels}
	if haveAsmPairKernels {
		sets["asm"] = asmPairKernels
	}
	return sets
}

// randInt16s fills n values, an eighth of them at each int16 extreme, so
// that VPMADDWD meets its one overflowing case (-32768·-32768 twice).
func randInt16s(r *rand.Rand, n int) []int16 {
	v := make([]int16, n)
	for i := range v {
		switch r.IntN(8) {
		case 0:
			v[i] = -32768
		case 1:
			v[i] = 32767
		default:
			v[i] = int16(r.IntN(65536) - 32768)
		}
	}
	return v
}

// TestTileKernelMatchesDefinition checks each tile kernel against the
// product written out from the layouts' definitions, with room around the
// operands (strides beyond the minimum) that must stay untouched.
func TestTileKernelMatchesDefinition(t *testing.T) {
	cases := []struct {
		name                   string
		pairs, tiles, lda, ldc int
	}{
		{"one pair, one tile", 1, 1, 2, 16},
		{"odd strides", 3, 2, 9, 37},
		{"many pairs", 70, 1, 140, 16},
		{"many tiles", 5, 9, 10, 150},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for name, kern := range kernelSets() {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				a := randInt16s(r, (pairRows-1)*tc.lda+2*tc.pairs)
				b := randInt16s(r, tc.tiles*tc.pairs*2*pairCols)
				want := make([]int32, (pairRows-1)*tc.ldc+pairCols*tc.tiles+3)
				for i := range want {
					want[i] = -7 // between the tile's rows: left alone
				}
				for tl := range tc.tiles {
					for row := range pairRows {
						for j := range pairCols {
							var s int32
							for p := range 2 * tc.pairs {
								s += int32(a[row*tc.lda+p]) * int32(b[(tl*tc.pairs+p/2)*2*pairCols+2*j+p%2])
							}
							want[row*tc.ldc+pairCols*tl+j] = s
						}
					}
				}
				got := make([]int32, len(want))
				for i := range got {
					got[i] = -7
				}
				kern.tile(a, tc.lda, b, tc.pairs, tc.tiles, got, tc.ldc)
				if !slices.Equal(got, want) {
					t.Fatalf("tile differs from its definition:\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

// TestWidenKernelsMatchDefinition checks each widening kernel, for both
// operand types, k around the vector width and one zero point or one per
// row.
func TestWidenKernelsMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, kern := range kernelSets() {
		for _, k := range []int{1, 2, 9, 15, 16, 17, 31, 32, 33, 100} {
			for _, perRow := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/k=%d/perrow=%v", name, k, perRow), func(t *testing.T) {
					const rows = 5
					lda := k + k%2 + 2*r.IntN(2)
					za := []int32{int32(r.IntN(65000) - 32500)}
					if perRow {
						za = make([]int32, rows)
						for i := range za {
							za[i] = int32(r.IntN(511) - 255)
						}
					}
					s8 := randInts[int8](r, rows*k)
					u8 := randInts[uint8](r, rows*k)
					// Beyond the rows, 4 values stay untouched; the padding
					// of each row is cleared.
					want8 := make([]int16, rows*lda+4)
					wantU := make([]int16, rows*lda+4)
					got8 := make([]int16, len(want8))
					gotU := make([]int16, len(wantU))
					for i := range want8 {
						want8[i], wantU[i], got8[i], gotU[i] = 99, 99, 99, 99
					}
					for i := range rows {
						z := za[min(i, len(za)-1)]
						for p := range lda {
							want8[i*lda+p], wantU[i*lda+p] = 0, 0
							if p < k {
								want8[i*lda+p] = int16(int32(s8[i*k+p]) - z)
								wantU[i*lda+p] = int16(int32(u8[i*k+p]) - z)
							}
						}
					}
					kern.widenInt8(got8, lda, s8, k, rows, za)
					kern.widenUint8(gotU, lda, u8, k, rows, za)
					if !slices.Equal(got8, want8) {
						t.Fatalf("int8:\n got %v\nwant %v", got8, want8)
					}
					if !slices.Equal(gotU, wantU) {
						t.Fatalf("uint8:\n got %v\nwant %v", gotU, wantU)
					}
				})
			}
		}
	}
}

// TestPairLayoutNeedsInt16ZeroPoints checks which zero points the pair
// layout takes: any for which every shifted difference is an int16.
func TestPairLayoutNeedsInt16ZeroPoints(t *testing.T) {
	cases := []struct {
		name string
		zero int32
		int8 bool
		fits bool
	}{
		{"int8 lowest", -32640, true, true},
		{"int8 below", -32641, true, false},
		{"int8 highest", 32639, true, true},
		{"int8 above", 32640, true, false},
		{"uint8 lowest", -32512, false, true},
		{"uint8 below", -32513, false, false},
		{"uint8 highest", 32767, false, true},
		{"uint8 above", 32768, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pb *PackedB
			if tc.int8 {
				pb = PackBT(2, 3, []int8{-128, 0, 127, 5, -5, 1}, []int32{tc.zero})
			} else {
				pb = PackBT(2, 3, []uint8{0, 128, 255, 5, 250, 1}, []int32{tc.zero})
			}
			if got := pb.pairLayout() != nil; got != tc.fits {
				t.Fatalf("pair layout built: %v, want %v", got, tc.fits)
			}
			if got := pairZerosFit([]int32{tc.zero}, map[bool]int32{true: 128, false: 0}[tc.int8]); got != tc.fits {
				t.Fatalf("pairZerosFit = %v, want %v", got, tc.fits)
			}
		})
	}
}
