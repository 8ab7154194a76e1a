package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// windowKernelSets are the window kernels this build runs: the Go twins,
// and the assembly where the CPU has VNNI.
func windowKernelSets() map[string]windowKernels {
	sets := map[string]windowKernels{"go": goWindowKernels}
	if haveAsmVNNI {
		sets["asm"] = asmWindowKernels
	}
	return sets
}

// useWindows selects the VNNI path with the given window kernels until
// the end of the test (the Go twins run in any build).
func useWindows(t *testing.T, k windowKernels) {
	savedVNNI, savedKernels := useVNNI, windowKernelsInUse
	useVNNI, windowKernelsInUse = true, k
	t.Cleanup(func() { useVNNI, windowKernelsInUse = savedVNNI, savedKernels })
}

// TestGemmIntWindowsMatchesDefinition checks GemmIntWindows, on each
// kernel, against its definition computed naively, on convolution-like
// shapes: one channel with runs of 3 padded to 4, 16 channels with runs
// of 48, odd and even panel counts, rows not a multiple of 12. The sums
// must be equal exactly.
func TestGemmIntWindowsMatchesDefinition(t *testing.T) {
	cases := []struct {
		name           string
		m, n, runs, rs int
		seg            int // codes per run, a multiple of 4
		gap            int // offset between runs
		aZero          int32
	}{
		{"SmallCNN conv1: 1 channel, runs of 3+1", 28 * 30, 16, 3, 1, 4, 30, 131},
		{"SmallCNN conv2: 16 channels, runs of 48", 14 * 16, 32, 3, 16, 48, 16 * 16, 128},
		{"three panels, one row short of a tile", 23, 48, 2, 8, 8, 40, 0},
		{"one tile, one run", 12, 16, 1, 4, 4, 0, 255},
		{"a single row", 1, 32, 3, 4, 12, 20, 77},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		k := c.runs * c.seg
		b := randInts[int8](r, c.n*k)
		for j := range c.n { // each run's last code is padding: the zero point
			for s := range c.runs {
				b[j*k+s*c.seg+c.seg-1] = 0
			}
		}
		pb := PackBT(c.n, k, b, []int32{0})
		offs := make([]int, c.runs)
		for s := range offs {
			offs[s] = s * c.gap
		}
		a := randInts[uint8](r, WindowsLen(c.m, c.rs, offs, pb))
		tiles := (c.m + WindowTileRows - 1) / WindowTileRows
		want := make([]int32, c.m*c.n)
		for i := range c.m {
			for j := range c.n {
				var s int32
				for si, o := range offs {
					for t := range c.seg {
						s += (int32(a[i*c.rs+o+t]) - c.aZero) * int32(b[j*k+si*c.seg+t])
					}
				}
				want[i*c.n+j] = s
			}
		}
		for kname, kernels := range windowKernelSets() {
			t.Run(fmt.Sprintf("%s, %s", c.name, kname), func(t *testing.T) {
				useWindows(t, kernels)
				require.True(t, WindowsFast(pb, c.runs))
				ldc := c.n + 16
				got := make([]int32, tiles*WindowTileRows*ldc)
				GemmIntWindows(c.m, a, c.aZero, c.rs, offs, pb, got, ldc)
				for i := range c.m {
					require.Equal(t, want[i*c.n:(i+1)*c.n], got[i*ldc:i*ldc+c.n], "row %d", i)
				}
			})
		}
	}
}

// TestWindowsFastRefuses checks the operands the windows kernels cannot
// take.
func TestWindowsFastRefuses(t *testing.T) {
	useWindows(t, goWindowKernels)
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name string
		n, k int
		zero int32
		runs int
		want bool
	}{
		{"fits", 32, 36, 0, 3, true},
		{"columns not a multiple of 16", 24, 36, 0, 3, false},
		{"runs not whole groups of 4", 32, 36, 0, 4, false},
		{"depth not a multiple of the runs", 32, 36, 0, 5, false},
		{"asymmetric weights", 32, 36, 3, 3, false},
		{"no runs", 32, 36, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := PackBT(c.n, c.k, randInts[int8](r, c.n*c.k), []int32{c.zero})
			assert.Equal(t, c.want, WindowsFast(pb, c.runs))
		})
	}
}

