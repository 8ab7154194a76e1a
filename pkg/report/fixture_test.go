package report

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// fixture is a Run built once from a real quantization, sensitivity
// analysis and fallback of a small residual CNN, so that every chart has
// real data.
var fixture struct {
	once sync.Once
	run  *Run
	err  error
}

// testRun returns a copy of the fixture run that a test may modify (see
// cloneRun for how deep).
func testRun(t testing.TB) *Run {
	t.Helper()
	fixture.once.Do(func() { fixture.run, fixture.err = buildRun() })
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return cloneRun(fixture.run)
}

// teacherLabels labels x with the FP32 model's own predictions: FP32
// accuracy is 1 and int8 accuracy is the top-1 agreement with FP32.
func teacherLabels(g *nn.Graph, d *datasets.Dataset) (*datasets.Dataset, error) {
	out, err := g.Forward(d.X, nn.Eval)
	if err != nil {
		return nil, err
	}
	classes := out.Dim(1)
	d.Labels, d.Classes = make([]int, d.Len()), classes
	for i := range d.Labels {
		best := 0
		for c := 1; c < classes; c++ {
			if out.At(i, c) > out.At(i, best) {
				best = c
			}
		}
		d.Labels[i] = best
	}
	return d, nil
}

// buildRun quantizes ResidualCNN(3x4x4, 10 classes) on random images.
func buildRun() (*Run, error) {
	ctx := context.Background()
	g, err := models.ResidualCNN(1, 3, 4, 4, 10)
	if err != nil {
		return nil, err
	}
	calib := datasets.RandomImages(64, 3, 4, 4, 2)
	eval, err := teacherLabels(g, datasets.RandomImages(200, 3, 4, 4, 3))
	if err != nil {
		return nil, err
	}
	cfg := ptq.Config{}
	m, rep, err := ptq.Quantize(ctx, g, ptq.BatchesOf(calib.X, 8), &cfg)
	if err != nil {
		return nil, err
	}
	fp32, err := ptq.Accuracy(ptq.FP32Model(g), ptq.Data{X: eval.X, Labels: eval.Labels}, 100)
	if err != nil {
		return nil, err
	}
	int8, err := ptq.Accuracy(m, ptq.Data{X: eval.X, Labels: eval.Labels}, 100)
	if err != nil {
		return nil, err
	}
	sens, err := ptq.AnalyzeSensitivity(ctx, g, ptq.BatchesOf(calib.X, 8), ptq.Data{X: eval.X, Labels: eval.Labels}, &ptq.SensitivityOptions{Config: cfg, Threshold: 0.01})
	if err != nil {
		return nil, err
	}
	_, fb, err := ptq.QuantizeWithBudget(ctx, g, ptq.BatchesOf(calib.X, 8), ptq.Data{X: eval.X, Labels: eval.Labels}, &ptq.SensitivityOptions{Config: cfg, MaxDrop: 0.01})
	if err != nil {
		return nil, err
	}
	if fp32 != 1 || len(fb.Reverted) == 0 {
		return nil, fmt.Errorf("fixture: FP32 accuracy %v (want 1) and %d reverted layers (want some): the task changed", fp32, len(fb.Reverted))
	}
	return &Run{
		Title: "ResidualCNN <small> & random", Model: "residual", Config: "int8 per-channel symmetric weights | per-tensor affine activations, minmax",
		CalibrationSamples: 64, FP32Accuracy: fp32, Int8Accuracy: int8, FP32Bytes: rep.FP32Bytes, Int8Bytes: rep.Int8Bytes,
		MaxDrop: 0.01, SQNRReference: 30, Quant: rep, Sensitivity: sens, Fallback: fb,
		Timings: map[string]float64{"calibrate": rep.Times.Calibrate.Seconds(), "convert": rep.Times.Convert.Seconds(),
			"evaluate": rep.Times.Evaluate.Seconds(), "sensitivity": sens.Seconds, "fallback": fb.Seconds},
	}, nil
}

// cloneRun copies r deeply enough for tests to change any field, layer,
// weight report, calibration step or sensitivity row without touching r.
func cloneRun(r *Run) *Run {
	c := *r
	q := *r.Quant
	q.Layers = slices.Clone(q.Layers)
	for i, l := range q.Layers {
		if l.Weights != nil {
			w := *l.Weights
			q.Layers[i].Weights = &w
		}
		if l.Output != nil {
			o := *l.Output
			q.Layers[i].Output = &o
		}
		if l.SQNR != nil {
			v := *l.SQNR
			q.Layers[i].SQNR = &v
		}
	}
	if q.Calibration != nil {
		cal := *q.Calibration
		cal.History = slices.Clone(cal.History)
		q.Calibration = &cal
	}
	c.Quant = &q
	if r.Sensitivity != nil {
		s := *r.Sensitivity
		s.Layers = slices.Clone(s.Layers)
		s.Sensitive = slices.Clone(s.Sensitive)
		c.Sensitivity = &s
	}
	if r.Fallback != nil {
		f := *r.Fallback
		f.Reverted = slices.Clone(f.Reverted)
		c.Fallback = &f
	}
	if r.Timings != nil {
		c.Timings = make(map[string]float64, len(r.Timings))
		for k, v := range r.Timings {
			c.Timings[k] = v
		}
	}
	return &c
}
