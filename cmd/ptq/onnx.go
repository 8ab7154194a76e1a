package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The ONNX form of ptq quantize: any supported model (an .onnx file or a
// model file of ptq train), calibration samples from a .npy file (or the
// first N MNIST training images), an int8 .onnx out.

// onnxQuantizeSynopsis is the flag summary of the ONNX form of ptq quantize.
const onnxQuantizeSynopsis = "-model in.onnx -calib inputs.npy|N [-out out.onnx] [-format qdq|qoperator] " +
	"[-method minmax] [-weights per-channel|per-tensor] [-activations int8|uint8] [-calib-batch 100] " +
	"[-eval inputs.npy|N [-labels labels.npy]] [-verify] [-save FILE] [-json]"

// onnxQuantizeFlags are the parsed flags of the ONNX form of ptq quantize.
type onnxQuantizeFlags struct {
	model, calib, calibFmt string
	calibBatch             int
	method                 string
	weights, activations   string
	format                 string
	out, save              string
	eval, labels           string
	verify, json           bool
}

// onnxValueFlags are the flags of the ONNX form that take a value.
var onnxValueFlags = map[string]bool{"model": true, "calib": true, "calib-batch": true, "method": true,
	"weights": true, "activations": true, "format": true, "out": true, "save": true, "eval": true, "labels": true,
	"sens-eval": true, "threshold": true, "budget": true}

// isONNXQuantize reports whether ptq quantize's arguments ask for the ONNX
// form: an .onnx model or output, .npy calibration or evaluation data, or a
// flag only that form has (-format, -labels, -weights, -activations,
// -verify).
func isONNXQuantize(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		} else if onnxValueFlags[name] && i+1 < len(args) {
			value, hasValue = args[i+1], true
			i++
		}
		switch name {
		case "format", "labels", "weights", "activations", "verify":
			return true
		case "model", "out":
			if hasValue && strings.EqualFold(filepath.Ext(value), ".onnx") {
				return true
			}
		case "calib", "eval":
			if hasValue && strings.EqualFold(filepath.Ext(value), ".npy") {
				return true
			}
		}
	}
	return false
}

func parseONNXQuantizeFlags(args []string, stderr io.Writer) (onnxQuantizeFlags, error) {
	var f onnxQuantizeFlags
	fs := newFlagSet("quantize", onnxQuantizeSynopsis, stderr)
	fs.StringVar(&f.model, "model", "", "the FP32 model: an .onnx file, or a model file saved by 'ptq train' (required)")
	fs.StringVar(&f.calib, "calib", "", "calibration samples: a float32 .npy file [N, ...] in the model's input layout, or N for the first N MNIST training images (required)")
	fs.IntVar(&f.calibBatch, "calib-batch", defaultCalibBatch, "calibration batch size")
	fs.StringVar(&f.method, "method", quant.MethodMinMax.String(), "calibration method: "+methodNames())
	fs.StringVar(&f.weights, "weights", "per-channel", "int8 symmetric weights over [-127, 127]: per-channel or per-tensor")
	fs.StringVar(&f.activations, "activations", "int8", "affine per-tensor activations: int8 or uint8")
	fs.StringVar(&f.format, "format", "qdq", "format of -out: qdq (QuantizeLinear/DequantizeLinear pairs, what ONNX Runtime's quantizer writes) or qoperator (QLinearConv, QLinearMatMul, ...)")
	fs.StringVar(&f.out, "out", "", "write the int8 model as ONNX to this .onnx file")
	fs.StringVar(&f.save, "save", "", "write the int8 model to FILE in ptq's model file format")
	fs.StringVar(&f.eval, "eval", "", "evaluation samples: a float32 .npy file, or N for the first N MNIST test images (with their labels)")
	fs.StringVar(&f.labels, "labels", "", "integer .npy file of class labels for -eval's samples: report accuracies")
	fs.BoolVar(&f.verify, "verify", false, "run -out in ONNX Runtime on -eval's samples and compare it with ptqspec's int8 model (needs `make tools`)")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.model == "":
		return f, usageErrorf("-model is required: an .onnx file or a model file saved by 'ptq train'")
	case f.calib == "":
		return f, usageErrorf("-calib is required: a .npy file of calibration samples, or a number of MNIST training images")
	case f.calibBatch <= 0:
		return f, usageErrorf("-calib-batch is %d, want > 0", f.calibBatch)
	case f.weights != "per-channel" && f.weights != "per-tensor":
		return f, usageErrorf("-weights %q: want per-channel or per-tensor", f.weights)
	case f.activations != "int8" && f.activations != "uint8":
		return f, usageErrorf("-activations %q: want int8 or uint8", f.activations)
	case f.labels != "" && f.eval == "":
		return f, usageErrorf("-labels needs -eval, the samples they label")
	case f.verify && (f.out == "" || f.eval == ""):
		return f, usageErrorf("-verify needs -out (the file ONNX Runtime runs) and -eval (the samples it runs on)")
	}
	if _, err := onnxio.ParseFormat(f.format); err != nil {
		return f, usageErrorf("-format %q: want qdq or qoperator", f.format)
	}
	for _, p := range []struct{ flag, path string }{{"-out", f.out}, {"-save", f.save}} {
		if p.path == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(p.path)); err != nil || !fi.IsDir() {
			return f, usageErrorf("%s %s: folder %s does not exist", p.flag, p.path, filepath.Dir(p.path))
		}
	}
	return f, nil
}

