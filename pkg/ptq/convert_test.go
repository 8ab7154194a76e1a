package ptq

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withBatchNormStats gives every BatchNorm2D of g, in order, the mean and
// variance of its input on standard normal samples, as training would
// leave them, and a scale and shift away from the identity, so that
// folding them matters.
func withBatchNormStats(g *nn.Graph) *nn.Graph {
	r := testRand()
	x := normal(g, 16, 99).X
	for _, n := range g.Nodes() {
		bn, ok := n.Layer.(*nn.BatchNorm2D)
		if !ok {
			continue
		}
		in := x
		g.Run(x, nn.Eval, func(m *nn.Node, out *tensor.Tensor) error {
			if m.Name == n.Inputs[0] {
				in = out
			}
			return nil
		})
		plane := in.Dim(2) * in.Dim(3)
		for c := range bn.C {
			var sum, sq float64
			for s := range in.Dim(0) {
				for _, v := range in.Data()[(s*bn.C+c)*plane : (s*bn.C+c+1)*plane] {
					sum += float64(v)
					sq += float64(v) * float64(v)
				}
			}
			cnt := float64(in.Dim(0) * plane)
			mean := sum / cnt
			bn.RunningMean.Value.Data()[c] = float32(mean)
			bn.RunningVar.Value.Data()[c] = float32(max(sq/cnt-mean*mean, 1e-4))
			bn.Gamma.Value.Data()[c] = float32(0.5 + r.Float64())
			bn.Beta.Value.Data()[c] = float32(0.2 * r.NormFloat64())
		}
	}
	return g
}

// quantizeStatic runs the Quantizer with the default configuration.
func quantizeStatic(t testing.TB, g *nn.Graph, calib Batches) (*Model, *Report) {
	t.Helper()
	m, rep, err := Quantize(context.Background(), g, calib, nil)
	require.NoError(t, err)
	return m, rep
}

func TestStaticAccuracyOnHeldOutData(t *testing.T) {
	cases := []struct {
		name    string
		graph   func(testing.TB) *nn.Graph
		minSQNR float64 // dB, model output against FP32 on held-out data
		minCos  float64
	}{
		{"MLP 784-64-10", func(t testing.TB) *nn.Graph { return mustGraph(t)(models.MLP(2, 64)) }, 30, 0.999},
		{"small CNN", func(t testing.TB) *nn.Graph { return withBatchNormStats(mustGraph(t)(models.SmallCNN(2))) }, 30, 0.999},
		{"residual CNN", func(t testing.TB) *nn.Graph { return withBatchNormStats(residual(t)) }, 30, 0.999},
		{"conv classifier with softmax", convBNReLUGraph, 30, 0.999},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.graph(t)
			m, rep := quantizeStatic(t, g, BatchesOf(normal(g, 64, 11).X, 32))
			x := normal(g, 32, 12).X
			want, err := g.Forward(x, nn.Eval)
			require.NoError(t, err)
			got, err := m.Forward(x)
			require.NoError(t, err)
			s, cos := quant.SQNR(want.Data(), got.Data()), quant.CosineSimilarity(want.Data(), got.Data())
			t.Logf("held-out SQNR %.2f dB, cosine %.6f", s, cos)
			if s < c.minSQNR || cos < c.minCos {
				t.Errorf("held-out SQNR %.2f dB and cosine %.6f, want >= %g dB and >= %g", s, cos, c.minSQNR, c.minCos)
			}
			if rep.Mode != ModeStatic || rep.Int8Bytes >= rep.FP32Bytes {
				t.Errorf("report mode %q, %d int8 bytes for %d FP32 bytes", rep.Mode, rep.Int8Bytes, rep.FP32Bytes)
			}
		})
	}
}

