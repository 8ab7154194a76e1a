package ptq

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// residual returns the example residual network on 3x8x8 inputs.
func residual(t testing.TB) *nn.Graph {
	return mustGraph(t)(models.ResidualCNN(1, 3, 8, 8, 4))
}

// normal returns n standard normal samples shaped as g's input.
func normal(g *nn.Graph, n int, seed uint64) *datasets.Dataset {
	return datasets.Gaussian(n, g.InputShape(), 0, 1, seed)
}

// repeated yields the same batch k times.
// tensorBatches yields the given tensors, in order, as Batches.
func tensorBatches(xs ...*tensor.Tensor) Batches {
	return func(yield func(*tensor.Tensor, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
}

func repeated(x *tensor.Tensor, k int) Batches {
	bs := make([]*tensor.Tensor, k)
	for i := range bs {
		bs[i] = x
	}
	return tensorBatches(bs...)
}

func TestCalibrationConvergence(t *testing.T) {
	// The same batch again and again: no scale moves after the first
	// batch, so calibration converges at batch index Patience (0-based),
	// the first batch ending Patience unchanged batches.
	cases := []struct {
		name         string
		opts         CalibrationOptions
		batches      int // batches in the source
		wantBatches  int // batches calibration reads
		wantConverge int // 0-based batch of convergence, -1 for none
	}{
		{"patience 3, no early stop", CalibrationOptions{Tolerance: 0.01, Patience: 3}, 8, 8, 3},
		{"patience 3, early stop", CalibrationOptions{Tolerance: 0.01, Patience: 3, EarlyStop: true}, 8, 4, 3},
		{"zero options mean the defaults: 1%, patience 3", CalibrationOptions{EarlyStop: true}, 8, 4, 3},
		{"patience 1", CalibrationOptions{Tolerance: 0.01, Patience: 1, EarlyStop: true}, 8, 2, 1},
		{"too few batches to converge", CalibrationOptions{Tolerance: 0.01, Patience: 5, EarlyStop: true}, 4, 4, -1},
		{"batch limit first", CalibrationOptions{Tolerance: 0.01, Patience: 3, MaxBatches: 2, EarlyStop: true}, 8, 2, -1},
		{"one batch never converges", CalibrationOptions{Tolerance: 1, Patience: 1}, 1, 1, -1},
	}
	g := residual(t)
	x := normal(g, 16, 1).X
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{}
			cfg.Calibration = c.opts
			pr, err := Prepare(g, &cfg)
			require.NoError(t, err)
			require.NoError(t, pr.Run(context.Background(), repeated(x, c.batches)))
			if pr.Batches() != c.wantBatches || pr.Samples() != 16*c.wantBatches {
				t.Errorf("read %d batches and %d samples, want %d and %d", pr.Batches(), pr.Samples(), c.wantBatches, 16*c.wantBatches)
			}
			ok, at := pr.Converged()
			if ok != (c.wantConverge >= 0) || ok && at != c.wantConverge {
				t.Errorf("Converged() = %v, %d; want batch %d", ok, at, c.wantConverge)
			}
			h := pr.History()
			if len(h) != c.wantBatches {
				t.Fatalf("history has %d entries, want %d", len(h), c.wantBatches)
			}
			for i, st := range h {
				if st.Batch != i || st.Samples != 16*(i+1) || st.MaxScaleChange != 0 || st.Worst != "" {
					t.Errorf("history[%d] = %+v, want batch %d, %d samples, no change", i, st, i, 16*(i+1))
				}
				if want := c.wantConverge >= 0 && i >= c.wantConverge; st.Converged != want {
					t.Errorf("history[%d].Converged = %v, want %v", i, st.Converged, want)
				}
			}
		})
	}
}

