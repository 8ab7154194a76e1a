package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func init() {
	register(command{name: "quantize", summary: "quantize a saved model to INT8 on MNIST calibration images and report", run: runQuantize})
}

// quantizeSynopsis is the flag summary of ptq quantize.
const quantizeSynopsis = "-model FILE [-calib 1000] [-method minmax] [-eval N] [-sens-eval 0] " +
	"[-threshold 0.5] [-budget 1.0] [-fallback] [-out DIR] [-save FILE] [-json]"

// quantizeFlags are the parsed flags of ptq quantize.
type quantizeFlags struct {
	file string
	save string
	ptqFlags
}

// parseQuantizeFlags parses and checks ptq quantize's flags.
func parseQuantizeFlags(args []string, stderr io.Writer) (quantizeFlags, error) {
	var f quantizeFlags
	fs := newFlagSet("quantize", quantizeSynopsis, stderr)
	fs.StringVar(&f.file, "model", "", "FP32 model file saved by 'ptq train' (required)")
	f.bind(fs, 0, "", true)
	bindSave(fs, &f.save)
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if f.file == "" {
		return f, usageErrorf("-model is required: a model file saved by 'ptq train'")
	}
	if err := checkSave(f.save); err != nil {
		return f, err
	}
	return f, f.check()
}

func runQuantize(args []string, stdout, stderr io.Writer) error {
	f, err := parseQuantizeFlags(args, stderr)
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
	name := modelNameOf(f.file)
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s\n", name, thousands(g.NumParams()), f.file)
	j := &job{
		model: name, title: fmt.Sprintf("%s: static INT8 post-training quantization on MNIST", name),
		graph: g, flags: f.ptqFlags, train: train, test: test, ph: ph,
	}
	o, err := j.run(ctx)
	if err != nil {
		return err
	}
	if err := saveModel(f.save, o, ph, stdout); err != nil {
		return err
	}
	printSummary(stdout, j, o)
	if !f.json {
		return nil
	}
	s := newSummary(j, o)
	s.ModelFile = f.file
	return printJSON(stdout, savedSummary{s, f.save})
}