// config returns the quantization configuration the flags ask for.
func (f *onnxQuantizeFlags) config() (ptq.Config, error) {
	method, err := quant.ParseMethod(f.method)
	if err != nil {
		return ptq.Config{}, usageErrorf("-method: unknown calibration method %q (known: %s)", f.method, methodNames())
	}
	cfg := ptq.Config{Method: method}
	w := quant.WeightDefault
	if f.weights == "per-tensor" {
		w.Granularity = quant.PerTensor
	}
	a := quant.ActivationDefault
	if f.activations == "uint8" {
		a.DType = quant.UInt8
	}
	cfg.Weights, cfg.Activations = &w, &a
	if err := cfg.Validate(); err != nil {
		return cfg, usageErrorf("%v", err)
	}
	return cfg, nil
}

// loadAnyModel reads an FP32 model: an .onnx file through onnxio, anything
// else as a model file of ptq train. It is timed as "load_model".
func loadAnyModel(path string, ph *phases) (*nn.Graph, error) {
	if !strings.EqualFold(filepath.Ext(path), ".onnx") {
		return loadModelFile(path, ph)
	}
	var g *nn.Graph
	err := ph.time("load_model", func() (err error) {
		g, err = onnxio.ImportFile(path)
		return err
	})
	return g, err
}

// samples are model inputs from a .npy file or from MNIST.
type samples struct {
	x      *tensor.Tensor
	labels []int // nil when unknown
	from   string
}

// loadSamples reads -calib or -eval: a .npy file, or a count of MNIST
// images from the training (train) or test set. MNIST samples carry labels.
func loadSamples(flagName, value string, train bool, ph *phases) (*samples, error) {
	n, err := strconv.Atoi(strings.ReplaceAll(value, ",", ""))
	if err != nil {
		var x *tensor.Tensor
		if err := ph.time("load_data", func() (err error) { x, err = npyfile.ReadTensor(value); return err }); err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		if x.Dims() < 1 || x.Dim(0) == 0 {
			return nil, usageErrorf("%s %s holds no samples (shape %v)", flagName, value, x.Shape())
		}
		return &samples{x: x, from: value}, nil
	}
	if n <= 0 {
		return nil, usageErrorf("%s is %d, want a .npy file or a count > 0", flagName, n)
	}
	trainSet, testSet, err := loadMNIST(ph)
	if err != nil {
		return nil, err
	}
	set, what := testSet, "test"
	if train {
		set, what = trainSet, "training"
	}
	if n > set.Len() {
		return nil, usageErrorf("%s is %s, but the MNIST %s set holds %s images", flagName, thousands(n), what, thousands(set.Len()))
	}
	sub, err := first(set, n)
	if err != nil {
		return nil, err
	}
	return &samples{x: sub.X, labels: sub.Labels, from: fmt.Sprintf("the first %s MNIST %s images", thousands(n), what)}, nil
}