func TestCalibrationHistoryRecordsScaleChanges(t *testing.T) {
	// Batches of growing amplitude: every scale doubles, so each batch
	// after the first changes the largest scale by exactly 100%.
	g := testGraph(t, []int{4}, planNode{name: "fc", layer: nn.NewLinear(4, 3, testRand())})
	base := normal(g, 8, 2).X
	var bs []*tensor.Tensor
	for k := range 4 {
		x := base.Clone()
		for i := range x.Data() {
			x.Data()[i] *= float32(math.Pow(2, float64(k)))
		}
		bs = append(bs, x)
	}
	pr, err := Prepare(g, nil)
	require.NoError(t, err)
	require.NoError(t, pr.Run(context.Background(), tensorBatches(bs...)))
	h := pr.History()
	require.Len(t, h, 4)
	assert.Zero(t, h[0].MaxScaleChange)
	for _, st := range h[1:] {
		assert.InDelta(t, 1, st.MaxScaleChange, 1e-6, "batch %d: scale change, want 100%%", st.Batch)
		assert.NotEmpty(t, st.Worst, "batch %d", st.Batch)
		assert.False(t, st.Converged, "batch %d", st.Batch)
	}
}

func TestMinMaxIndependentOfBatchSize(t *testing.T) {
	g := residual(t)
	d := normal(g, 64, 7)
	ref, err := Prepare(g, nil)
	require.NoError(t, err)
	require.NoError(t, ref.Observe(d.X))
	for _, size := range []int{1, 7, 64} {
		t.Run("batches of "+strconv.Itoa(size), func(t *testing.T) {
			pr, err := Prepare(g, nil)
			require.NoError(t, err)
			require.NoError(t, pr.Run(context.Background(), BatchesOf(d.X, size)))
			if want := (64 + size - 1) / size; pr.Batches() != want || pr.Samples() != 64 {
				t.Fatalf("%d batches and %d samples, want %d and 64", pr.Batches(), pr.Samples(), want)
			}
			for _, o := range pr.Observed() {
				got, err := pr.QParams(o.Tensor)
				require.NoError(t, err)
				want, _ := ref.QParams(o.Tensor)
				if math.Float32bits(got.Scale[0]) != math.Float32bits(want.Scale[0]) || got.ZeroPoint[0] != want.ZeroPoint[0] {
					t.Errorf("%s: scale %g zp %d, one batch gives %g zp %d", o.Tensor, got.Scale[0], got.ZeroPoint[0], want.Scale[0], want.ZeroPoint[0])
				}
				gs, _ := pr.Stats(o.Tensor)
				ws, _ := ref.Stats(o.Tensor)
				if gs.Min != ws.Min || gs.Max != ws.Max || gs.Samples != 64 {
					t.Errorf("%s: stats %+v, one batch gives %+v", o.Tensor, gs, ws)
				}
			}
		})
	}
}

