package quant

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// vnniKernelSets lists the VNNI kernels this build and CPU can run.
func vnniKernelSets() map[string]vnniKernels {
	sets := map[string]vnniKernels{"go": goVNNIKernels}
	if haveAsmVNNI {
		sets["asm"] = asmVNNIKernels
	}
	return sets
}

// TestVNNITileMatchesDefinition checks each VNNI micro-kernel against the
// products written out from the layouts' definitions: unsigned A bytes at
// 0 and 255, signed B bytes at -128 and 127 (so that 4·255·128 sums meet
// in one lane and the accumulation wraps past 2³¹ on the long cases),
// with and without the row-sum correction, 12-row and 4-row kernels, a
// stride of c beyond the tile
// whose gaps must stay untouched.
func TestVNNITileMatchesDefinition(t *testing.T) {
	cases := []struct {
		name                       string
		panels, quads, blocks, ldc int
		rowSums                    bool
	}{
		{"12x16 one group", 1, 1, 1, 16, false},
		{"12x32 one group", 2, 1, 1, 32, false},
		{"12x16 blocks, row sums", 1, 5, 3, 53, true},
		{"12x32 blocks, row sums", 2, 9, 3, 101, true},
		{"12x32 wrapping sums", 2, 1100, 1, 32, true},
		{"4x64 one group", 4, 1, 1, 64, false},
		{"4x64 blocks, row sums", 4, 7, 3, 200, true},
	}
	r := rand.New(rand.NewPCG(9, 10))
	for name, kern := range vnniKernelSets() {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				width := tc.panels * vnniCols
				a := randInts[uint8](r, tc.quads*4*vnniRows)
				b := randInts[int8](r, tc.blocks*tc.panels*tc.quads*4*vnniCols)
				init := make([]int32, width*tc.blocks)
				zbs := make([]int32, width*tc.blocks)
				for j := range init {
					init[j] = int32(r.Uint32())
					zbs[j] = int32(r.IntN(512) - 256)
				}
				var rowSum []int32
				if tc.rowSums {
					rowSum = make([]int32, vnniRows)
					for i := range rowSum {
						rowSum[i] = int32(r.Uint32())
					}
				}
				want := make([]int32, (vnniRows-1)*tc.ldc+width*tc.blocks+5)
				for i := range want {
					want[i] = -7 // between the tile's rows: left alone
				}
				rows := vnniRows
				if tc.panels == 4 {
					rows = 4
				}
				for blk := range tc.blocks {
					for row := range rows {
						for j := range width {
							col := width*blk + j
							panel := blk*tc.panels + j/vnniCols
							s := init[col]
							for p := range 4 * tc.quads {
								av := int32(a[(p/4*vnniRows+row)*4+p%4])
								bv := int32(b[(panel*tc.quads+p/4)*4*vnniCols+4*(j%vnniCols)+p%4])
								s += av * bv
							}
							if tc.rowSums {
								s -= rowSum[row] * zbs[col]
							}
							want[row*tc.ldc+col] = s
						}
					}
				}
				got := make([]int32, len(want))
				for i := range got {
					got[i] = -7
				}
				map[int]func(a []uint8, b []int8, quads, blocks int, init, rowSum, zbs, c []int32, ldc int){
					1: kern.tile16, 2: kern.tile32, 4: kern.tile4x64,
				}[tc.panels](a, b, tc.quads, tc.blocks, init, rowSum, zbs, got, tc.ldc)
				if !slices.Equal(got, want) {
					t.Fatalf("tile differs from its definition:\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

// TestGEMMPeak checks that the peak loop of the kernel in use reports a
// rate (any positive number: the machine is shared) and the pure-Go path
// none.
func TestGEMMPeak(t *testing.T) {
	cases := []struct {
		name    string
		kernel  string
		wantPos bool
	}{
		{"kernel in use", GEMMKernel(), GEMMKernel() != "go"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := GEMMPeakGMACs(time.Millisecond)
			if (got > 0) != tc.wantPos {
				t.Fatalf("GEMMPeakGMACs = %g G MAC/s with kernel %q", got, tc.kernel)
			}
		})
	}
}

// poolRefillAllocs bounds the allocations of one product under the race
// detector, whose pools drop buffers: a buffer and its slices.
const poolRefillAllocs = 5

// TestGemmIntPackedDoesNotAllocate runs each path twice on one goroutine:
// in steady state a product allocates nothing (working memory is
// recycled), whatever the shape.
func TestGemmIntPackedDoesNotAllocate(t *testing.T) {
	dims := []struct{ m, n, k int }{{196, 32, 144}, {13, 10, 9}, {24, 64, 256}, {1, 256, 784}}
	r := rand.New(rand.NewPCG(11, 12))
	for _, path := range gemmPaths() {
		for _, d := range dims {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", path.name, d.m, d.n, d.k), func(t *testing.T) {
				path.use(t)
				a := randInts[int8](r, d.m*d.k)
				pb := PackBT(d.n, d.k, randInts[int8](r, d.n*d.k), []int32{0})
				c := make([]int32, d.m*d.n)
				za := []int32{-5}
				run := func() { GemmIntPackedWorkers(d.m, a, za, pb, c, 1) }
				run()
				limit := 0.0
				if raceEnabled {
					limit = poolRefillAllocs
				}
				if got := testing.AllocsPerRun(3, run); got > limit {
					t.Fatalf("%g allocations per product, want at most %g", got, limit)
				}
			})
		}
	}
}

// TestVNNIPackMatchesDefinition checks each packing kernel against
// packQuadsGo, into buffers prefilled with a canary, for row counts
// around the 4-row groups and 12-row tiles and depths around the blocks
// of 4 groups (and a tail of k mod 4 left to the caller).
func TestVNNIPackMatchesDefinition(t *testing.T) {
	sets := vnniKernelSets()
	if haveAsmVNNI && scalarPackKernel != nil {
		sets["asm-scalar"] = vnniKernels{pack: scalarPackKernel}
	}
	r := rand.New(rand.NewPCG(13, 14))
	for name, kern := range sets {
		for _, rows := range []int{1, 3, 4, 5, 12, 13, 16, 27} {
			for _, k := range []int{4, 9, 16, 17, 31, 32, 144, 150} {
				t.Run(fmt.Sprintf("%s/%dx%d", name, rows, k), func(t *testing.T) {
					quads := (k + 3) / 4
					src := randInts[uint8](r, rows*k)
					size := ((rows + vnniRows - 1) / vnniRows) * quads * 4 * vnniRows
					want, got := make([]byte, size), make([]byte, size)
					for i := range want {
						want[i], got[i] = 0x5a, 0x5a
					}
					packQuadsGo(want, src, rows, k, quads, 0x80808080)
					kern.pack(got, src, rows, k, quads, 0x80808080)
					if !slices.Equal(got, want) {
						t.Fatalf("pack differs from its definition:\n got %v\nwant %v", got, want)
					}
				})
			}
		}
	}
}
