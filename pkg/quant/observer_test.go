package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestNewObserverByMethod(t *testing.T) {
	perChannel := Spec{Scheme: Symmetric, Granularity: PerChannel, Axis: 0}
	cases := []struct {
		method Method
		spec   Spec
		want   Observer
	}{
		{MethodMinMax, ActivationDefault, &MinMaxObserver{}},
		{MethodMinMax, perChannel, &PerChannelMinMaxObserver{}},
		{MethodMovingAverage, ActivationDefault, &MovingAverageMinMaxObserver{}},
		{MethodMovingAverage, perChannel, &MovingAverageMinMaxObserver{}},
		{MethodPercentile, ActivationDefault, &PercentileObserver{}},
		{MethodEntropy, ActivationDefault, &EntropyObserver{}},
		{MethodMSE, ActivationDefault, &MSEObserver{}},
	}
	for _, c := range cases {
		t.Run(c.method.String()+"/"+c.spec.String(), func(t *testing.T) {
			o, err := NewObserver(c.method, c.spec)
			require.NoError(t, err)
			assert.IsType(t, c.want, o)
			assert.IsType(t, o, o.Clone())
		})
	}
	for _, m := range []Method{0, MethodMSE + 1} {
		_, err := NewObserver(m, ActivationDefault)
		require.ErrorIs(t, err, ErrUnknownMethod, "method %d", m)
		assert.Contains(t, err.Error(), "known: minmax, moving_average, percentile, entropy, mse")
	}
	for _, m := range []Method{MethodPercentile, MethodEntropy, MethodMSE} {
		_, err := NewObserver(m, perChannel)
		assert.ErrorIs(t, err, ErrInvalidSpec, "%v per-channel", m)
	}
	_, err := NewObserver(MethodMinMax, Spec{DType: Int32})
	assert.ErrorIs(t, err, ErrInvalidSpec, "int32 spec")
	_, err = NewMovingAverageMinMaxObserver(ActivationDefault, 0)
	assert.Error(t, err, "averaging constant 0")
	_, err = NewPercentileObserver(ActivationDefault, PercentileOptions{Bins: 7})
	assert.Error(t, err, "odd bins")
	_, err = NewPercentileObserver(ActivationDefault, PercentileOptions{Percentile: 120})
	assert.Error(t, err, "percentile 120")
}

// Every observer: no data -> ErrNoData; a NaN batch -> ErrNonFinite and no
// change; Stats counts; Reset forgets; Clone starts empty.
func TestObserverContract(t *testing.T) {
	good := tensor.MustFromData([]float32{-1, 0.5, 2, 3, -0.25, 1}, 2, 3)
	bad := tensor.MustFromData([]float32{1, float32(math.NaN()), 2}, 1, 3)
	inf := tensor.MustFromData([]float32{float32(math.Inf(-1))}, 1)
	for _, method := range Methods() {
		for _, spec := range []Spec{ActivationDefault, {DType: UInt8, Scheme: Symmetric}, {Scheme: Symmetric, Granularity: PerChannel, Axis: 1}} {
			o, err := NewObserver(method, spec)
			if err != nil {
				if spec.Granularity == PerChannel && errors.Is(err, ErrInvalidSpec) {
					continue // histogram methods are per-tensor only
				}
				t.Fatal(err)
			}
			t.Run(method.String()+"/"+spec.String(), func(t *testing.T) {
				_, err := o.QParams()
				require.ErrorIs(t, err, ErrNoData, "before data")
				require.NoError(t, o.Observe(tensor.New(0, 3)))
				_, err = o.QParams()
				require.ErrorIs(t, err, ErrNoData, "after an empty batch")
				require.NoError(t, o.Observe(good))
				before := o.Stats()
				p1, err := o.QParams()
				require.NoError(t, err)
				for _, x := range []*tensor.Tensor{bad, inf} {
					err := o.Observe(x)
					require.ErrorIs(t, err, ErrNonFinite)
					require.Contains(t, err.Error(), "batch 2")
				}
				require.Equal(t, before, o.Stats(), "a rejected batch changed the observer")
				p2, _ := o.QParams()
				require.Equal(t, p1, p2, "qparams changed")
				require.NoError(t, p1.Validate())
				assert.Equal(t, []any{2, int64(6), int64(2), float32(-1), float32(3)},
					[]any{before.Batches, before.Elements, before.Samples, before.Min, before.Max}, "batches, elements, samples, min, max")
				assert.Equal(t, method == MethodPercentile || method == MethodEntropy || method == MethodMSE, before.Histogram != nil, "histogram presence")
				c := o.Clone()
				_, err = c.QParams()
				assert.ErrorIs(t, err, ErrNoData, "clone is not fresh")
				o.Reset()
				_, err = o.QParams()
				assert.ErrorIs(t, err, ErrNoData, "reset did not forget")
				assert.Zero(t, o.Stats().Batches, "batches after reset")
			})
		}
	}
}