func TestCalibrationRefusals(t *testing.T) {
	conv := func(t testing.TB) *nn.Graph {
		r := testRand()
		return testGraph(t, []int{2, 4, 4},
			planNode{name: "conv1", layer: nn.NewConv2D(2, 2, 3, 1, 1, r)},
			planNode{name: "flat", layer: nn.NewFlatten()},
			planNode{name: "fc", layer: nn.NewLinear(32, 2, r)},
		)
	}
	withNaN := func(batch, sample int) Batches {
		d := datasets.Gaussian(32, []int{2, 4, 4}, 0, 1, 3)
		d.X.Data()[(batch*8+sample)*32+5] = float32(math.NaN())
		return BatchesOf(d.X, 8)
	}
	huge := func(t testing.TB) *nn.Graph {
		l := nn.NewLinear(2, 1, nil)
		l.Weight.Value.Fill(1e30) // quantizable, but 1e30·1e10·2 overflows float32
		return testGraph(t, []int{2}, planNode{name: "huge", layer: l})
	}
	cases := []struct {
		name    string
		graph   func(testing.TB) *nn.Graph
		src     Batches
		want    error
		msgs    []string
		batches int // batches calibration kept before the refusal
	}{
		{"nil source", conv, nil, ErrNoCalibrationData, []string{"nil"}, 0},
		{"empty source", conv, tensorBatches(), ErrNoCalibrationData, []string{"no samples"}, 0},
		{"NaN in batch 0", conv, withNaN(0, 0), ErrNonFinite, []string{"calibration batch 0", "sample 0", `"conv1"`}, 0},
		{"NaN in batch 2", conv, withNaN(2, 5), ErrNonFinite, []string{"calibration batch 2", "sample 5", `"conv1"`}, 2},
		{"overflow inside the model", huge, BatchesOf(datasets.Constant(4, []int{2}, 1e10).X, 2), ErrNonFinite,
			[]string{"calibration batch 0", `node "huge" (Linear)`, "+Inf"}, 0},
		{"wrong shape", conv, BatchesOf(datasets.Gaussian(4, []int{1, 4, 4}, 0, 1, 1).X, 4), ErrShape,
			[]string{"[4 1 4 4]", "[N 2 4 4]"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr, err := Prepare(c.graph(t), nil)
			require.NoError(t, err)
			err = pr.Run(context.Background(), c.src)
			require.ErrorIs(t, err, c.want)
			for _, m := range c.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %q", err, m)
				}
			}
			// A refused batch leaves no trace in any statistic.
			if pr.Batches() != c.batches || len(pr.History()) != c.batches {
				t.Errorf("after the refusal: %d batches, %d history entries; want %d", pr.Batches(), len(pr.History()), c.batches)
			}
			for _, o := range pr.Observed() {
				if st, _ := pr.Stats(o.Tensor); st.Batches != c.batches {
					t.Errorf("tensor %q observed %d batches, want %d", o.Tensor, st.Batches, c.batches)
				}
			}
		})
	}
}

func TestQParamsBeforeCalibration(t *testing.T) {
	pr, err := Prepare(residual(t), nil)
	require.NoError(t, err)
	cases := []struct {
		tensor string
		want   error
	}{
		{"input", ErrNoCalibrationData},
		{"block_add", ErrNoCalibrationData},
		{"stem_bn", ErrNotCalibrated}, // fused: its group's output is stem_relu
		{"no_such_tensor", ErrNotCalibrated},
	}
	for _, c := range cases {
		t.Run(c.tensor, func(t *testing.T) {
			_, err := pr.QParams(c.tensor)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), `"`+c.tensor+`"`)
		})
	}
}

