package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// Defaults shared by ptq mnist, quantize and sensitivity.
const (
	defaultCalib      = 1000 // calibration images: the first N training images
	defaultCalibBatch = 100
	defaultSensEval   = 2000 // sensitivity analysis: the first N test images
	defaultThreshold  = 0.5  // points of accuracy that make a layer sensitive
	defaultBudget     = 1.0  // points of accuracy int8 may lose
	evalBatch         = 500  // batch size of accuracy evaluation
)

// Files WriteAll does not write, next to the report.
const (
	sensitivityCSV      = "sensitivity.csv"
	sensitivityJSON     = "sensitivity.json"
	sensitivityMarkdown = "sensitivity.md"
)

// ptqFlags are the quantization flags ptq mnist, quantize and sensitivity
// share.
type ptqFlags struct {
	calib      int
	calibBatch int
	method     string
	eval       int     // test images for FP32 vs INT8; 0 means all
	sensEval   int     // test images for the sensitivity analysis; 0 skips it
	threshold  float64 // points
	budget     float64 // points
	fallback   bool
	out        string
	json       bool
	// compare is set for commands that compare FP32 and INT8 on the test
	// set (-eval, -budget, -fallback).
	compare bool
}

// bind registers the shared flags on fs with the given defaults of
// -sens-eval and -out. withEval adds the flags of commands that compare
// FP32 and INT8 on the test set: -eval, -budget and -fallback.
func (f *ptqFlags) bind(fs *flag.FlagSet, sensEval int, out string, withEval bool) {
	fs.IntVar(&f.calib, "calib", defaultCalib, "calibrate on the first N MNIST training images")
	fs.IntVar(&f.calibBatch, "calib-batch", defaultCalibBatch, "calibration batch size")
	fs.StringVar(&f.method, "method", quant.MethodMinMax.String(), "calibration method: "+methodNames())
	fs.IntVar(&f.sensEval, "sens-eval", sensEval, "run the sensitivity analysis on the first N MNIST test images (0: skip it)")
	fs.Float64Var(&f.threshold, "threshold", defaultThreshold, "accuracy drop or recovery, in points, that marks a layer sensitive")
	fs.StringVar(&f.out, "out", out, "folder for the report files (\"\": write none)")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	f.compare = withEval
	if withEval {
		fs.IntVar(&f.eval, "eval", 0, "compare FP32 and INT8 on the first N MNIST test images (0: all 10,000)")
		fs.Float64Var(&f.budget, "budget", defaultBudget, "accuracy drop INT8 may cost, in points (> 0)")
		fs.BoolVar(&f.fallback, "fallback", false, "when INT8 loses more than -budget on the sensitivity images, revert the most sensitive layers to FP32 until it fits")
	}
}

// check refuses values no run can use.
func (f *ptqFlags) check() error {
	switch {
	case f.calib <= 0:
		return usageErrorf("-calib is %d, want > 0", f.calib)
	case f.calibBatch <= 0:
		return usageErrorf("-calib-batch is %d, want > 0", f.calibBatch)
	case !knownMethod(f.method):
		return usageErrorf("-method: unknown calibration method %q (known: %s)", f.method, methodNames())
	case f.eval < 0:
		return usageErrorf("-eval is %d, want >= 0", f.eval)
	case f.sensEval < 0:
		return usageErrorf("-sens-eval is %d, want >= 0", f.sensEval)
	case !(f.threshold >= 0) || math.IsInf(f.threshold, 1):
		return usageErrorf("-threshold is %v, want a finite number of points >= 0", f.threshold)
	case f.compare && (!(f.budget > 0) || math.IsInf(f.budget, 1)):
		return usageErrorf("-budget is %v, want a finite number of points > 0", f.budget)
	case f.fallback && f.sensEval == 0:
		return usageErrorf("-fallback needs the sensitivity images: -sens-eval is 0")
	}
	return nil
}

// checkSizes refuses image counts beyond the MNIST sets, before any
// model is trained or loaded.
func (f *ptqFlags) checkSizes(train, test *datasets.Dataset) error {
	for _, c := range []struct {
		flag string
		n    int
		set  *datasets.Dataset
		what string
	}{{"-calib", f.calib, train, "training"}, {"-eval", f.eval, test, "test"}, {"-sens-eval", f.sensEval, test, "test"}} {
		if c.n > c.set.Len() {
			return usageErrorf("%s is %s, but the MNIST %s set holds %s images", c.flag, thousands(c.n), c.what, thousands(c.set.Len()))
		}
	}
	return nil
}

// config returns the quantization configuration the flags ask for.
func (f *ptqFlags) config() ptq.Config {
	cfg := ptq.Config{}
	cfg.Method, _ = quant.ParseMethod(f.method) // checked by check
	return cfg
}

// methodNames lists the calibration methods' names, comma-separated.
func methodNames() string {
	var names []string
	for _, m := range quant.Methods() {
		names = append(names, m.String())
	}
	return strings.Join(names, ", ")
}

// knownMethod reports whether name is a calibration method's name.
func knownMethod(name string) bool {
	_, err := quant.ParseMethod(name)
	return err == nil
}

