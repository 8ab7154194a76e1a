package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func init() {
	register(command{name: "sensitivity", summary: "rank the layers of a saved model by what INT8 costs each on MNIST", run: runSensitivity})
}

// sensitivitySynopsis is the flag summary of ptq sensitivity.
const sensitivitySynopsis = "-model FILE [-calib 1000] [-method minmax] [-sens-eval 2000] [-threshold 0.5] [-out DIR] [-json]"

// sensitivityFlags are the parsed flags of ptq sensitivity.
type sensitivityFlags struct {
	file string
	ptqFlags
}

// parseSensitivityFlags parses and checks ptq sensitivity's flags.
func parseSensitivityFlags(args []string, stderr io.Writer) (sensitivityFlags, error) {
	var f sensitivityFlags
	fs := newFlagSet("sensitivity", sensitivitySynopsis, stderr)
	bindModelFile(fs, &f.file)
	f.bind(fs, defaultSensEval, "", false)
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if err := checkModelFile(f.file); err != nil {
		return f, err
	}
	if f.sensEval == 0 {
		return f, usageErrorf("-sens-eval is 0, want > 0 training images to choose layers on")
	}
	return f, f.check()
}

// sensitivitySummary is the JSON line of ptq sensitivity -json.
// Accuracies are fractions in [0, 1], the threshold is in points. The
// analysis's accuracies are measured on the selection images
// (SensitivitySet), the Test ones on the test images.
type sensitivitySummary struct {
	Model              string   `json:"model"`
	ModelFile          string   `json:"model_file"`
	Method             string   `json:"method"`
	CalibrationSamples int      `json:"calibration_samples"`
	SensitivityImages  int      `json:"sensitivity_images"`
	SensitivitySet     string   `json:"sensitivity_set"`
	FP32Accuracy       float64  `json:"fp32_accuracy"`
	AllInt8Accuracy    float64  `json:"all_int8_accuracy"`
	Threshold          float64  `json:"threshold"`
	Ranking            []string `json:"ranking"`
	SensitiveLayers    []string `json:"sensitive_layers"`
	testJudgement
	reportOutputs
}

// testJudgement is what the layers chosen on the selection images give on
// the test images: FP32, all INT8, and INT8 with the sensitive layers in
// FP32 (the all-INT8 model when no layer is sensitive).
type testJudgement struct {
	TestImages         int     `json:"test_images"`
	TestFP32           float64 `json:"test_fp32_accuracy"`
	TestAllInt8        float64 `json:"test_all_int8_accuracy"`
	TestSensitiveKept  float64 `json:"test_sensitive_fp32_accuracy"`
	TestSensitiveBytes int     `json:"test_sensitive_fp32_int8_bytes"`
}

func runSensitivity(args []string, stdout, stderr io.Writer) error {
	f, err := parseSensitivityFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := notifyContext()
	defer stop()
	prog := newProgress(stderr, f.quiet, f.json)
	defer prog.wait()
	ph := newPhases().watch(ctx, prog)
	in, err := loadFileInputs(&f.ptqFlags, f.file, ph)
	if err != nil {
		return err
	}
	calib, err := first(in.train, f.calib)
	if err != nil {
		return err
	}
	sel, err := selectionImages(in.train, f.sensEval, calib.Len())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s; calibration on the first %s MNIST training images; "+
		"layers chosen on the selection images, %s; judged on the %s MNIST test images\n",
		in.name, thousands(in.graph.NumParams()), f.file, thousands(calib.Len()), sel.Name, thousands(in.test.Len()))
	var rep *ptq.SensitivityReport
	if err := ph.step("sensitivity", 0, func(b *bar) (err error) {
		rep, err = ptq.AnalyzeSensitivity(ctx, in.graph, ptq.BatchesOf(calib.X, f.calibBatch), ptq.Data{X: sel.X, Labels: sel.Labels, Name: sel.Name},
			&ptq.SensitivityOptions{Config: f.config(), Threshold: f.threshold / 100, BatchSize: evalBatch, Progress: b.set})
		return err
	}); err != nil {
		return err
	}
	var judged testJudgement
	if err := ph.step("evaluate_test", 3*batchCount(in.test.Len(), evalBatch), func(b *bar) (err error) {
		judged, err = judgeOnTest(ctx, in.graph, calib, in.test, f.ptqFlags, rep.Sensitive, b)
		return err
	}); err != nil {
		return err
	}
	var files []string
	if f.out != "" {
		err := ph.step("report", len(sensitivityFiles), func(b *bar) (err error) {
			files, err = writeSensitivity(ctx, f.out, rep, b.set)
			return err
		})
		if err != nil {
			return err
		}
	}
	prog.wait()
	printSensitivity(stdout, rep)
	printJudgement(stdout, judged, rep.Sensitive)
	printFiles(stdout, f.out, files)
	fmt.Fprintf(stdout, "Timings: %s; total %s\n", ph, seconds(ph.total()))
	if !f.json {
		return nil
	}
	return printJSON(stdout, sensitivitySummary{
		Model: in.name, ModelFile: f.file, Method: f.method, CalibrationSamples: calib.Len(), SensitivityImages: rep.Samples,
		SensitivitySet: rep.Selection, FP32Accuracy: rep.FP32, AllInt8Accuracy: rep.AllInt8, Threshold: f.threshold, Ranking: rep.Ranking(),
		SensitiveLayers: append([]string{}, rep.Sensitive...), testJudgement: judged, reportOutputs: outputsOf(f.out, files, ph),
	})
}

