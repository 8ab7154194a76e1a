package ptq

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// sharedModels holds the models of sharedInt8Model, built once per test
// binary: calibration dominates these tests' time under -race.
var sharedModels sync.Map // name -> *sharedModel

type sharedModel struct {
	once sync.Once
	m    *Model
	g    *nn.Graph
}

// sharedInt8Model is staticInt8Model, built once per name and shared by
// the tests that only run the model (a Model is safe for concurrent use).
func sharedInt8Model(t *testing.T, name string) (*Model, *nn.Graph) {
	v, _ := sharedModels.LoadOrStore(name, new(sharedModel))
	s := v.(*sharedModel)
	s.once.Do(func() { s.m, s.g = staticInt8Model(t, name, 32) })
	require.NotNil(t, s.m, "model %s failed to build in an earlier test", name)
	return s.m, s.g
}

// withThreads sets GOMAXPROCS for the rest of the test.
func withThreads(t *testing.T, n int) {
	saved := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(saved) })
}

// TestForwardRunsCompiledPrograms checks that the static MNIST models
// compile (with SmallCNN's two Conv2D+MaxPool2D pairs fused) and that
// Forward and ForwardInto give, bit for bit, what running the steps one
// by one gives, at every batch size, on 1 and 2 threads.
func TestForwardRunsCompiledPrograms(t *testing.T) {
	vnni := quant.GEMMKernel() == "avx512-vnni"
	cases := []struct {
		model     string
		fusedPool int // Conv2D+MaxPool2D pairs run fused
		// channelsLast is the number of convolutions run channels-last
		// (with VNNI), toNCHW that of the relayouts they then need.
		channelsLast, toNCHW int
	}{
		{"cnn", 2, 2, 0},      // conv1 reads the one-channel input, fc the NHWC flattening
		{"mlp", 0, 0, 0},      // no convolution
		{"residual", 0, 0, 0}, // 8 output channels: not a multiple of 16
	}
	for _, tc := range cases {
		m, g := sharedInt8Model(t, tc.model)
		p := m.program()
		require.NotNil(t, p, "the static %s compiles", tc.model)
		fused := 0
		for _, ins := range p.instrs {
			if ins.op == insConvMaxPool {
				fused++
			}
		}
		assert.Equal(t, tc.fusedPool, fused, "fused Conv2D+MaxPool2D in %s", tc.model)
		channelsLast, toNCHW := 0, 0
		for _, ins := range p.instrs {
			if ins.nhwc != nil {
				channelsLast++
			}
			if ins.op == insToNCHW {
				toNCHW++
			}
		}
		if !vnni {
			tc.channelsLast = 0
		}
		assert.Equal(t, tc.channelsLast, channelsLast, "channels-last convolutions in %s", tc.model)
		assert.Equal(t, tc.toNCHW, toNCHW, "relayouts to NCHW in %s", tc.model)
		for _, batch := range []int{1, 3, 17} { // 3 and 17 are split in two parts on 2 threads
			x := datasets.Gaussian(batch, g.InputShape(), 0, 1, uint64(batch)).X
			want, err := m.forwardSteps(x)
			require.NoError(t, err)
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/batch %d/%d threads", tc.model, batch, threads), func(t *testing.T) {
					withThreads(t, threads)
					got, err := m.Forward(x)
					require.NoError(t, err)
					assert.Equal(t, want.Shape(), got.Shape())
					assert.Equal(t, want.Data(), got.Data(), "Forward")
					dst := tensor.New(want.Shape()...)
					require.NoError(t, m.ForwardInto(dst, x))
					assert.Equal(t, want.Data(), dst.Data(), "ForwardInto")
				})
			}
		}
	}
}

// raceAllocLimit bounds a ForwardInto's allocations under the race
// detector (see TestForwardDoesNotAllocate).
const raceAllocLimit = 1000

// TestForwardDoesNotAllocate runs ForwardInto in steady state: on one
// thread it allocates nothing; a batch split over two threads pays only
// for starting the second goroutine (workpool), whatever the batch.
func TestForwardDoesNotAllocate(t *testing.T) {
	cases := []struct {
		model          string
		batch, threads int
		max            float64
	}{
		{"cnn", 16, 1, 0},
		{"cnn", 1, 1, 0},
		{"mlp", 16, 1, 0},
		{"mlp", 1, 2, 0}, // below the split threshold: one goroutine
		{"cnn", 16, 2, 8},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/batch %d/%d threads", tc.model, tc.batch, tc.threads), func(t *testing.T) {
			withThreads(t, tc.threads)
			m, g := sharedInt8Model(t, tc.model)
			x := datasets.Gaussian(tc.batch, g.InputShape(), 0, 1, 5).X
			y, err := m.Forward(x)
			require.NoError(t, err)
			dst := tensor.New(y.Shape()...)
			run := func() { require.NoError(t, m.ForwardInto(dst, x)) }
			run()
			limit := tc.max
			if raceEnabled {
				// The race detector's sync.Pool drops a random quarter of
				// what is put back (states here, GEMM buffers in quant):
				// refills are counted, so only a loose bound holds. The
				// exact bounds are checked without -race (make test-noasm).
				limit = raceAllocLimit
			}
			got := testing.AllocsPerRun(5, run)
			assert.LessOrEqual(t, got, limit, "allocations per ForwardInto")
		})
	}
}

// TestForwardErrorsOnTheCompiledPath checks that the compiled path
// reports what the step-by-step one does: a non-finite sample, a wrong
// input shape, and an output tensor of the wrong size.
func TestForwardErrorsOnTheCompiledPath(t *testing.T) {
	m, g := sharedInt8Model(t, "cnn")
	x := datasets.Gaussian(4, g.InputShape(), 0, 1, 6).X
	x.Data()[2*28*28+5] = float32(math.NaN())
	_, err := m.Forward(x)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Contains(t, err.Error(), "sample 2")

	_, err = m.Forward(tensor.New(2, 1, 27, 28))
	assert.ErrorIs(t, err, ErrShape)

	err = m.ForwardInto(tensor.New(3, 10), datasets.Gaussian(4, g.InputShape(), 0, 1, 7).X)
	assert.ErrorIs(t, err, ErrShape)

	assert.ErrorIs(t, m.ForwardInto(nil, x), ErrShape)
	var none *Model
	assert.ErrorIs(t, none.ForwardInto(tensor.New(4, 10), x), ErrNilModel)
}

// TestForwardConcurrentCallers runs one compiled model from several
// goroutines at once (each Forward takes its own states from the model's
// pool): every caller gets the step-by-step result.
func TestForwardConcurrentCallers(t *testing.T) {
	cases := []struct {
		model          string
		callers, batch int
	}{
		{"cnn", 4, 3},
		{"mlp", 4, 12},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			withThreads(t, 2)
			m, g := sharedInt8Model(t, tc.model)
			x := datasets.Gaussian(tc.batch, g.InputShape(), 0, 1, 8).X
			want, err := m.forwardSteps(x)
			require.NoError(t, err)
			got := make([]*tensor.Tensor, tc.callers)
			errs := make([]error, tc.callers)
			var wg sync.WaitGroup
			for i := range tc.callers {
				wg.Go(func() { got[i], errs[i] = m.Forward(x) })
			}
			wg.Wait()
			for i := range tc.callers {
				require.NoError(t, errs[i])
				assert.Equal(t, want.Data(), got[i].Data(), "caller %d", i)
			}
		})
	}
}
