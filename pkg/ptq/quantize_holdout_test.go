package ptq

import (
	"context"
	"strconv"
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

// outputSQNR is the SQNR of m's output against g's on x, computed in one
// piece: what the report must give.
func outputSQNR(t *testing.T, g *nn.Graph, m *Model, x *tensor.Tensor) float64 {
	t.Helper()
	want, err := g.Forward(x, nn.Eval)
	require.NoError(t, err)
	got, err := m.Forward(x)
	require.NoError(t, err)
	return capDB(quant.SQNR(want.Data(), got.Data()))
}

// TestQuantizeHoldout checks which data the report's SQNR is measured on:
// every sample of Config.Holdout when one is given, in chunks of
// sqnrSamples, and otherwise the first sqnrSamples calibration samples,
// with a note saying so.
func TestQuantizeHoldout(t *testing.T) {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	require.NoError(t, err)
	calib := datasets.Gaussian(320, g.InputShape(), 0, 1, 2).X
	first, err := calib.Slice(0, sqnrSamples)
	require.NoError(t, err)
	// The held-out sets are wider than the calibration data, so that a
	// figure measured on the wrong set shows: their SQNR is lower.
	small := datasets.Gaussian(48, g.InputShape(), 0, 1.5, 3).X
	large := datasets.Gaussian(300, g.InputShape(), 0, 1.5, 4).X // two chunks: 256 + 44
	const tol = 1e-6                                             // dB: summation order only
	cases := []struct {
		name     string
		holdout  *Data
		on       *tensor.Tensor
		data     SQNRData
		samples  int
		wantNote bool
	}{
		{name: "no held-out set: the first 256 calibration samples", on: first, data: SQNROnCalibration, samples: sqnrSamples, wantNote: true},
		{name: "a held-out set of one chunk", holdout: &Data{X: small}, on: small, data: SQNROnHoldout, samples: 48},
		{name: "a held-out set of two chunks", holdout: &Data{X: large}, on: large, data: SQNROnHoldout, samples: 300},
		{name: "labels are not read", holdout: &Data{X: small, Labels: make([]int, 48)}, on: small, data: SQNROnHoldout, samples: 48},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, rep, err := Quantize(context.Background(), g, BatchesOf(calib, 64), &Config{Holdout: tc.holdout})
			require.NoError(t, err)
			assert.Equal(t, tc.data, rep.SQNRData)
			assert.Equal(t, tc.samples, rep.SQNRSamples)
			assert.InDelta(t, outputSQNR(t, g, m, tc.on), rep.OutputSQNR, tol)
			fc, ok := rep.Layer("fc")
			require.True(t, ok)
			require.NotNil(t, fc.SQNR, "the classifier, the model's output, reports its SQNR")
			assert.InDelta(t, rep.OutputSQNR, *fc.SQNR, tol, "the last layer's SQNR is the output's")
			note := strings.Join(rep.Notes, "\n")
			assert.Equal(t, tc.wantNote, strings.Contains(note, "calibration samples"), "notes: %q", rep.Notes)
			assert.Contains(t, rep.String(), "on "+strconv.Itoa(tc.samples)+" "+string(tc.data)+" samples")
			assert.Contains(t, rep.Markdown(), "SQNR dB ("+string(tc.data)+")")
		})
	}
}

// TestQuantizeHoldoutDiffers checks that the held-out figure is not the
// calibration one in disguise: on held-out data wider than the calibration
// data, some of it saturates, and the SQNR is lower.
func TestQuantizeHoldoutDiffers(t *testing.T) {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	require.NoError(t, err)
	calib := datasets.Gaussian(128, g.InputShape(), 0, 1, 2).X
	wide := datasets.Gaussian(64, g.InputShape(), 0, 3, 5).X
	_, onCalib, err := Quantize(context.Background(), g, BatchesOf(calib, 32), nil)
	require.NoError(t, err)
	_, onWide, err := Quantize(context.Background(), g, BatchesOf(calib, 32), &Config{Holdout: &Data{X: wide}})
	require.NoError(t, err)
	assert.Greater(t, onCalib.OutputSQNR-onWide.OutputSQNR, 3.0,
		"calibration %.2f dB, held-out 3x wider %.2f dB", onCalib.OutputSQNR, onWide.OutputSQNR)
}

func TestQuantizeHoldoutErrors(t *testing.T) {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	require.NoError(t, err)
	calib := datasets.Gaussian(32, g.InputShape(), 0, 1, 2).X
	cases := []struct {
		name    string
		holdout *Data
		is      error
		says    []string
	}{
		{name: "no samples", holdout: &Data{}, is: ErrNoEvaluationData, says: []string{"holdout", "no samples"}},
		{name: "labels do not match the samples", holdout: &Data{X: datasets.Gaussian(4, g.InputShape(), 0, 1, 3).X, Labels: []int{0}},
			is: ErrShape, says: []string{"holdout", "1 labels"}},
		{name: "samples of another shape", holdout: &Data{X: datasets.Gaussian(4, []int{7}, 0, 1, 3).X},
			says: []string{"held-out set of shape [4 7]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, rep, err := Quantize(context.Background(), g, BatchesOf(calib, 16), &Config{Holdout: tc.holdout})
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Nil(t, rep)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
				assert.ErrorIs(t, (&Config{Holdout: tc.holdout}).Validate(), tc.is, "Validate refuses it before any calibration")
			}
			for _, s := range tc.says {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestQuantizeHoldoutCancelled checks that measuring a held-out set stops
// on a cancelled context.
func TestQuantizeHoldoutCancelled(t *testing.T) {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	x := datasets.Gaussian(32, g.InputShape(), 0, 1, 2).X
	m := &Model{}
	cancel()
	err = measure(ctx, g, m, x, &Report{})
	assert.ErrorIs(t, err, context.Canceled)
}