// The same samples in batches of 1, 7 and 64 give identical MinMax qparams.
func TestMinMaxBatchSizeInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const samples, features = 448, 5
	data := make([]float32, samples*features)
	for i := range data {
		data[i] = float32(r.NormFloat64() * float64(1+i%features))
	}
	for _, spec := range []Spec{ActivationDefault, {DType: UInt8}, {Scheme: Symmetric, Granularity: PerChannel, Axis: 1}} {
		var ref QParams
		for _, batch := range []int{1, 7, 64} {
			o, err := NewObserver(MethodMinMax, spec)
			require.NoError(t, err)
			for s := 0; s < samples; s += batch {
				e := min(s+batch, samples)
				require.NoError(t, o.Observe(tensor.MustFromData(data[s*features:e*features], e-s, features)))
			}
			p, err := o.QParams()
			require.NoError(t, err)
			if st := o.Stats(); st.Samples != samples || st.Elements != samples*features {
				t.Fatalf("batch %d: stats %+v", batch, st)
			}
			if batch == 1 {
				ref = p
			} else {
				require.Equal(t, ref, p, "%v: batches of %d against batches of 1", spec, batch)
			}
		}
	}
}

func TestMovingAverageFirstBatchSetsRange(t *testing.T) {
	o, err := NewMovingAverageMinMaxObserver(ActivationDefault, DefaultAveragingConstant)
	require.NoError(t, err)
	steps := []struct {
		batch          []float32
		wantLo, wantHi float32
	}{
		{[]float32{-2, 4}, -2, 4},
		{[]float32{-102, 104}, -3, 5}, // -2 + 0.01·(-102+2), 4 + 0.01·(104-4)
		{[]float32{-3, 5}, -3, 5},
	}
	for i, s := range steps {
		require.NoError(t, o.Observe(tensor.MustFromData(s.batch, 2)))
		st := o.Stats()
		require.InDelta(t, s.wantLo, st.Min, 1e-6, "min after batch %d", i)
		require.InDelta(t, s.wantHi, st.Max, 1e-6, "max after batch %d", i)
	}
}

func TestPerChannelObserverShapeErrors(t *testing.T) {
	o, err := NewPerChannelMinMaxObserver(Spec{Scheme: Symmetric, Granularity: PerChannel, Axis: 1})
	require.NoError(t, err)
	assert.ErrorIs(t, o.Observe(tensor.New(4)), ErrShape, "rank 1 for axis 1")
	require.NoError(t, o.Observe(tensor.New(2, 3)))
	err = o.Observe(tensor.New(2, 4))
	require.ErrorIs(t, err, ErrShape)
	assert.Contains(t, err.Error(), "4 channels on axis 1, earlier batches had 3")
	_, err = NewPerChannelMinMaxObserver(ActivationDefault)
	assert.ErrorIs(t, err, ErrInvalidSpec, "per-tensor spec")
}

