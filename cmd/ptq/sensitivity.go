package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

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
	fs.StringVar(&f.file, "model", "", "FP32 model file saved by 'ptq train' (required)")
	f.bind(fs, defaultSensEval, "", false)
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.file == "":
		return f, usageErrorf("-model is required: a model file saved by 'ptq train'")
	case f.sensEval == 0:
		return f, usageErrorf("-sens-eval is 0, want > 0 test images to analyse on")
	}
	return f, f.check()
}

// sensitivitySummary is the JSON line of ptq sensitivity -json.
// Accuracies are fractions in [0, 1], the threshold is in points.
type sensitivitySummary struct {
	Model              string             `json:"model"`
	ModelFile          string             `json:"model_file"`
	Method             string             `json:"method"`
	CalibrationSamples int                `json:"calibration_samples"`
	SensitivityImages  int                `json:"sensitivity_images"`
	FP32Accuracy       float64            `json:"fp32_accuracy"`
	AllInt8Accuracy    float64            `json:"all_int8_accuracy"`
	Threshold          float64            `json:"threshold"`
	Ranking            []string           `json:"ranking"`
	SensitiveLayers    []string           `json:"sensitive_layers"`
	ReportDir          string             `json:"report_dir"`
	Files              []string           `json:"files"`
	PhaseSeconds       map[string]float64 `json:"phase_seconds"`
	TotalSeconds       float64            `json:"total_seconds"`
}

func runSensitivity(args []string, stdout, stderr io.Writer) error {
	f, err := parseSensitivityFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ph := newPhases()
	train, test, err := loadMNIST(ph)
	if err != nil {
		return err
	}
	if err := f.checkSizes(train, test); err != nil {
		return err
	}
	g, err := loadModelFile(f.file, ph)
	if err != nil {
		return err
	}
	calib, err := first(train, f.calib)
	if err != nil {
		return err
	}
	eval, err := first(test, f.sensEval)
	if err != nil {
		return err
	}
	name := modelNameOf(f.file)
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s; calibration on the first %s MNIST training images\n",
		name, thousands(g.NumParams()), f.file, thousands(calib.Len()))
	var rep *ptq.SensitivityReport
	if err := ph.time("sensitivity", func() (err error) {
		rep, err = ptq.AnalyzeSensitivity(ctx, g, calib.Source(f.calibBatch), eval,
			ptq.SensitivityOptions{Config: f.config(), Threshold: f.threshold / 100, BatchSize: evalBatch})
		return err
	}); err != nil {
		return err
	}
	printSensitivity(stdout, rep, test.Len())
	files := []string{}
	if f.out != "" {
		err := ph.time("report", func() (err error) {
			files, err = writeSensitivity(f.out, rep)
			return err
		})
		if err != nil {
			return err
		}
		printFiles(stdout, f.out, files)
	}
	fmt.Fprintf(stdout, "Timings: %s; total %s\n", ph, seconds(ph.total()))
	if !f.json {
		return nil
	}
	return printJSON(stdout, sensitivitySummary{
		Model: name, ModelFile: f.file, Method: f.method, CalibrationSamples: calib.Len(), SensitivityImages: rep.Samples,
		FP32Accuracy: rep.FP32, AllInt8Accuracy: rep.AllInt8, Threshold: f.threshold, Ranking: rep.Ranking(),
		SensitiveLayers: append([]string{}, rep.Sensitive...), ReportDir: f.out, Files: files,
		PhaseSeconds: ph.secs, TotalSeconds: ph.total(),
	})
}
