package ptq

import (
	"context"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/stretchr/testify/require"
)

func TestQuantizeResidualCNN(t *testing.T) {
	g, err := models.ResidualCNN(1, 3, 12, 12, 5)
	require.NoError(t, err)
	calib := datasets.RandomImages(64, 3, 12, 12, 2)
	held := datasets.RandomImages(32, 3, 12, 12, 3)
	m, rep, err := Quantize(context.Background(), g, BatchesOf(calib.X, 16), nil)
	require.NoError(t, err)
	t.Log("\n" + m.Plan().String())
	t.Log("\n" + rep.String())
	want, err := g.Forward(held.X, nn.Eval)
	require.NoError(t, err)
	got, err := m.Forward(held.X)
	require.NoError(t, err)
	if s := quant.SQNR(want.Data(), got.Data()); s < 30 {
		t.Errorf("held-out output SQNR %.1f dB, want >= 30", s)
	} else {
		t.Logf("held-out output SQNR %.1f dB", s)
	}
	tr, err := m.Trace(held.X)
	require.NoError(t, err)
	for _, e := range tr {
		t.Logf("%-10s %-12s %-5s %v scale=%g zp=%d", e.Node, e.Kind, e.DType, e.Shape, e.Scale, e.ZeroPoint)
	}
}

func TestQuantizeEmptyCalibration(t *testing.T) {
	g, _ := models.MLP(1, 16)
	_, _, err := Quantize(context.Background(), g, tensorBatches(), nil)
	require.ErrorIs(t, err, ErrNoCalibrationData)
}

func TestQuantizeDynamicMLP(t *testing.T) {
	g, err := models.MLP(4, 64)
	require.NoError(t, err)
	x := datasets.Gaussian(32, []int{1, 28, 28}, 0.3, 0.3, 5).X
	m, rep, err := QuantizeDynamic(context.Background(), g, nil)
	require.NoError(t, err)
	want, _ := g.Forward(x, nn.Eval)
	got, err := m.Forward(x)
	require.NoError(t, err)
	if c := quant.CosineSimilarity(want.Data(), got.Data()); c < 0.999 {
		t.Errorf("cosine %.5f, want >= 0.999", c)
	}
	tr, _ := m.Trace(x)
	for _, e := range tr {
		if e.DType != "fp32" {
			t.Errorf("node %s output %s, want fp32", e.Node, e.DType)
		}
	}
	if len(rep.QuantizedLayers()) != 2 {
		t.Errorf("quantized %v, want the two Linear layers", rep.QuantizedLayers())
	}
}