func TestCalibrationStopsOnCancel(t *testing.T) {
	g := residual(t)
	pr, err := Prepare(g, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = pr.Run(ctx, BatchesOf(normal(g, 8, 1).X, 4))
	if !errors.Is(err, context.Canceled) || pr.Batches() != 0 {
		t.Fatalf("Run on a cancelled context = %v after %d batches, want context.Canceled before any", err, pr.Batches())
	}
}

func TestObservedTensorsAreTheCalibratedOnes(t *testing.T) {
	g := residual(t)
	pr, err := Prepare(g, nil)
	require.NoError(t, err)
	require.NoError(t, pr.Run(context.Background(), BatchesOf(normal(g, 16, 4).X, 8)))
	var names []string
	for _, o := range pr.Observed() {
		names = append(names, o.Tensor)
		st, ok := pr.Stats(o.Tensor)
		if !ok || st.Batches != 2 || st.Samples != 16 || !(st.Min < st.Max) {
			t.Errorf("%s: stats %+v, ok %v", o.Tensor, st, ok)
		}
	}
	want := []string{"input", "stem_relu", "block_relu1", "block_bn2", "block_add", "fc"}
	if !slices.Equal(names, want) {
		t.Errorf("observed %q, want %q", names, want)
	}
	if _, ok := pr.Stats("pool"); ok {
		t.Error("the pass-through node pool has statistics")
	}
}

func TestCalibrationStepJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		step CalibrationStep
		want string
	}{
		{"finite", CalibrationStep{Batch: 2, Samples: 30, MaxScaleChange: 0.25, Worst: "fc1"}, `{"batch":2,"samples":30,"max_scale_change":0.25,"worst_tensor":"fc1","converged":false}`},
		{"infinite", CalibrationStep{Batch: 1, Samples: 20, MaxScaleChange: math.Inf(1), Worst: "fc2", Converged: true}, `{"batch":1,"samples":20,"max_scale_change":null,"worst_tensor":"fc2","converged":true}`},
		{"lost", CalibrationStep{Batch: 7, Samples: 80, MaxScaleChange: 0.03, Worst: "fc", Event: EventLost}, `{"batch":7,"samples":80,"max_scale_change":0.03,"worst_tensor":"fc","converged":false,"event":"lost"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.step)
			if err != nil || string(b) != c.want {
				t.Fatalf("marshal = %s, %v; want %s", b, err, c.want)
			}
			var back CalibrationStep
			if err := json.Unmarshal(b, &back); err != nil || back != c.step {
				t.Fatalf("round trip = %+v, %v; want %+v", back, err, c.step)
			}
		})
	}
}

// ev is shorthand for a history's events in the tables below: one letter
// per batch, '.' none, 'c' EventConverged, 'l' EventLost, 'r'
// EventRegained.
func ev(s string) []ConvergenceEvent {
	m := map[rune]ConvergenceEvent{'.': "", 'c': EventConverged, 'l': EventLost, 'r': EventRegained}
	out := make([]ConvergenceEvent, 0, len(s))
	for _, r := range s {
		out = append(out, m[r])
	}
	return out
}

// flags is shorthand for a history's Converged flags: '1' true, '0' false.
func flags(s string) []bool {
	out := make([]bool, 0, len(s))
	for _, r := range s {
		out = append(out, r == '1')
	}
	return out
}

func TestConvergenceRule(t *testing.T) {
	// The largest scale change of each batch, the first batch's change
	// ignored as calibration does, against a tolerance of 1%.
	inf, nan := math.Inf(1), math.NaN()
	cases := []struct {
		name      string
		patience  int
		changes   []float64
		converged string // Converged after each batch
		events    string // Event of each batch
		first     int    // FirstConverged
		since     int    // batch Converged reports, -1 for not converged at the end
	}{
		{"converges and stays", 3, []float64{0, 0.05, 0.004, 0, 0.01, 0, 0.002}, "0000111", "....c..", 4, 4},
		{"converges, then a 3.56% move loses it for good", 3,
			[]float64{0, 0.06, 0.08, 0.15, 0.001, 0, 0, 0.0356, 0.0212, 0}, "0000001000", "......cl..", 6, -1},
		{"converges, loses it, regains it after 3 calm batches", 3,
			[]float64{0, 0, 0, 0, 0.03, 0, 0, 0}, "00010001", "...cl..r", 3, 7},
		{"loses it twice, regained at the end", 2,
			[]float64{0, 0, 0, 0.5, 0, 0, 0.02, 0, 0}, "001001001", "..cl.rl.r", 2, 8},
		{"never converges: a move above tolerance every third batch", 3,
			[]float64{0, 0, 0, 0.02, 0, 0, 0.02, 0, 0, 0.02}, "0000000000", "..........", -1, -1},
		{"the first batch does not count as calm", 1, []float64{0}, "0", ".", -1, -1},
		{"patience 1 converges on the second batch", 1, []float64{0, 0, 0.5, 0}, "0101", ".clr", 1, 3},
		{"a change equal to the tolerance is calm", 2, []float64{0, 0.01, 0.01}, "001", "..c", 2, 2},
		{"a new tensor (+Inf) and NaN are not calm", 1, []float64{0, inf, 0, nan, 0}, "00101", "..clr", 2, 4},
		{"patience 0 means 1", 0, []float64{0, 0}, "01", ".c", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Len(t, c.converged, len(c.changes), "table row")
			require.Len(t, c.events, len(c.changes), "table row")
			v := newConvergence(0.01, c.patience)
			var gotC []bool
			var gotE []ConvergenceEvent
			for i, ch := range c.changes {
				ok, e := v.add(i, ch)
				gotC, gotE = append(gotC, ok), append(gotE, e)
			}
			assert.Equal(t, flags(c.converged), gotC, "converged after each batch")
			assert.Equal(t, ev(c.events), gotE, "events")
			assert.Equal(t, c.first, v.first, "first convergence")
			assert.Equal(t, c.since, v.since, "converged at the end since")
		})
	}
}

// scaledBatches returns one batch of base per amplitude, multiplied by it.
func scaledBatches(base *tensor.Tensor, amps ...float32) Batches {
	bs := make([]*tensor.Tensor, len(amps))
	for i, a := range amps {
		x := base.Clone()
		for j := range x.Data() {
			x.Data()[j] *= a
		}
		bs[i] = x
	}
	return tensorBatches(bs...)
}

func TestCalibrationConvergenceLostAndEarlyStop(t *testing.T) {
	// A Linear layer without bias: every activation range is the running
	// largest amplitude times that of the base batch, so a batch of
	// amplitude 1.03 after batches of 1 moves every scale by 3%, above
	// the 1% tolerance, and a batch of 1 after it moves none.
	l := nn.NewLinear(4, 3, testRand())
	l.Bias.Value.Fill(0)
	g := testGraph(t, []int{4}, planNode{name: "fc", layer: l})
	base := normal(g, 8, 5).X
	cases := []struct {
		name      string
		amps      []float32
		earlyStop bool
		converged string // Converged after each batch read
		events    string
		wantOK    bool // Converged() at the end
		wantAt    int  // its batch
		wantFirst int  // FirstConverged()
	}{
		{"converge, then diverge: not converged at the end", []float32{1, 1, 1, 1, 1.03, 1, 1},
			false, "0001000", "...cl..", false, -1, 3},
		{"converge, diverge, regain", []float32{1, 1, 1, 1, 1.03, 1, 1, 1, 1},
			false, "000100011", "...cl..r.", true, 7, 3},
		{"converge and stay", []float32{1, 1, 1, 1, 1.005, 1, 1},
			false, "0001111", "...c...", true, 3, 3},
		{"never converges: the amplitude grows 2% a batch", []float32{1, 1.02, 1.0404, 1.0612, 1.0824, 1.1041},
			false, "000000", "......", false, -1, -1},
		{"early stop stops at the first convergence, before the 3% move", []float32{1, 1, 1, 1, 1.03, 1, 1},
			true, "0001", "...c", true, 3, 3},
		{"early stop on a stream that never converges reads it all", []float32{1, 1.02, 1.0404, 1.0612},
			true, "0000", "....", false, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Calibration: CalibrationOptions{Tolerance: 0.01, Patience: 3, EarlyStop: c.earlyStop}}
			pr, err := Prepare(g, &cfg)
			require.NoError(t, err)
			require.NoError(t, pr.Run(context.Background(), scaledBatches(base, c.amps...)))
			h := pr.History()
			require.Len(t, h, len(c.converged), "batches read")
			var gotC []bool
			var gotE []ConvergenceEvent
			for _, st := range h {
				gotC, gotE = append(gotC, st.Converged), append(gotE, st.Event)
			}
			assert.Equal(t, flags(c.converged), gotC, "converged after each batch")
			assert.Equal(t, ev(c.events), gotE, "events")
			ok, at := pr.Converged()
			assert.Equal(t, c.wantOK, ok, "converged at the end")
			assert.Equal(t, c.wantAt, at, "converged since")
			assert.Equal(t, c.wantFirst, pr.FirstConverged(), "first convergence")
			if len(h) > 4 {
				// The 3% batch of the tables moves the scale by 3%
				// (float32 rounding aside), the 0.5% one by 0.5%.
				want := float64(c.amps[4]/c.amps[3]) - 1
				if c.amps[3] > c.amps[4] {
					want = 0
				}
				assert.InDelta(t, want, h[4].MaxScaleChange, 1e-6, "change of batch 4")
			}
		})
	}
}