func TestFoldBatchNorm(t *testing.T) {
	r := testRand()
	conv := nn.NewConv2D(3, 5, 3, 1, 1, r)
	bn := nn.NewBatchNorm2D(5)
	g := withBatchNormStats(testGraph(t, []int{3, 6, 6},
		planNode{name: "conv", layer: conv}, planNode{name: "bn", layer: bn}))
	x := normal(g, 4, 1).X
	want, err := g.Forward(x, nn.Eval)
	require.NoError(t, err)
	for _, withBias := range []bool{true, false} {
		t.Run(fmt.Sprintf("bias %v", withBias), func(t *testing.T) {
			b := conv.Bias.Value
			if !withBias {
				b = nil
				want, _ = testGraph(t, []int{3, 6, 6},
					planNode{name: "conv", layer: noBias(conv)}, planNode{name: "bn", layer: bn}).Forward(x, nn.Eval)
			}
			wBefore := slices.Clone(conv.Weight.Value.Data())
			fw, fb := foldBatchNorm(conv.Weight.Value, b, bn)
			if !slices.Equal(wBefore, conv.Weight.Value.Data()) {
				t.Fatal("foldBatchNorm changed the conv weights")
			}
			folded := nn.NewConv2D(3, 5, 3, 1, 1, nil)
			folded.Weight.Value.CopyFrom(fw)
			folded.Bias.Value.CopyFrom(fb)
			got, err := folded.Forward([]*tensor.Tensor{x}, nn.Eval)
			require.NoError(t, err)
			assert.InDeltaSlice(t, want.Data(), got.Data(), 1e-5, "folded conv vs conv+BatchNorm")
		})
	}
}

// noBias returns a copy of a Conv2D without its bias.
func noBias(c *nn.Conv2D) *nn.Conv2D {
	d := c.Clone().(*nn.Conv2D)
	d.Bias = nil
	return d
}

func TestQuantizeIsDeterministic(t *testing.T) {
	g := withBatchNormStats(residual(t))
	calib := normal(g, 64, 21)
	m1, r1 := quantizeStatic(t, g, BatchesOf(calib.X, 16))
	m2, r2 := quantizeStatic(t, g, BatchesOf(calib.X, 16))
	weights := 0
	for _, l := range r1.Layers {
		w1, ok1 := m1.Weights(l.Name)
		w2, ok2 := m2.Weights(l.Name)
		if ok1 != ok2 {
			t.Fatalf("%s: weights in one run only", l.Name)
		}
		if !ok1 {
			continue
		}
		weights++
		if !slices.Equal(w1.Int8s(), w2.Int8s()) || !sameFloat32Bits(w1.Params().Scale, w2.Params().Scale) ||
			!slices.Equal(w1.Params().ZeroPoint, w2.Params().ZeroPoint) {
			t.Errorf("%s: int8 weights or their qparams differ", l.Name)
		}
	}
	if weights != 4 {
		t.Errorf("%d layers with int8 weights, want 4", weights)
	}
	for i, l := range r1.Layers {
		o1, o2 := l.Output, r2.Layers[i].Output
		if (o1 == nil) != (o2 == nil) || o1 != nil && (math.Float32bits(o1.Scale) != math.Float32bits(o2.Scale) || o1.ZeroPoint != o2.ZeroPoint) {
			t.Errorf("%s: output qparams %+v and %+v", l.Name, o1, o2)
		}
	}
	x := normal(g, 8, 22).X
	y1, _ := m1.Forward(x)
	y2, _ := m2.Forward(x)
	if !sameFloat32Bits(y1.Data(), y2.Data()) {
		t.Error("the two models give different outputs")
	}
}

func sameFloat32Bits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestConvertBeforeCalibration(t *testing.T) {
	pr, err := Prepare(convBNReLUGraph(t), nil)
	require.NoError(t, err)
	m, err := pr.Convert()
	assert.Nil(t, m)
	require.ErrorIs(t, err, ErrNotCalibrated)
	assert.ErrorIs(t, err, ErrNoCalibrationData)
	assert.Contains(t, err.Error(), `"conv1"`)
}

