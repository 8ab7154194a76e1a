package main

import (
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// The flags ptq mnist, quantize and sensitivity share, and their checks.

// Defaults shared by ptq mnist, quantize and sensitivity.
const (
	defaultCalib      = 1000 // calibration images: the first N training images
	defaultCalibBatch = 100
	defaultSensEval   = 2000 // sensitivity analysis and fallback: the last N training images
	defaultThreshold  = 0.5  // points of accuracy that make a layer sensitive
	defaultBudget     = 1.0  // points of accuracy int8 may lose
	evalBatch         = 500  // batch size of accuracy evaluation
)

// ptqFlags are the quantization flags ptq mnist, quantize and sensitivity
// share.
type ptqFlags struct {
	calib      int
	calibBatch int
	method     string
	eval       int     // test images for FP32 vs INT8; 0 means all
	sensEval   int     // selection images (the last training images) for the sensitivity analysis and fallback; 0 skips them
	threshold  float64 // points
	budget     float64 // points
	fallback   bool
	out        string
	json       bool
	quiet      bool // no progress bars
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
	fs.IntVar(&f.sensEval, "sens-eval", sensEval, "choose layers (sensitivity analysis, fallback) on the last N MNIST training images, held out from calibration (0: skip it)")
	fs.Float64Var(&f.threshold, "threshold", defaultThreshold, "accuracy drop or recovery, in points, that marks a layer sensitive")
	fs.StringVar(&f.out, "out", out, "folder for the report files (\"\": write none)")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line (and no progress bars)")
	fs.BoolVar(&f.quiet, "quiet", false, "draw no progress bars (they are drawn only when stderr is a terminal)")
	f.compare = withEval
	if withEval {
		fs.IntVar(&f.eval, "eval", 0, "compare FP32 and INT8 on the first N MNIST test images (0: all 10,000)")
		fs.Float64Var(&f.budget, "budget", defaultBudget, "accuracy drop INT8 may cost, in points (> 0)")
		fs.BoolVar(&f.fallback, "fallback", false, "when INT8 loses more than -budget on the test images, revert the most sensitive layers to FP32 until it fits on the selection images (-sens-eval)")
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
	}{{"-calib", f.calib, train, "training"}, {"-eval", f.eval, test, "test"}, {"-sens-eval", f.sensEval, train, "training"}} {
		if c.n > c.set.Len() {
			return usageErrorf("%s is %s, but the MNIST %s set holds %s images", c.flag, thousands(c.n), c.what, thousands(c.set.Len()))
		}
	}
	_, err := selectionImages(train, f.sensEval, f.calib)
	return err
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