// A histogram whose range grows keeps every count: after batches in
// [-1, 1], [-5, 5] and [-40, 3], each bin holds exactly the values that
// fall inside its edges.
func TestHistogramGrowsWithoutLosingCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var all []float32
	o, err := NewPercentileObserver(ActivationDefault, PercentileOptions{Bins: 64})
	require.NoError(t, err)
	for _, rg := range [][2]float64{{-1, 1}, {-5, 5}, {-40, 3}, {-0.5, 0.5}} {
		batch := make([]float32, 1000)
		for i := range batch {
			batch[i] = float32(rg[0] + (rg[1]-rg[0])*r.Float64())
		}
		batch[0], batch[1] = float32(rg[0]), float32(rg[1])
		all = append(all, batch...)
		require.NoError(t, o.Observe(tensor.MustFromData(batch, len(batch))))
	}
	h := o.Stats().Histogram
	if h.Limit < 40 || h.Limit > 80 || h.Total() != uint64(len(all)) {
		t.Fatalf("limit %v total %d, want limit in [40, 80] and %d values", h.Limit, h.Total(), len(all))
	}
	for i, c := range h.Counts {
		lo, hi := h.Edges(i)
		var want uint64
		for _, v := range all {
			if float64(v) >= lo && (float64(v) < hi || i == len(h.Counts)-1) {
				want++
			}
		}
		require.Equal(t, want, c, "bin %d [%v, %v)", i, lo, hi)
	}
	abs := h.AbsCounts()
	var total uint64
	for _, c := range abs {
		total += c
	}
	assert.Equal(t, h.Total(), total, "values in the folded histogram")
}

// outlierData returns n N(0,1) values (the bulk) and a copy in which one
// value is +100 and one -100.
func outlierData(n int) (bulk, all []float32) {
	r := rand.New(rand.NewPCG(11, 12))
	bulk = make([]float32, n)
	for i := range bulk {
		bulk[i] = float32(r.NormFloat64())
	}
	all = append([]float32(nil), bulk...)
	all[r.IntN(n/2)] = 100
	all[n/2+r.IntN(n/2)] = -100
	return bulk, all
}

// On N(0,1) data with two values at ±100 (4 per million), the clipping
// methods give far tighter ranges than MinMax and far lower error on the
// bulk; MSE gives the lowest error over all the data.
func TestClippingObserversOnOutliers(t *testing.T) {
	const n, batch = 500_000, 50_000
	bulk, all := outlierData(n)
	for _, spec := range []Spec{ActivationDefault, {Scheme: Symmetric}} {
		type result struct{ width, bulkMSE, allMSE float64 }
		res := map[Method]result{}
		for _, method := range []Method{MethodMinMax, MethodPercentile, MethodEntropy, MethodMSE} {
			o, err := NewObserver(method, spec)
			require.NoError(t, err)
			for s := 0; s < n; s += batch {
				require.NoError(t, o.Observe(tensor.MustFromData(all[s:s+batch], batch/100, 100)))
			}
			p, err := o.QParams()
			require.NoError(t, err)
			qmin, qmax := p.Bounds()
			width := float64(p.Scale[0]) * float64(qmax-qmin)
			fb, _ := FakeQuantize(tensor.MustFromData(bulk, n), p)
			fa, _ := FakeQuantize(tensor.MustFromData(all, n), p)
			res[method] = result{width, MSE(bulk, fb.Data()), MSE(all, fa.Data())}
		}
		mm := res[MethodMinMax]
		if mm.width < 199 || mm.bulkMSE < 0.04 {
			t.Fatalf("%v: minmax %+v, want width ~200 and bulk MSE ~0.05", spec, mm)
		}
		limits := []struct {
			method               Method
			maxWidth, maxBulkMSE float64 // as fractions of MinMax's
		}{
			{MethodPercentile, 0.05, 0.005},
			{MethodEntropy, 0.1, 0.02},
			{MethodMSE, 0.5, 0.25},
		}
		for _, l := range limits {
			r := res[l.method]
			t.Logf("%v %-10s width %7.3f bulk MSE %.3g all MSE %.3g", spec, l.method, r.width, r.bulkMSE, r.allMSE)
			if r.width > l.maxWidth*mm.width || r.bulkMSE > l.maxBulkMSE*mm.bulkMSE {
				t.Errorf("%v %s: width %.3f (max %.3f), bulk MSE %.3g (max %.3g)", spec, l.method,
					r.width, l.maxWidth*mm.width, r.bulkMSE, l.maxBulkMSE*mm.bulkMSE)
			}
		}
		for _, m := range []Method{MethodMinMax, MethodPercentile, MethodEntropy} {
			if res[MethodMSE].allMSE >= res[m].allMSE {
				t.Errorf("%v: MSE observer's error over all data %.4g is not below %s's %.4g", spec, res[MethodMSE].allMSE, m, res[m].allMSE)
			}
		}
	}
}