func TestQuantizeRefusals(t *testing.T) {
	g := convBNReLUGraph(t)
	cases := []struct {
		name  string
		cfg   Config
		calib Batches
		want  error
		msg   string
	}{
		{"empty calibration set", Config{}, tensorBatches(), ErrNoCalibrationData, "no samples"},
		{"unmatched override", withOverrides(Override{Glob: "conv9*", KeepFP32: true}), BatchesOf(normal(g, 8, 1).X, 8), ErrUnmatchedOverride, `glob "conv9*"`},
		{"wrong data shape", Config{}, BatchesOf(datasets.Gaussian(8, []int{3, 8, 8}, 0, 1, 1).X, 8), ErrShape, "[8 3 8 8]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rep, err := Quantize(context.Background(), g, c.calib, &c.cfg)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			assert.Nil(t, m)
			assert.Nil(t, rep)
		})
	}
}

func TestNothingToQuantizeIsReturnedUnchanged(t *testing.T) {
	g := testGraph(t, []int{2, 4, 4},
		planNode{name: "pool", layer: nn.NewMaxPool2D(2, 2)},
		planNode{name: "flat", layer: nn.NewFlatten()},
		planNode{name: "softmax", layer: nn.NewSoftmax()})
	// The calibration source is never read: an empty one is fine.
	m, rep, err := Quantize(context.Background(), g, tensorBatches(), nil)
	require.NoError(t, err)
	if m.Mode() != ModeFP32 || rep.Mode != ModeFP32 || len(rep.QuantizedLayers()) != 0 || len(rep.Notes) != 1 ||
		!strings.Contains(rep.Notes[0], "no quantizable layer") {
		t.Errorf("mode %q/%q, quantized %q, notes %q", m.Mode(), rep.Mode, rep.QuantizedLayers(), rep.Notes)
	}
	x := normal(g, 4, 1).X
	want, _ := g.Forward(x, nn.Eval)
	got, err := m.Forward(x)
	if err != nil || !sameFloat32Bits(want.Data(), got.Data()) {
		t.Errorf("outputs differ from FP32 (err %v)", err)
	}
}

func TestQuantizeLeavesTheModelAlone(t *testing.T) {
	g := withBatchNormStats(residual(t))
	before := paramBits(g)
	x := normal(g, 8, 5).X
	want, _ := g.Forward(x, nn.Eval)
	m, _ := quantizeStatic(t, g, BatchesOf(normal(g, 32, 6).X, 16))
	if !slices.EqualFunc(before, paramBits(g), slices.Equal) {
		t.Fatal("quantization changed the FP32 model's parameters or buffers")
	}
	// Changing the FP32 model afterwards does not change the int8 model.
	if got, _ := g.Forward(x, nn.Eval); !sameFloat32Bits(want.Data(), got.Data()) {
		t.Fatal("quantization changed the FP32 model's outputs")
	}
	// Changing the FP32 model afterwards does not change the int8 model.
	y1, _ := m.Forward(x)
	for _, p := range slices.Concat(g.Params(), g.Buffers()) {
		p.Value.Fill(0.5)
	}
	y2, _ := m.Forward(x)
	if !sameFloat32Bits(y1.Data(), y2.Data()) {
		t.Error("the quantized model shares parameters with the FP32 model")
	}
}

