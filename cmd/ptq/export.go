package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func init() {
	register(command{name: "export", summary: "write a model as ONNX: an FP32 model file or .onnx (FP32), or an INT8 model file (QDQ or QOperator)", run: runExport})
}

// exportSynopsis is the flag summary of ptq export.
const exportSynopsis = "-model FILE -out FILE.onnx [-format fp32|qdq|qoperator] [-json]"

// exportFlags are the parsed flags of ptq export.
type exportFlags struct {
	model, out, format string
	json               bool
}

func parseExportFlags(args []string, stderr io.Writer) (exportFlags, error) {
	var f exportFlags
	fs := newFlagSet("export", exportSynopsis, stderr)
	fs.StringVar(&f.model, "model", "", "the model: an .onnx file, an FP32 model file of 'ptq train' or an INT8 model file of 'ptq quantize -save' (required)")
	fs.StringVar(&f.out, "out", "", "the .onnx file to write (required)")
	fs.StringVar(&f.format, "format", "", "fp32 for FP32 models (the default for them); qdq (the default) or qoperator for INT8 model files")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.model == "":
		return f, usageErrorf("-model is required")
	case f.out == "":
		return f, usageErrorf("-out is required: the .onnx file to write")
	case f.format != "" && f.format != "fp32" && f.format != "qdq" && f.format != "qoperator":
		return f, usageErrorf("-format %q: want fp32, qdq or qoperator", f.format)
	}
	if fi, err := os.Stat(filepath.Dir(f.out)); err != nil || !fi.IsDir() {
		return f, usageErrorf("-out %s: folder %s does not exist", f.out, filepath.Dir(f.out))
	}
	return f, nil
}

// exported is the -json line of ptq export.
type exported struct {
	Model     string `json:"model_file"`
	Kind      string `json:"kind"` // "fp32", "static" or "dynamic"
	Format    string `json:"format"`
	Out       string `json:"out"`
	OutBytes  int64  `json:"out_bytes"`
	Opset     int    `json:"opset"`
	Parameter int    `json:"parameters,omitempty"`
}

func runExport(args []string, stdout, stderr io.Writer) error {
	f, err := parseExportFlags(args, stderr)
	if err != nil {
		return err
	}
	g, m, err := loadExportable(f.model)
	if err != nil {
		return err
	}
	e := exported{Model: f.model, Out: f.out, Opset: onnxio.ExportOpset}
	switch {
	case g != nil:
		if f.format != "" && f.format != "fp32" {
			return usageErrorf("-format %s: %s is an FP32 model; quantize it first with 'ptq quantize -model %s -calib ... -out %s -format %s'", f.format, f.model, f.model, f.out, f.format)
		}
		e.Kind, e.Format, e.Parameter = "fp32", "fp32", g.NumParams()
		err = onnxio.ExportFile(f.out, g)
	default:
		if f.format == "fp32" {
			return usageErrorf("-format fp32: %s is an INT8 model (%s); export it as qdq or qoperator", f.model, m.Mode())
		}
		format := onnxio.QDQ
		if f.format != "" {
			format, _ = onnxio.ParseFormat(f.format)
		}
		e.Kind, e.Format = fmt.Sprint(m.Mode()), string(format)
		err = onnxio.ExportQuantizedFile(f.out, m, format)
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(f.out)
	if err != nil {
		return err
	}
	e.OutBytes = fi.Size()
	what := "FP32 model"
	if e.Kind != "fp32" {
		what = fmt.Sprintf("%s INT8 model in %s format", e.Kind, strings.ToUpper(e.Format))
	}
	fmt.Fprintf(stdout, "wrote %s: ONNX opset %d, %s, %s bytes\n", f.out, e.Opset, what, thousands(int(e.OutBytes)))
	if f.json {
		return printJSON(stdout, e)
	}
	return nil
}

// loadExportable reads what ptq export can write: an .onnx file (imported,
// so that a re-export is checked and normalised), an FP32 model file of
// ptq train, or an INT8 model file of ptq quantize -save. Exactly one of
// the graph and the model is non-nil.
func loadExportable(path string) (*nn.Graph, *ptq.Model, error) {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		g, err := onnxio.ImportFile(path)
		return g, nil, err
	}
	g, err := nn.LoadFile(path)
	if err == nil {
		return g, nil, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("model file %s does not exist", path)
	}
	if !errors.Is(err, nn.ErrBadMagic) {
		return nil, nil, err
	}
	m, qerr := ptq.LoadModelFile(path)
	if qerr != nil {
		if errors.Is(qerr, nn.ErrBadMagic) {
			return nil, nil, fmt.Errorf("%s: not an .onnx file, an FP32 model file of 'ptq train' or an INT8 model file of 'ptq quantize -save': %w", path, err)
		}
		return nil, nil, qerr
	}
	return nil, m, nil
}