// describeConfig renders a configuration in one line for reports.
func describeConfig(c ptq.Config) string {
	cfg := c.WithDefaults()
	return fmt.Sprintf("weights %v, activations %v, %s calibration", *cfg.Weights, *cfg.Activations, cfg.Method)
}

// phases records the wall-clock seconds of each phase of a command, in
// the order they ran.
type phases struct {
	start time.Time
	names []string
	secs  map[string]float64
}

func newPhases() *phases { return &phases{start: time.Now(), secs: map[string]float64{}} }

// add records d under name, adding to an earlier phase of that name.
func (p *phases) add(name string, d time.Duration) {
	if _, ok := p.secs[name]; !ok {
		p.names = append(p.names, name)
	}
	p.secs[name] += d.Seconds()
}

// time runs f and records its duration under name.
func (p *phases) time(name string, f func() error) error {
	t := time.Now()
	err := f()
	p.add(name, time.Since(t))
	return err
}

// total returns the seconds since the command started.
func (p *phases) total() float64 { return time.Since(p.start).Seconds() }

// String lists the phases in order, "load data 0.81 s, calibrate 0.03 s".
func (p *phases) String() string {
	parts := make([]string, len(p.names))
	for i, n := range p.names {
		parts[i] = fmt.Sprintf("%s %s", strings.ReplaceAll(n, "_", " "), seconds(p.secs[n]))
	}
	return strings.Join(parts, ", ")
}

// seconds renders a duration readably: "<1 ms", "25 ms", "1.4 s", "12 s".
func seconds(s float64) string {
	switch {
	case s < 0.001:
		return "<1 ms"
	case s < 1:
		return fmt.Sprintf("%.0f ms", 1000*s)
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

// loadMNIST loads the MNIST training and test sets, timed as "load_data".
func loadMNIST(ph *phases) (train, test *datasets.Dataset, err error) {
	err = ph.time("load_data", func() error {
		train, test, err = datasets.LoadMNIST("")
		return err
	})
	return train, test, err
}

// loadSets loads the MNIST training and test sets and refuses image
// counts beyond them (checkSizes), before any model is trained or loaded.
func (f *ptqFlags) loadSets(ph *phases) (train, test *datasets.Dataset, err error) {
	if train, test, err = loadMNIST(ph); err != nil {
		return nil, nil, err
	}
	if err := f.checkSizes(train, test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// bindModelFile registers -model FILE, the FP32 model of ptq quantize and
// sensitivity.
func bindModelFile(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "model", "", "FP32 model file saved by 'ptq train' (required)")
}

// checkModelFile refuses a missing -model FILE.
func checkModelFile(path string) error {
	if path == "" {
		return usageErrorf("-model is required: a model file saved by 'ptq train'")
	}
	return nil
}

// fileInputs is what ptq quantize and sensitivity work on: the MNIST sets
// and an FP32 model file.
type fileInputs struct {
	train, test *datasets.Dataset
	graph       *nn.Graph
	name        string // the model's name in reports: the file's base name
}

// loadFileInputs loads the MNIST sets (loadSets), then the model file
// (loadModelFile).
func loadFileInputs(f *ptqFlags, file string, ph *phases) (*fileInputs, error) {
	train, test, err := f.loadSets(ph)
	if err != nil {
		return nil, err
	}
	g, err := loadModelFile(file, ph)
	if err != nil {
		return nil, err
	}
	return &fileInputs{train: train, test: test, graph: g, name: modelNameOf(file)}, nil
}

// first returns the first n samples of d, or all of them when n is 0.
func first(d *datasets.Dataset, n int) (*datasets.Dataset, error) {
	if n == 0 {
		return d, nil
	}
	return d.Subset(0, n)
}

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

// write writes the report files and the sensitivity files into the
// output folder.
func (j *job) write(o *outcome) error {
	paths, err := report.WriteAll(j.flags.out, j.reportRun(o))
	o.files = append(o.files, paths...)
	if err != nil {
		return err
	}
	if o.sens != nil {
		paths, err := writeSensitivity(j.flags.out, o.sens)
		o.files = append(o.files, paths...)
		return err
	}
	return nil
}

// writeSensitivity writes the analysis as CSV, JSON and Markdown into dir
// and returns the paths written.
func writeSensitivity(dir string, s *ptq.SensitivityReport) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, w := range []struct {
		name  string
		write func(*os.File) error
	}{
		{sensitivityCSV, func(f *os.File) error { return s.WriteCSV(f) }},
		{sensitivityJSON, func(f *os.File) error { return s.WriteJSON(f) }},
		{sensitivityMarkdown, func(f *os.File) error { _, err := f.WriteString(s.Markdown()); return err }},
	} {
		path := filepath.Join(dir, w.name)
		f, err := os.Create(path)
		if err != nil {
			return paths, err
		}
		err = w.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("%s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// loadModelFile reads an FP32 model saved by ptq train (nn.SaveFile),
// timed as "load_model".
func loadModelFile(path string, ph *phases) (*nn.Graph, error) {
	var g *nn.Graph
	err := ph.time("load_model", func() (err error) {
		g, err = nn.LoadFile(path)
		return err
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("model file %s does not exist (make one with 'ptq train -out %s')", path, path)
	}
	return g, err
}

// modelNameOf names a model file in reports: its base name without the
// extension.
func modelNameOf(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// thousands writes n with comma separators, "10,000".
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
