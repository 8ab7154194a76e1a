package main

import (
	"fmt"
	"io"

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
		return f, usageErrorf("-sens-eval is 0, want > 0 test images to analyse on")
	}
	return f, f.check()
}

// sensitivitySummary is the JSON line of ptq sensitivity -json.
// Accuracies are fractions in [0, 1], the threshold is in points.
type sensitivitySummary struct {
	Model              string   `json:"model"`
	ModelFile          string   `json:"model_file"`
	Method             string   `json:"method"`
	CalibrationSamples int      `json:"calibration_samples"`
	SensitivityImages  int      `json:"sensitivity_images"`
	FP32Accuracy       float64  `json:"fp32_accuracy"`
	AllInt8Accuracy    float64  `json:"all_int8_accuracy"`
	Threshold          float64  `json:"threshold"`
	Ranking            []string `json:"ranking"`
	SensitiveLayers    []string `json:"sensitive_layers"`
	reportOutputs
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
	eval, err := first(in.test, f.sensEval)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s; calibration on the first %s MNIST training images\n",
		in.name, thousands(in.graph.NumParams()), f.file, thousands(calib.Len()))
	var rep *ptq.SensitivityReport
	if err := ph.step("sensitivity", 0, func(b *bar) (err error) {
		rep, err = ptq.AnalyzeSensitivity(ctx, in.graph, ptq.BatchesOf(calib.X, f.calibBatch), ptq.Data{X: eval.X, Labels: eval.Labels},
			&ptq.SensitivityOptions{Config: f.config(), Threshold: f.threshold / 100, BatchSize: evalBatch, Progress: b.set})
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
	printSensitivity(stdout, rep, in.test.Len())
	printFiles(stdout, f.out, files)
	fmt.Fprintf(stdout, "Timings: %s; total %s\n", ph, seconds(ph.total()))
	if !f.json {
		return nil
	}
	return printJSON(stdout, sensitivitySummary{
		Model: in.name, ModelFile: f.file, Method: f.method, CalibrationSamples: calib.Len(), SensitivityImages: rep.Samples,
		FP32Accuracy: rep.FP32, AllInt8Accuracy: rep.AllInt8, Threshold: f.threshold, Ranking: rep.Ranking(),
		SensitiveLayers: append([]string{}, rep.Sensitive...), reportOutputs: outputsOf(f.out, files, ph),
	})
}