// judgeOnTest measures on the test images what the layers chosen on the
// selection images give: the accuracy of the FP32 model, of the all-INT8
// model, and of the INT8 model with the sensitive layers kept in FP32
// (calibrated on calib), advancing b by one per evaluated batch.
func judgeOnTest(ctx context.Context, g *nn.Graph, calib, test *datasets.Dataset, f ptqFlags, sensitive []string, b *bar) (testJudgement, error) {
	j := testJudgement{TestImages: test.Len()}
	data := ptq.Data{X: test.X, Labels: test.Labels, Name: "MNIST test images"}
	total := 3 * batchCount(test.Len(), evalBatch)
	done := 0
	eval := func(m ptq.Forwarder) (float64, error) {
		w := watch(ctx, m, b, test.Len())
		w.total = total
		w.done.Store(int64(done))
		acc, err := ptq.Accuracy(w, data, evalBatch)
		done = int(w.done.Load())
		return acc, err
	}
	var err error
	if j.TestFP32, err = eval(ptq.FP32Model(g)); err != nil {
		return j, fmt.Errorf("FP32 model on the test images: %w", err)
	}
	cfg := f.config()
	all, _, err := ptq.Quantize(ctx, g, ptq.BatchesOf(calib.X, f.calibBatch), &cfg)
	if err != nil {
		return j, err
	}
	if j.TestAllInt8, err = eval(all); err != nil {
		return j, fmt.Errorf("INT8 model on the test images: %w", err)
	}
	kept := all
	if len(sensitive) > 0 {
		for _, l := range sensitive {
			cfg.Overrides = append(cfg.Overrides, ptq.Override{Name: l, KeepFP32: true})
		}
		if kept, _, err = ptq.Quantize(ctx, g, ptq.BatchesOf(calib.X, f.calibBatch), &cfg); err != nil {
			return j, err
		}
	}
	if j.TestSensitiveKept, err = eval(kept); err != nil {
		return j, fmt.Errorf("INT8 model with %s in FP32 on the test images: %w", strings.Join(sensitive, ", "), err)
	}
	j.TestSensitiveBytes = kept.Bytes()
	return j, nil
}

// printJudgement writes what the choice made on the selection images
// gives on the test images.
func printJudgement(w io.Writer, j testJudgement, sensitive []string) {
	fmt.Fprintf(w, "On the %s MNIST test images (none of them a selection or calibration image): FP32 %s, all layers INT8 %s",
		thousands(j.TestImages), pct(j.TestFP32), pct(j.TestAllInt8))
	if len(sensitive) == 0 {
		fmt.Fprintln(w, "; no layer is sensitive")
		return
	}
	fmt.Fprintf(w, ", INT8 with the sensitive %s in FP32 %s\n", strings.Join(sensitive, ", "), pct(j.TestSensitiveKept))
}