// On non-negative data (a ReLU output) an affine entropy observer keeps the
// lower end at 0 and uses all 256 codes on [0, t].
func TestEntropyOneSided(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	data := make([]float32, 100_000)
	for i := range data {
		data[i] = float32(max(0, r.NormFloat64()))
	}
	data[0] = 50
	o, err := NewEntropyObserver(ActivationDefault, EntropyOptions{})
	require.NoError(t, err)
	require.NoError(t, o.Observe(tensor.MustFromData(data, len(data))))
	p, err := o.QParams()
	require.NoError(t, err)
	hi := DequantizeValue(127, p.Scale[0], p.ZeroPoint[0])
	if p.ZeroPoint[0] != -128 || hi < 3 || hi > 15 {
		t.Fatalf("qparams %v: zero point %d (want -128), top of range %v (want within [3, 15])", p, p.ZeroPoint[0], hi)
	}
}

// klNaive builds P and Q bin by bin for one candidate (the definition in
// EntropyObserver's doc) and returns KL(P‖Q).
func klNaive(counts []uint64, i, levels int) float64 {
	p := make([]float64, i)
	q := make([]float64, i)
	var beyond, total float64
	for j, c := range counts {
		total += float64(c)
		if j < i {
			p[j] = float64(c)
		} else {
			beyond += float64(c)
		}
	}
	p[i-1] += beyond
	for g := range levels {
		start, stop := g*i/levels, (g+1)*i/levels
		var t float64
		nonzero := 0
		for j := start; j < stop; j++ {
			t += float64(counts[j])
			if p[j] != 0 {
				nonzero++
			}
		}
		for j := start; j < stop; j++ {
			if p[j] != 0 {
				q[j] = t / float64(nonzero)
				if q[j] == 0 {
					q[j] = 1e-4
				}
			}
		}
	}
	var sq float64
	for _, v := range q {
		sq += v
	}
	var kl float64
	for j := range p {
		if p[j] > 0 {
			kl += p[j] / total * math.Log((p[j]/total)/(q[j]/sq))
		}
	}
	return kl
}

func TestKLCandidateMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for trial := range 20 {
		n := 40 + r.IntN(200)
		counts := make([]uint64, n)
		for j := range counts {
			if r.IntN(3) > 0 {
				counts[j] = uint64(r.IntN(1000))
			}
		}
		counts[n-1] = 1 + uint64(r.IntN(3))
		const levels = 16
		cum := make([]float64, n+1)
		nz := make([]int, n+1)
		clc := make([]float64, n+1)
		for j, c := range counts {
			f := float64(c)
			cum[j+1], nz[j+1], clc[j+1] = cum[j]+f, nz[j], clc[j]
			if c > 0 {
				nz[j+1]++
				clc[j+1] += f * math.Log(f)
			}
		}
		for i := levels; i <= n; i++ {
			got := klCandidate(cum, nz, clc, i, levels, cum[n])
			want := klNaive(counts, i, levels)
			require.InDelta(t, want, got, 1e-9*max(1, math.Abs(want)), "trial %d, candidate %d against the definition", trial, i)
		}
	}
}