func TestStaticModelStructureAndTrace(t *testing.T) {
	g := convBNReLUGraph(t)
	m, _ := quantizeStatic(t, g, BatchesOf(normal(g, 32, 8).X, 16))
	x := normal(g, 5, 9).X
	tr, err := m.Trace(x)
	require.NoError(t, err)
	outs, err := m.Outputs(x)
	require.NoError(t, err)
	wantTypes := map[string]string{"conv1": "int8", "bn1": "int8", "relu1": "int8", "pool1": "int8",
		"flat": "int8", "fc": "int8", "softmax": "fp32"}
	for i, n := range g.Nodes() {
		e := tr[i]
		want := append([]int{5}, n.Shape...)
		if e.Node != n.Name || e.Kind != n.Layer.Kind() || !slices.Equal(e.Shape, want) || e.DType != wantTypes[n.Name] {
			t.Errorf("trace[%d] = %+v, want node %s (%s) %s of shape %v", i, e, n.Name, n.Layer.Kind(), wantTypes[n.Name], want)
		}
		if o := outs[n.Name]; o == nil || !slices.Equal(o.Shape(), want) {
			t.Errorf("Outputs()[%q] has shape %v, want %v", n.Name, o.Shape(), want)
		}
		if e.DType == "int8" && (!(e.Scale > 0) || e.ZeroPoint < -128 || e.ZeroPoint > 127) {
			t.Errorf("%s: int8 output with scale %g zero point %d", e.Node, e.Scale, e.ZeroPoint)
		}
	}
	// A fused ReLU clamps at the zero point: nothing below real 0.
	if v := slices.Min(outs["relu1"].Data()); v < 0 {
		t.Errorf("relu1 output goes down to %g", v)
	}
	if _, ok := m.Weights("pool1"); ok {
		t.Error("pool1 reports weights")
	}
	w, ok := m.Weights("conv1")
	if !ok || w.DType() != quant.Int8 || !slices.Equal(w.Shape(), []int{4, 1, 3, 3}) || len(w.Params().Scale) != 4 {
		t.Errorf("conv1 weights %v", w)
	}
}

func TestStaticForwardRefusesBadInput(t *testing.T) {
	g := convBNReLUGraph(t)
	m, _ := quantizeStatic(t, g, BatchesOf(normal(g, 16, 8).X, 16))
	inf := normal(g, 3, 1).X
	inf.Data()[2*64+7] = float32(math.Inf(-1))
	checkForwardRefusals(t, m, []forwardRefusal{
		{"Inf in sample 2", inf, ErrNonFinite, []string{"sample 2", `"conv1"`}},
		{"wrong shape", tensor.New(3, 1, 4, 4), ErrShape, []string{"[3 1 4 4]", "[N 1 8 8]"}},
		{"nil", nil, ErrShape, []string{"[N 1 8 8]"}},
	})
}

func TestStaticConcurrentForward(t *testing.T) {
	g := withBatchNormStats(residual(t))
	m, _ := quantizeStatic(t, g, BatchesOf(normal(g, 32, 14).X, 16))
	checkConcurrentForward(t, m, normal(g, 6, 15).X)
}

func TestReportPerLayer(t *testing.T) {
	g := withBatchNormStats(residual(t))
	_, rep := quantizeStatic(t, g, BatchesOf(normal(g, 64, 16).X, 16))
	if rep.Calibration == nil || rep.Calibration.Batches != 4 || rep.Calibration.Samples != 64 || rep.Calibration.Method != quant.MethodMinMax {
		t.Fatalf("calibration report %+v", rep.Calibration)
	}
	if rep.Times.Calibrate <= 0 || rep.Times.Convert <= 0 || rep.Times.Evaluate <= 0 {
		t.Errorf("phase times %+v", rep.Times)
	}
	want := []string{"stem_conv", "block_conv1", "block_conv2", "block_add", "fc"}
	if got := rep.QuantizedLayers(); !slices.Equal(got, want) {
		t.Errorf("quantized layers %q, want %q", got, want)
	}
	for _, name := range want {
		l, _ := rep.Layer(name)
		if l.SQNR == nil || *l.SQNR < 30 || l.Output == nil {
			t.Errorf("%s: SQNR %v, output %+v; want >= 30 dB and int8 qparams", name, l.SQNR, l.Output)
		}
		if l.Kind == "Add" {
			continue
		}
		w := l.Weights
		if w == nil || w.DType != "int8" || w.Scheme != "symmetric" || w.Granularity != "per-channel" ||
			!(w.ScaleMin <= w.ScaleMean && w.ScaleMean <= w.ScaleMax) || w.ZeroPointMin != 0 || w.ZeroPointMax != 0 || w.SQNR < 35 {
			t.Errorf("%s: weights %+v", name, w)
		}
	}
}