// onnxSummary is the -json line of the ONNX form of ptq quantize.
// Accuracies and agreements are fractions in [0, 1].
type onnxSummary struct {
	Model              string             `json:"model"`
	ModelFile          string             `json:"model_file"`
	Parameters         int                `json:"parameters"`
	Method             string             `json:"method"`
	Weights            string             `json:"weights"`
	Activations        string             `json:"activations"`
	CalibrationSamples int                `json:"calibration_samples"`
	OutputSQNR         float64            `json:"output_sqnr_db"`
	EvalSamples        int                `json:"eval_samples,omitempty"`
	Agreement          *float64           `json:"int8_fp32_top1_agreement,omitempty"`
	FP32Accuracy       *float64           `json:"fp32_accuracy,omitempty"`
	Int8Accuracy       *float64           `json:"int8_accuracy,omitempty"`
	Out                string             `json:"out,omitempty"`
	Format             string             `json:"format,omitempty"`
	OutBytes           int64              `json:"out_bytes,omitempty"`
	SavedModel         string             `json:"saved_model,omitempty"`
	ORT                *verifySummary     `json:"onnxruntime,omitempty"`
	PhaseSeconds       map[string]float64 `json:"phase_seconds"`
	TotalSeconds       float64            `json:"total_seconds"`
}

// verifySummary is what -verify measured: ONNX Runtime running -out against
// ptqspec's int8 model on -eval's samples.
type verifySummary struct {
	Version        string   `json:"version"`
	Top1Agreement  float64  `json:"top1_agreement"`
	WithinOneStep  float64  `json:"within_one_step"`
	MaxDiffInSteps float64  `json:"max_diff_steps"`
	Accuracy       *float64 `json:"accuracy,omitempty"`
}

