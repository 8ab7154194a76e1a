package main

import (
	"fmt"
	"io"
)

func init() {
	register(command{name: "quantize", summary: "quantize a saved model to INT8 on MNIST calibration images and report", run: runQuantize})
}

// quantizeSynopsis is the flag summary of ptq quantize.
const quantizeSynopsis = "-model FILE [-calib 1000] [-method minmax] [-eval N] [-sens-eval 0] " +
	"[-threshold 0.5] [-budget 1.0] [-fallback] [-out DIR] [-save FILE] [-json]\n" +
	"   or: ptq quantize " + onnxQuantizeSynopsis + "\n" +
	"(the second form, for ONNX models and .npy data, lists its flags with: ptq quantize -format qdq -h)"

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
	bindModelFile(fs, &f.file)
	f.bind(fs, 0, "", true)
	bindSave(fs, &f.save)
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if err := checkModelFile(f.file); err != nil {
		return f, err
	}
	if err := checkSave(f.save); err != nil {
		return f, err
	}
	return f, f.check()
}

func runQuantize(args []string, stdout, stderr io.Writer) error {
	if isONNXQuantize(args) {
		return runQuantizeONNX(args, stdout, stderr) // onnx.go
	}
	f, err := parseQuantizeFlags(args, stderr)
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
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s\n", in.name, thousands(in.graph.NumParams()), f.file)
	j := &job{
		model: in.name, title: fmt.Sprintf("%s: static INT8 post-training quantization on MNIST", in.name),
		graph: in.graph, flags: f.ptqFlags, train: in.train, test: in.test, ph: ph,
	}
	return j.runAndReport(ctx, f.save, stdout, func(s *summary) { s.ModelFile = f.file })
}
