package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
	"github.com/ptqspec/ptqspec/pkg/tensor"
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
	// The layers are chosen (sensitivity, fallback) on training images
	// calibration did not read and judged on the test images.
	if o.sensEval, err = selectionImages(j.train, f.sensEval, o.calib.Len()); err != nil {
		return nil, err
	}
	o.cfg.Holdout = holdout(o)
	if err := j.quantize(ctx, o); err != nil {
		return nil, err
	}
	if err := j.ph.step("evaluate_fp32", batchCount(o.eval.Len(), evalBatch), func(b *bar) (err error) {
		o.fp32, err = ptq.Accuracy(watch(ctx, ptq.FP32Model(j.graph), b, o.eval.Len()), ptq.Data{X: o.eval.X, Labels: o.eval.Labels}, evalBatch)
		return err
	}); err != nil {
		return nil, wrapUnlessInterrupted(err, "FP32 model on %s", o.eval.Name)
	}
	if err := j.evaluateInt8(ctx, o); err != nil {
		return nil, err
	}
	if o.sensEval != nil {
		if err := j.ph.step("sensitivity", 0, func(b *bar) (err error) {
			o.sens, err = ptq.AnalyzeSensitivity(ctx, j.graph, ptq.BatchesOf(o.calib.X, f.calibBatch), ptq.Data{X: o.sensEval.X, Labels: o.sensEval.Labels, Name: o.sensEval.Name},
				&ptq.SensitivityOptions{Config: o.cfg, Threshold: f.threshold / 100, BatchSize: evalBatch, Progress: b.set})
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
		if err := j.ph.step("report", 0, func(b *bar) error { return j.write(ctx, o, b) }); err != nil {
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
	j.ph.prog.wait()
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
// Its bar counts the calibration batches.
func (j *job) quantize(ctx context.Context, o *outcome) error {
	if err := ctx.Err(); err != nil {
		return interrupted(ctx, "calibrate", err)
	}
	nb := batchCount(o.calib.Len(), j.flags.calibBatch)
	b := j.ph.prog.phase("calibrate", nb)
	m, rep, err := ptq.Quantize(ctx, j.graph, counted(ptq.BatchesOf(o.calib.X, j.flags.calibBatch), b, nb), &o.cfg)
	b.finish(err)
	if err != nil {
		return interrupted(ctx, "calibrate", err)
	}
	o.model, o.rep = m, rep
	j.ph.add("traverse", rep.Times.Traverse)
	j.ph.add("calibrate", rep.Times.Calibrate)
	j.ph.add("convert", rep.Times.Convert)
	j.ph.add("layer_sqnr", rep.Times.Evaluate)
	return nil
}

// evaluateInt8 measures the accuracy of o.model on o.eval.
func (j *job) evaluateInt8(ctx context.Context, o *outcome) error {
	err := j.ph.step("evaluate_int8", batchCount(o.eval.Len(), evalBatch), func(b *bar) (err error) {
		o.int8, err = ptq.Accuracy(watch(ctx, o.model, b, o.eval.Len()), ptq.Data{X: o.eval.X, Labels: o.eval.Labels}, evalBatch)
		return err
	})
	return wrapUnlessInterrupted(err, "INT8 model on %s", o.eval.Name)
}

// applyFallback reverts the most sensitive layers to FP32 until the drop
// on the selection images fits the budget, then quantizes the model
// again with those layers kept in FP32 (the same model, with a full
// report) and evaluates it on the test images.
func (j *job) applyFallback(ctx context.Context, o *outcome) error {
	f := &j.flags
	err := j.ph.step("fallback", 0, func(b *bar) (err error) {
		_, o.fallback, err = ptq.QuantizeWithBudget(ctx, j.graph, ptq.BatchesOf(o.calib.X, f.calibBatch), ptq.Data{X: o.sensEval.X, Labels: o.sensEval.Labels, Name: o.sensEval.Name},
			&ptq.SensitivityOptions{Config: o.cfg, MaxDrop: f.budget / 100, BatchSize: evalBatch, Progress: b.set})
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
	return j.evaluateInt8(ctx, o)
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
	config := describeConfig(o.cfg) + fmt.Sprintf(" on the first %s MNIST training images; accuracy on %s MNIST test images", thousands(o.calib.Len()), thousands(o.eval.Len()))
	if o.sensEval != nil {
		config += "; layers chosen (sensitivity, fallback) on " + o.sensEval.Name
	}
	return &report.Run{
		Title: j.title, Model: j.model,
		Config:       config,
		FP32Accuracy: o.fp32, Int8Accuracy: o.int8,
		MaxDrop: j.flags.budget / 100, Quant: o.rep, Sensitivity: o.sens, Fallback: o.fallback,
		Timings: j.ph.secs,
	}
}

// batchCount returns the batches of size bs that n samples make.
func batchCount(n, bs int) int { return (n + bs - 1) / bs }

// counted passes src through, advancing b by one of total after each
// batch of the first pass (Quantize reads the first batches again to
// measure the result).
func counted(src ptq.Batches, b *bar, total int) ptq.Batches {
	passes := 0
	return func(yield func(*tensor.Tensor, error) bool) {
		passes++
		firstPass, i := passes == 1, 0
		for x, err := range src {
			if !yield(x, err) {
				return
			}
			if i++; firstPass {
				b.set(i, total)
			}
		}
	}
}

// watched is a Forwarder that checks a context before every batch, so
// that an evaluation stops within one batch of an interrupt, and advances
// a bar after it.
type watched struct {
	ctx   context.Context
	f     ptq.Forwarder
	b     *bar
	total int
	done  atomic.Int64
}

// watch returns f watched by ctx, advancing b by one of the batches of n
// samples after each batch.
func watch(ctx context.Context, f ptq.Forwarder, b *bar, n int) *watched {
	return &watched{ctx: ctx, f: f, b: b, total: batchCount(n, evalBatch)}
}

// Forward runs the wrapped Forwarder unless ctx is cancelled.
func (w *watched) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	out, err := w.f.Forward(x)
	if err == nil {
		w.b.set(int(w.done.Add(1)), w.total)
	}
	return out, err
}

// wrapUnlessInterrupted prefixes err with what failed, leaving an
// interruptError (which names its phase) as it is.
func wrapUnlessInterrupted(err error, format string, args ...any) error {
	var ie *interruptError
	if err == nil || errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// holdoutImages caps the images the report's output and layer SQNR are
// measured on: enough for a stable figure (the SQNR of 1,000 MNIST images
// moves by hundredths of a dB between slices), few enough to cost less
// than the accuracy evaluation.
const holdoutImages = 1000

// holdout returns the images the quantizer's report measures its SQNR on,
// images calibration never read: the selection images when there are
// some, otherwise the first test images.
func holdout(o *outcome) *ptq.Data {
	d, what := o.sensEval, "selection images"
	if d == nil {
		d, what = o.eval, "evaluation images"
	}
	if d == nil || d.Len() == 0 {
		return nil
	}
	n := min(d.Len(), holdoutImages)
	if n < d.Len() {
		s, err := d.Subset(0, n)
		if err != nil {
			return nil
		}
		d = s
	}
	return &ptq.Data{X: d.X, Labels: d.Labels, Name: fmt.Sprintf("the first %s %s", thousands(n), what)}
}