func runQuantizeONNX(args []string, stdout, stderr io.Writer) error {
	f, err := parseONNXQuantizeFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	ctx, stop := notifyContext() // SIGINT or SIGTERM: exit 130 (interrupt.go)
	defer stop()
	ph := newPhases()
	g, err := loadAnyModel(f.model, ph)
	if err != nil {
		return err
	}
	s := onnxSummary{Model: modelNameOf(f.model), ModelFile: f.model, Parameters: g.NumParams(),
		Method: f.method, Weights: f.weights, Activations: f.activations, PhaseSeconds: ph.secs}
	fmt.Fprintf(stdout, "%s: %s parameters, loaded from %s\n", s.Model, thousands(s.Parameters), f.model)

	calib, err := loadSamples("-calib", f.calib, true, ph)
	if err != nil {
		return err
	}
	var eval *samples
	if f.eval != "" {
		if eval, err = loadSamples("-eval", f.eval, false, ph); err != nil {
			return err
		}
		if f.labels != "" {
			if eval.labels, err = npyfile.ReadLabels(f.labels); err != nil {
				return fmt.Errorf("-labels: %w", err)
			}
			if len(eval.labels) != eval.x.Dim(0) {
				return usageErrorf("-labels %s holds %s labels for the %s samples of -eval %s", f.labels, thousands(len(eval.labels)), thousands(eval.x.Dim(0)), f.eval)
			}
		}
	}

	m, rep, err := ptq.Quantize(ctx, g, ptq.BatchesOf(calib.x, f.calibBatch), &cfg)
	if err != nil {
		return err
	}
	ph.add("traverse", rep.Times.Traverse)
	ph.add("calibrate", rep.Times.Calibrate)
	ph.add("convert", rep.Times.Convert)
	ph.add("layer_sqnr", rep.Times.Evaluate)
	s.CalibrationSamples, s.OutputSQNR = calib.x.Dim(0), rep.OutputSQNR
	fmt.Fprintf(stdout, "quantized (%s) on %s samples from %s: %s weights, %s activations, %s calibration; output SQNR %.1f dB on them\n",
		m.Mode(), thousands(calib.x.Dim(0)), calib.from, f.weights, f.activations, f.method, rep.OutputSQNR)

	var int8Out *tensor.Tensor
	if eval != nil {
		if int8Out, err = evaluateONNXMode(stdout, g, m, eval, &s, ph); err != nil {
			return err
		}
	}
	if f.out != "" {
		format, _ := onnxio.ParseFormat(f.format)
		if err := ph.time("export", func() error { return onnxio.ExportQuantizedFile(f.out, m, format) }); err != nil {
			return err
		}
		fi, err := os.Stat(f.out)
		if err != nil {
			return err
		}
		s.Out, s.Format, s.OutBytes = f.out, string(format), fi.Size()
		fmt.Fprintf(stdout, "wrote %s: ONNX (opset %d, %s), %s bytes\n", f.out, onnxio.ExportOpset, strings.ToUpper(string(format)), thousands(int(fi.Size())))
	}
	if f.save != "" {
		if err := ph.time("save_model", func() error { return m.SaveFile(f.save) }); err != nil {
			return err
		}
		s.SavedModel = f.save
		fmt.Fprintf(stdout, "INT8 model (%s) saved to %s\n", m.Mode(), f.save)
	}
	if f.verify {
		v, err := verifyWithORT(ctx, f.out, m, eval, int8Out, ph)
		if err != nil {
			return err
		}
		s.ORT = v
		fmt.Fprintf(stdout, "ONNX Runtime %s on %s: top-1 agreement with ptqspec INT8 %s, %s of outputs within one output step (largest difference %.2f steps)",
			v.Version, f.out, pct(v.Top1Agreement), pct(v.WithinOneStep), v.MaxDiffInSteps)
		if v.Accuracy != nil {
			fmt.Fprintf(stdout, ", accuracy %s", pct(*v.Accuracy))
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "time: %s (total %s)\n", ph, seconds(ph.total()))
	if !f.json {
		return nil
	}
	s.TotalSeconds = ph.total()
	return printJSON(stdout, s)
}

// evaluateONNXMode runs the FP32 and int8 models on eval's samples and
// prints their top-1 agreement and, with labels, their accuracies. It
// returns the int8 outputs.
func evaluateONNXMode(w io.Writer, g *nn.Graph, m *ptq.Model, eval *samples, s *onnxSummary, ph *phases) (*tensor.Tensor, error) {
	var fp32Out, int8Out *tensor.Tensor
	if err := ph.time("evaluate_fp32", func() (err error) {
		fp32Out, err = forwardInBatches(ptq.FP32Model(g), eval.x)
		return err
	}); err != nil {
		return nil, fmt.Errorf("FP32 model on %s: %w", eval.from, err)
	}
	if err := ph.time("evaluate_int8", func() (err error) {
		int8Out, err = forwardInBatches(m, eval.x)
		return err
	}); err != nil {
		return nil, fmt.Errorf("INT8 model on %s: %w", eval.from, err)
	}
	agree := top1Agreement(fp32Out, int8Out)
	s.EvalSamples, s.Agreement = eval.x.Dim(0), &agree
	fmt.Fprintf(w, "evaluated on %s samples from %s: INT8 and FP32 agree on the top-1 class of %s", thousands(eval.x.Dim(0)), eval.from, pct(agree))
	if eval.labels != nil {
		fa, ia := top1Accuracy(fp32Out, eval.labels), top1Accuracy(int8Out, eval.labels)
		s.FP32Accuracy, s.Int8Accuracy = &fa, &ia
		fmt.Fprintf(w, "; accuracy FP32 %s, INT8 %s (%+.2f points)", pct(fa), pct(ia), 100*(ia-fa))
	}
	fmt.Fprintln(w)
	return int8Out, nil
}

// verifyWithORT runs the exported file in ONNX Runtime on eval's samples
// and compares it with ptqspec's int8 outputs.
func verifyWithORT(ctx context.Context, out string, m *ptq.Model, eval *samples, int8Out *tensor.Tensor, ph *phases) (*verifySummary, error) {
	var got *tensor.Tensor
	err := ph.time("onnxruntime", func() error {
		outs, err := ortrun.RunBatches(ctx, out, map[string]*tensor.Tensor{"": eval.x}, evalBatch)
		if err != nil {
			return err
		}
		if len(outs) != 1 {
			return fmt.Errorf("ONNX Runtime gave %d outputs, want 1", len(outs))
		}
		for _, t := range outs {
			got = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !got.SameShape(int8Out) {
		return nil, fmt.Errorf("ONNX Runtime's output has shape %v, ptqspec's %v", got.Shape(), int8Out.Shape())
	}
	step, err := outputStepOf(m)
	if err != nil {
		return nil, err
	}
	v := &verifySummary{Version: ortrun.Version, Top1Agreement: top1Agreement(got, int8Out)}
	within := 0
	for i, r := range int8Out.Data() {
		d := math.Abs(float64(got.Data()[i]) - float64(r))
		v.MaxDiffInSteps = math.Max(v.MaxDiffInSteps, d/step)
		if d <= step*(1+1e-3) {
			within++
		}
	}
	v.WithinOneStep = float64(within) / float64(int8Out.Len())
	if eval.labels != nil {
		a := top1Accuracy(got, eval.labels)
		v.Accuracy = &a
	}
	return v, nil
}

// outputStepOf returns the scale of the model's int8 output.
func outputStepOf(m *ptq.Model) (float64, error) {
	views, err := m.Inspect()
	if err != nil {
		return 0, err
	}
	for _, v := range views {
		if v.Name == m.Output() && v.Out != nil && len(v.Out.Scale) == 1 {
			return float64(v.Out.Scale[0]), nil
		}
	}
	return 0, fmt.Errorf("the model's output node %q is not int8 per tensor: no output quantization step to compare with", m.Output())
}

// forwardInBatches runs f on x in batches of evalBatch and concatenates
// the outputs.
func forwardInBatches(f ptq.Forwarder, x *tensor.Tensor) (*tensor.Tensor, error) {
	var parts []*tensor.Tensor
	for lo := 0; lo < x.Dim(0); lo += evalBatch {
		xb, err := x.Slice(lo, min(x.Dim(0), lo+evalBatch))
		if err != nil {
			return nil, err
		}
		y, err := f.Forward(xb)
		if err != nil {
			return nil, fmt.Errorf("samples %d..%d: %w", lo, min(x.Dim(0), lo+evalBatch), err)
		}
		parts = append(parts, y)
	}
	return tensor.Concat(parts...)
}

// topClasses returns the top-1 class of each row of a [N, C] output.
func topClasses(t *tensor.Tensor) []int {
	n := t.Dim(0)
	c := t.Len() / max(n, 1)
	out := make([]int, n)
	for i := range n {
		row := t.Data()[i*c : (i+1)*c]
		for j := range row {
			if row[j] > row[out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

func top1Agreement(a, b *tensor.Tensor) float64 {
	pa, pb := topClasses(a), topClasses(b)
	same := 0
	for i := range pa {
		if pa[i] == pb[i] {
			same++
		}
	}
	return float64(same) / float64(max(len(pa), 1))
}

func top1Accuracy(out *tensor.Tensor, labels []int) float64 {
	p := topClasses(out)
	ok := 0
	for i := range p {
		if p[i] == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(max(len(p), 1))
}
