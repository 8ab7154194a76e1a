package ptq

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestNilMisuse calls every exported function and method of ptq with a nil
// receiver or nil and zero arguments. None may panic; those that return an
// error return one wrapping the listed sentinel, and the others return
// their zero value.
func TestNilMisuse(t *testing.T) {
	ctx := context.Background()
	var (
		m    *Model
		c    *Calibrator
		p    *Plan
		pr   *Prepared
		rep  *Report
		sens *SensitivityReport
		fb   *FallbackReport
		cfg  *Config
	)
	x := tensor.New(2, 4)
	g := mlp(t, 8)
	cases := []struct {
		name string
		call func() error // returns the error of a call that has one, nil otherwise
		want error        // nil: the call has no error result
	}{
		{"Quantize nil model", func() error { _, _, err := Quantize(ctx, nil, BatchesOf(x, 2), nil); return err }, ErrNilModel},
		{"Quantize nil data", func() error { _, _, err := Quantize(ctx, g, nil, nil); return err }, ErrNoCalibrationData},
		{"QuantizeDynamic nil model", func() error { _, _, err := QuantizeDynamic(ctx, nil, nil); return err }, ErrNilModel},
		{"QuantizeWithBudget nil model", func() error {
			_, _, err := QuantizeWithBudget(ctx, nil, BatchesOf(x, 2), Data{X: x}, nil)
			return err
		}, ErrNilModel},
		{"QuantizeWithBudget no data", func() error { _, _, err := QuantizeWithBudget(ctx, g, nil, Data{}, nil); return err }, ErrNoEvaluationData},
		{"AnalyzeSensitivity nil model", func() error {
			_, err := AnalyzeSensitivity(ctx, nil, BatchesOf(x, 2), Data{X: x}, nil)
			return err
		}, ErrNilModel},
		{"AnalyzeSensitivity no data", func() error { _, err := AnalyzeSensitivity(ctx, g, nil, Data{}, nil); return err }, ErrNoEvaluationData},
		{"Accuracy nil forwarder", func() error { _, err := Accuracy(nil, Data{X: x, Labels: []int{0, 1}}, 1); return err }, ErrNilModel},
		{"Accuracy nil model", func() error { _, err := Accuracy(m, Data{X: x, Labels: []int{0, 1}}, 1); return err }, ErrNilModel},
		{"Accuracy FP32Model(nil)", func() error { _, err := Accuracy(FP32Model(nil), Data{X: x, Labels: []int{0, 1}}, 1); return err }, ErrNilModel},
		{"Accuracy no data", func() error { _, err := Accuracy(FP32Model(g), Data{}, 1); return err }, ErrNoEvaluationData},
		{"Accuracy batch size 0", func() error { _, err := Accuracy(FP32Model(g), Data{X: x, Labels: []int{0, 1}}, 0); return err }, ErrInvalidConfig},
		{"FP32Model(nil).Forward", func() error { _, err := FP32Model(nil).Forward(x); return err }, ErrNilModel},
		{"BatchesOf nil", func() error {
			for _, err := range BatchesOf(nil, 2) {
				return err
			}
			return nil
		}, ErrShape},
		{"Traverse nil model", func() error { _, err := Traverse(nil, nil); return err }, ErrNilModel},
		{"Prepare nil model", func() error { _, err := Prepare(nil, nil); return err }, ErrNilModel},
		{"NewCalibrator nil model", func() error { _, err := NewCalibrator(nil, nil, CalibrationOptions{}); return err }, ErrNilModel},
		{"nil Config is valid", func() error { return cfg.Validate() }, nil},
		{"nil Config defaults", func() error { _ = cfg.WithDefaults(); return nil }, nil},
		{"Prepared.Convert", func() error { _, err := pr.Convert(); return err }, ErrNilModel},
		{"Calibrator.Observe", func() error { return c.Observe(x) }, ErrNilModel},
		{"Calibrator.Run", func() error { return c.Run(ctx, BatchesOf(x, 1)) }, ErrNilModel},
		{"Calibrator.QParams", func() error { _, err := c.QParams("x"); return err }, ErrNilModel},
		{"Calibrator getters", func() error {
			_, _ = c.Converged()
			_, _ = c.Stats("x")
			_, _, _, _ = c.Batches(), c.Samples(), c.History(), c.Observed()
			return nil
		}, nil},
		{"Plan methods", func() error {
			_, _ = p.Node("x")
			_, _, _, _, _ = p.Boundaries(), p.Count(Quantized), p.ObservedTensors(), p.QuantizedNodes(), p.String()
			return nil
		}, nil},
		{"Model.Forward", func() error { _, err := m.Forward(x); return err }, ErrNilModel},
		{"Model.Outputs", func() error { _, err := m.Outputs(x); return err }, ErrNilModel},
		{"Model.Trace", func() error { _, err := m.Trace(x); return err }, ErrNilModel},
		{"Model.Inspect", func() error { _, err := m.Inspect(); return err }, ErrNilModel},
		{"Model.Save", func() error { return m.Save(&bytes.Buffer{}) }, ErrNilModel},
		{"Model.SaveFile", func() error { return m.SaveFile(filepath.Join(t.TempDir(), "m")) }, ErrNilModel},
		{"Model getters", func() error {
			_, _ = m.Weights("x")
			_, _, _, _, _, _, _ = m.Bytes(), m.Input(), m.InputShape(), m.Layers(), m.Mode(), m.Output(), m.Plan()
			return nil
		}, nil},
		{"LoadModel nil reader", func() error { _, err := LoadModel(nil); return err }, errAny},
		{"Report methods", func() error {
			_, _ = rep.Layer("x")
			_, _, _ = rep.Markdown(), rep.QuantizedLayers(), rep.String()
			return nil
		}, nil},
		{"Report.WriteJSON", func() error { return rep.WriteJSON(&bytes.Buffer{}) }, ErrNilReport},
		{"SensitivityReport methods", func() error {
			sens.Sort()
			_, _ = sens.Markdown(), sens.Ranking()
			return nil
		}, nil},
		{"SensitivityReport.WriteJSON", func() error { return sens.WriteJSON(&bytes.Buffer{}) }, ErrNilReport},
		{"SensitivityReport.WriteCSV", func() error { return sens.WriteCSV(&bytes.Buffer{}) }, ErrNilReport},
		{"FallbackReport.String", func() error { _ = fb.String(); return nil }, nil},
		{"NodeError with nil cause", func() error { _ = (&NodeError{Node: "n"}).Error(); return nil }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			assert.NotPanics(t, func() { err = c.call() })
			switch c.want {
			case nil:
				assert.NoError(t, err)
			case errAny:
				assert.Error(t, err)
			default:
				assert.ErrorIs(t, err, c.want)
			}
		})
	}
}

// errAny stands for "some error" in TestNilMisuse.
var errAny = errors.New("any error")