// TestGemmIntWindowsPanicsOnShortOperands checks that lengths which do not
// fit are refused with quant.ErrShape before any kernel runs.
func TestGemmIntWindowsPanicsOnShortOperands(t *testing.T) {
	useWindows(t, goWindowKernels)
	r := rand.New(rand.NewPCG(7, 8))
	pb := PackBT(16, 8, randInts[int8](r, 16*8), []int32{0})
	offs := []int{0, 10}
	need := WindowsLen(20, 4, offs, pb)
	cases := []struct {
		name string
		a, c int
		offs []int
	}{
		{"a one code short", need - 1, 24 * 16, offs},
		{"c one row short", need, 23 * 16, offs},
		{"negative offset", need, 24 * 16, []int{0, -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				GemmIntWindows(20, make([]uint8, c.a), 0, 4, c.offs, pb, make([]int32, c.c), 16)
			}()
			err, ok := got.(error)
			require.True(t, ok, "want a panic with an error, got %v", got)
			assert.ErrorIs(t, err, ErrShape)
		})
	}
}

// TestShiftToUnsigned checks the shift of int8 codes to unsigned on
// lengths around the 8-code groups.
func TestShiftToUnsigned(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 17} {
		t.Run(fmt.Sprintf("%d codes", n), func(t *testing.T) {
			src := make([]int8, n)
			for i := range src {
				src[i] = int8(i*37 - 128)
			}
			dst := make([]uint8, n)
			ShiftToUnsigned(dst, src)
			for i, v := range src {
				assert.Equal(t, uint8(int32(v)+128), dst[i], "code %d", i)
			}
		})
	}
}

// benchWindows times one sample of a 3×3, pad 1 convolution of c channels
// on h×w into outC channels: GemmIntWindows on the padded channels-last
// image (windows read in place), or, as the baseline, GemmIntPackedWorkers
// on an im2row matrix already laid out (the GEMM alone, without the copy
// the windows make unnecessary). The metric is useful multiply-adds (the
// OH·OW positions, not the padded width) per second of CPU time.
func benchWindows(b *testing.B, windows bool, c, h, w, outC int) {
	r := rand.New(rand.NewPCG(9, 10))
	hp, wp := h+2, w+2
	seg := (3*c + 3) &^ 3
	k := 3 * seg
	wts := randInts[int8](r, outC*k)
	for j := range outC {
		for s := range 3 {
			for t := 3 * c; t < seg; t++ {
				wts[j*k+s*seg+t] = 0
			}
		}
	}
	useful := float64(h*w) * float64(outC) * float64(9*c)
	if windows {
		pb := PackBT(outC, k, wts, []int32{0})
		if !WindowsFast(pb, 3) {
			b.Fatalf("the windows kernels do not run on this machine (kernel %s)", GEMMKernel())
		}
		offs := []int{0, wp * c, 2 * wp * c}
		m := h * wp
		a := randInts[uint8](r, max(hp*wp*c, WindowsLen(m, c, offs, pb)))
		acc := make([]int32, (m+WindowTileRows-1)/WindowTileRows*WindowTileRows*outC)
		reportGMACs(b, useful, func() { GemmIntWindows(m, a, 131, c, offs, pb, acc, outC) })
		sinkInt32 = acc
		return
	}
	pb := PackBT(outC, 9*c, randInts[int8](r, outC*9*c), []int32{0})
	a := randInts[int8](r, h*w*9*c)
	acc := make([]int32, h*w*outC)
	reportGMACs(b, useful, func() { GemmIntPackedWorkers(h*w, a, []int32{3}, pb, acc, 1) })
	sinkInt32 = acc
}

func BenchmarkGemmIntWindowsSmallCNNConv1(b *testing.B) { benchWindows(b, true, 1, 28, 28, 16) }
func BenchmarkGemmIntPackedSmallCNNConv1(b *testing.B)  { benchWindows(b, false, 1, 28, 28, 16) }
func BenchmarkGemmIntWindowsSmallCNNConv2(b *testing.B) { benchWindows(b, true, 16, 14, 14, 32) }
func BenchmarkGemmIntPackedSmallCNNConv2(b *testing.B)  { benchWindows(b, false, 16, 14, 14, 32) }
