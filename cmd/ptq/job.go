package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// job is one post-training quantization of an FP32 MNIST model: what to
// calibrate and evaluate on, and where to report.
type job struct {
	model string // the model's name in reports: "mlp", or a model file's base name
	title string
	graph *nn.Graph
	flags ptqFlags
	// train and test are the MNIST sets.
	train, test *datasets.Dataset
	ph          *phases
}

// outcome is what a job produced.
type outcome struct {
	calib, eval, sensEval *datasets.Dataset
	cfg                   ptq.Config // the configuration of the final model
	model                 *ptq.Model
	rep                   *ptq.Report
	fp32, int8            float64 // accuracies on eval
	sens                  *ptq.SensitivityReport
	fallback              *ptq.FallbackReport
	files                 []string
}

// drop returns the accuracy INT8 loses against FP32, in points.
func (o *outcome) drop() float64 { return 100 * (o.fp32 - o.int8) }

// run quantizes the model statically, compares FP32 and INT8 accuracy,
// analyses sensitivity, applies the fallback if asked and needed, and
// writes the report files.
func (j *job) run(ctx context.Context) (*outcome, error) {
	f := &j.flags
	o := &outcome{cfg: f.config()}
	if err := f.checkSizes(j.train, j.test); err != nil {
		return nil, err
	}
	var err error
	if o.calib, err = first(j.train, f.calib); err != nil {
		return nil, err
	}
	if o.eval, err = first(j.test, f.eval); err != nil {
		return nil, err
	}
	if f.sensEval > 0 {
		if o.sensEval, err = first(j.test, f.sensEval); err != nil {
			return nil, err
		}
	}
	if err := j.quantize(ctx, o); err != nil {
		return nil, err
	}
	if err := j.ph.time("evaluate_fp32", func() (err error) {
		o.fp32, err = ptq.Accuracy(ptq.FP32Model(j.graph), ptq.Data{X: o.eval.X, Labels: o.eval.Labels}, evalBatch)
		return err
	}); err != nil {
		return nil, fmt.Errorf("FP32 model on %s: %w", o.eval.Name, err)
	}
	if err := j.evaluateInt8(o); err != nil {
		return nil, err
	}
	if o.sensEval != nil {
		if err := j.ph.time("sensitivity", func() (err error) {
			o.sens, err = ptq.AnalyzeSensitivity(ctx, j.graph, ptq.BatchesOf(o.calib.X, f.calibBatch), ptq.Data{X: o.sensEval.X, Labels: o.sensEval.Labels}, &ptq.SensitivityOptions{Config: o.cfg, Threshold: f.threshold / 100, BatchSize: evalBatch})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if f.fallback && o.drop() > f.budget {
		if err := j.applyFallback(ctx, o); err != nil {
			return nil, err
		}
	}
	if f.out != "" {
		if err := j.ph.time("report", func() error { return j.write(o) }); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// runAndReport runs the job (ptq mnist and quantize), saves the final
// model to save when it is set (saveModel), and prints the summary to w;
// with -json it prints the JSON line last, after fill has added how the
// model was obtained.
func (j *job) runAndReport(ctx context.Context, save string, w io.Writer, fill func(*summary)) error {
	o, err := j.run(ctx)
	if err != nil {
		return err
	}
	if err := saveModel(save, o, j.ph, w); err != nil {
		return err
	}
	printSummary(w, j, o)
	if !j.flags.json {
		return nil
	}
	s := newSummary(j, o)
	fill(&s)
	return printJSON(w, savedSummary{s, save})
}

// quantize quantizes j.graph with o.cfg on o.calib, recording the
// quantizer's phases.
func (j *job) quantize(ctx context.Context, o *outcome) error {
	m, rep, err := ptq.Quantize(ctx, j.graph, ptq.BatchesOf(o.calib.X, j.flags.calibBatch), &o.cfg)
	if err != nil {
		return err
	}
	o.model, o.rep = m, rep
	j.ph.add("traverse", rep.Times.Traverse)
	j.ph.add("calibrate", rep.Times.Calibrate)
	j.ph.add("convert", rep.Times.Convert)
	j.ph.add("layer_sqnr", rep.Times.Evaluate)
	return nil
}

// evaluateInt8 measures the accuracy of o.model on o.eval.
func (j *job) evaluateInt8(o *outcome) error {
	err := j.ph.time("evaluate_int8", func() (err error) {
		o.int8, err = ptq.Accuracy(o.model, ptq.Data{X: o.eval.X, Labels: o.eval.Labels}, evalBatch)
		return err
	})
	if err != nil {
		return fmt.Errorf("INT8 model on %s: %w", o.eval.Name, err)
	}
	return nil
}

// applyFallback reverts the most sensitive layers to FP32 until the drop
// on the sensitivity images fits the budget, then quantizes the model
// again with those layers kept in FP32 (the same model, with a full
// report) and evaluates it.
func (j *job) applyFallback(ctx context.Context, o *outcome) error {
	f := &j.flags
	err := j.ph.time("fallback", func() (err error) {
		_, o.fallback, err = ptq.QuantizeWithBudget(ctx, j.graph, ptq.BatchesOf(o.calib.X, f.calibBatch), ptq.Data{X: o.sensEval.X, Labels: o.sensEval.Labels}, &ptq.SensitivityOptions{Config: o.cfg, MaxDrop: f.budget / 100, BatchSize: evalBatch})
		return err
	})
	if err != nil {
		return err
	}
	if len(o.fallback.Reverted) == 0 {
		return nil
	}
	for _, s := range o.fallback.Reverted {
		o.cfg.Overrides = append(o.cfg.Overrides, ptq.Override{Name: s.Layer, KeepFP32: true})
	}
	if err := j.quantize(ctx, o); err != nil {
		return err
	}
	return j.evaluateInt8(o)
}

// reverted returns the layers the fallback kept in FP32, in order.
func (o *outcome) reverted() []string {
	names := []string{}
	if o.fallback != nil {
		for _, s := range o.fallback.Reverted {
			names = append(names, s.Layer)
		}
	}
	return names
}

// reportRun returns the report.Run of the outcome.
func (j *job) reportRun(o *outcome) *report.Run {
	return &report.Run{
		Title: j.title, Model: j.model,
		Config:       describeConfig(o.cfg) + fmt.Sprintf(" on the first %s MNIST training images; accuracy on %s MNIST test images", thousands(o.calib.Len()), thousands(o.eval.Len())),
		FP32Accuracy: o.fp32, Int8Accuracy: o.int8,
		MaxDrop: j.flags.budget / 100, Quant: o.rep, Sensitivity: o.sens, Fallback: o.fallback,
		Timings: j.ph.secs,
	}
}
