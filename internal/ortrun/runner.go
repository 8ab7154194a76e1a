package ortrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Version is the ONNX Runtime (onnxruntime-node) version the runner pins.
const Version = "1.30.0"

// modulePath is the ptqspec module whose tools/onnxruntime Locate looks for.
const modulePath = "github.com/ptqspec/ptqspec"

// Runner runs ONNX files in ONNX Runtime through the Node.js runner script.
// Its methods may be called concurrently.
type Runner struct {
	Node string // path of the node executable
	Dir  string // folder holding run.mjs and node_modules/onnxruntime-node
}

// Locate finds node and the installed runner (see the package doc). It
// returns a *SetupError matching ErrNotInstalled when either is missing.
func Locate() (*Runner, error) {
	node := os.Getenv("PTQSPEC_NODE")
	if node == "" {
		p, err := exec.LookPath("node")
		if err != nil {
			return nil, &SetupError{What: "no node (Node.js) on PATH; install Debian's nodejs and npm", Err: err}
		}
		node = p
	}
	dir := os.Getenv("PTQSPEC_ORT_DIR")
	if dir == "" {
		dir = findToolsDir()
		if dir == "" {
			return nil, &SetupError{What: "cannot find tools/onnxruntime of module " + modulePath + " from the working directory; set PTQSPEC_ORT_DIR"}
		}
	}
	r := &Runner{Node: node, Dir: dir}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Runner) check() error {
	if _, err := os.Stat(filepath.Join(r.Dir, "run.mjs")); err != nil {
		return &SetupError{What: "no runner script run.mjs in " + r.Dir, Err: err}
	}
	pkg := filepath.Join(r.Dir, "node_modules", "onnxruntime-node", "package.json")
	data, err := os.ReadFile(pkg)
	if err != nil {
		return &SetupError{What: "onnxruntime-node is not installed in " + filepath.Join(r.Dir, "node_modules"), Err: err}
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return &SetupError{What: "unreadable " + pkg, Err: err}
	}
	if meta.Version != Version {
		return &SetupError{What: fmt.Sprintf("%s is onnxruntime-node %s, the pinned version is %s", pkg, meta.Version, Version)}
	}
	return nil
}

// findToolsDir looks for tools/onnxruntime at the root of the ptqspec module,
// walking up from the working directory, then from this source file.
func findToolsDir() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return filepath.Join(dir, "tools", "onnxruntime")
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

var located = sync.OnceValues(Locate)

// Default returns the Runner Locate finds, located once per process.
func Default() (*Runner, error) { return located() }

// Run runs the model at modelPath in ONNX Runtime with the default Runner.
// See Runner.Run.
func Run(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	r, err := Default()
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, modelPath, inputs)
}

// RunBatches is Run in batches of batch samples, with the default Runner.
// See Runner.RunBatches.
func RunBatches(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor, batch int) (map[string]*tensor.Tensor, error) {
	r, err := Default()
	if err != nil {
		return nil, err
	}
	return r.RunBatches(ctx, modelPath, inputs, batch)
}

// Bench times the model with the default Runner. See Runner.Bench.
func Bench(ctx context.Context, modelPath string, input *tensor.Tensor, opt BenchOptions) (BenchResult, error) {
	r, err := Default()
	if err != nil {
		return BenchResult{}, err
	}
	return r.Bench(ctx, modelPath, input, opt)
}

// Info describes the model's inputs and outputs with the default Runner.
func Info(ctx context.Context, modelPath string) (ModelInfo, error) {
	r, err := Default()
	if err != nil {
		return ModelInfo{}, err
	}
	return r.Info(ctx, modelPath)
}

// Run runs the model at modelPath once on inputs, keyed by ONNX input name
// (a single entry keyed "" feeds a model's only input), and returns every
// output keyed by its ONNX name. Outputs must be float tensors.
func (r *Runner) Run(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	return r.RunBatches(ctx, modelPath, inputs, 0)
}

// RunBatches runs the model on inputs cut along their first dimension into
// batches of batch samples (the last one may be smaller), and concatenates
// each output along its first dimension. batch 0 runs all samples at once.
// Every input must have the same first dimension when batch > 0.
func (r *Runner) RunBatches(ctx context.Context, modelPath string, inputs map[string]*tensor.Tensor, batch int) (map[string]*tensor.Tensor, error) {
	if batch < 0 {
		return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: fmt.Errorf("batch %d is negative", batch)}
	}
	if len(inputs) == 0 {
		return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: errors.New("no inputs")}
	}
	tmp, err := os.MkdirTemp("", "ortrun-")
	if err != nil {
		return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: err}
	}
	defer os.RemoveAll(tmp)

	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	args := []string{"run", "--model", modelPath, "--out-dir", filepath.Join(tmp, "out"), "--batch", strconv.Itoa(batch)}
	for i, name := range names {
		x := inputs[name]
		if x == nil {
			return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: fmt.Errorf("input %q is nil", name)}
		}
		file := filepath.Join(tmp, fmt.Sprintf("input-%d.npy", i))
		if err := npyfile.WriteTensor(file, x); err != nil {
			return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: err}
		}
		if name == "" {
			if len(inputs) != 1 {
				return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: errors.New("an input keyed \"\" must be the only input")}
			}
			args = append(args, "--input", file)
		} else {
			args = append(args, "--input", name+"="+file)
		}
	}
	var res struct {
		Outputs []struct {
			Name  string `json:"name"`
			File  string `json:"file"`
			Type  string `json:"type"`
			Shape []int  `json:"shape"`
		} `json:"outputs"`
	}
	if err := r.call(ctx, "run", modelPath, args, &res); err != nil {
		return nil, err
	}
	outs := make(map[string]*tensor.Tensor, len(res.Outputs))
	for _, o := range res.Outputs {
		if o.Type != "float32" && o.Type != "float64" {
			return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: fmt.Errorf("output %q is %s; only float outputs are read", o.Name, o.Type)}
		}
		t, err := npyfile.ReadTensor(o.File)
		if err != nil {
			return nil, &RunError{Op: "run", Model: modelPath, ExitCode: -1, Err: fmt.Errorf("output %q: %w", o.Name, err)}
		}
		outs[o.Name] = t
	}
	return outs, nil
}

// Port describes one input or output of a model. Shape holds -1 for a
// symbolic dimension, whose name is in Symbols at the same index.
type Port struct {
	Name    string
	Type    string // ONNX Runtime's tensor type, for example "float32"
	Shape   []int
	Symbols []string
}

// ModelInfo lists a model's inputs and outputs as ONNX Runtime loaded them.
type ModelInfo struct {
	Inputs  []Port
	Outputs []Port
}

// Info loads the model in ONNX Runtime and describes its inputs and outputs.
func (r *Runner) Info(ctx context.Context, modelPath string) (ModelInfo, error) {
	type port struct {
		Name  string            `json:"name"`
		Type  string            `json:"type"`
		Shape []json.RawMessage `json:"shape"`
	}
	var res struct {
		Inputs  []port `json:"inputs"`
		Outputs []port `json:"outputs"`
	}
	if err := r.call(ctx, "info", modelPath, []string{"info", "--model", modelPath}, &res); err != nil {
		return ModelInfo{}, err
	}
	conv := func(ps []port) []Port {
		out := make([]Port, len(ps))
		for i, p := range ps {
			out[i] = Port{Name: p.Name, Type: p.Type, Shape: make([]int, len(p.Shape)), Symbols: make([]string, len(p.Shape))}
			for j, d := range p.Shape {
				var n int
				if json.Unmarshal(d, &n) == nil {
					out[i].Shape[j] = n
					continue
				}
				out[i].Shape[j] = -1
				_ = json.Unmarshal(d, &out[i].Symbols[j])
			}
		}
		return out
	}
	return ModelInfo{Inputs: conv(res.Inputs), Outputs: conv(res.Outputs)}, nil
}

// BenchOptions sets how Bench times a model.
type BenchOptions struct {
	Batch      int   // samples per run, at least 1; the input needs at least Batch samples
	Threads    int   // ONNX Runtime intra-op threads; 0 means 1
	Warmup     int   // untimed runs before timing
	Iterations int   // timed runs, at least 1; they cycle through the input's full batches
	Labels     []int // optional: one label per sample, for the top-1 accuracy of an untimed pass
}

// BenchResult is what the runner measured, inside its own process.
type BenchResult struct {
	Model            string
	Batch            int
	Threads          int
	Warmup           int
	Iterations       int
	Samples          int
	Seconds          float64 // wall time of the timed runs
	ImagesPerSecond  float64 // Iterations*Batch / Seconds
	MsPerBatch       float64 // mean
	MsPerBatchMedian float64
	MsPerBatchMin    float64
	Labeled          bool    // whether Accuracy was measured
	Accuracy         float64 // top-1 accuracy over all samples, in [0, 1]
}

// Bench times the model on input (samples along the first dimension) inside
// the runner's process: Warmup untimed runs, then Iterations timed runs of
// Batch samples each, with Threads intra-op threads.
func (r *Runner) Bench(ctx context.Context, modelPath string, input *tensor.Tensor, opt BenchOptions) (BenchResult, error) {
	bad := func(format string, a ...any) (BenchResult, error) {
		return BenchResult{}, &RunError{Op: "bench", Model: modelPath, ExitCode: -1, Err: fmt.Errorf(format, a...)}
	}
	if input == nil || input.Dims() == 0 {
		return bad("input must be a tensor with a batch dimension")
	}
	if opt.Threads == 0 {
		opt.Threads = 1
	}
	switch {
	case opt.Batch < 1:
		return bad("batch %d is less than 1", opt.Batch)
	case opt.Batch > input.Dim(0):
		return bad("batch %d is larger than the %d samples of the input", opt.Batch, input.Dim(0))
	case opt.Iterations < 1:
		return bad("iterations %d is less than 1", opt.Iterations)
	case opt.Warmup < 0, opt.Threads < 0:
		return bad("warm-up %d and threads %d must not be negative", opt.Warmup, opt.Threads)
	case opt.Labels != nil && len(opt.Labels) != input.Dim(0):
		return bad("%d labels for %d samples", len(opt.Labels), input.Dim(0))
	}
	tmp, err := os.MkdirTemp("", "ortrun-")
	if err != nil {
		return bad("%w", err)
	}
	defer os.RemoveAll(tmp)
	inFile := filepath.Join(tmp, "input.npy")
	if err := npyfile.WriteTensor(inFile, input); err != nil {
		return bad("%w", err)
	}
	args := []string{"bench", "--model", modelPath, "--input", inFile,
		"--batch", strconv.Itoa(opt.Batch), "--threads", strconv.Itoa(opt.Threads),
		"--warmup", strconv.Itoa(opt.Warmup), "--iterations", strconv.Itoa(opt.Iterations)}
	if opt.Labels != nil {
		labFile := filepath.Join(tmp, "labels.npy")
		if err := npyfile.WriteLabels(labFile, opt.Labels); err != nil {
			return bad("%w", err)
		}
		args = append(args, "--labels", labFile)
	}
	var res struct {
		Model            string   `json:"model"`
		Batch            int      `json:"batch"`
		Threads          int      `json:"threads"`
		Warmup           int      `json:"warmup"`
		Iterations       int      `json:"iterations"`
		Samples          int      `json:"samples"`
		Seconds          float64  `json:"seconds"`
		ImagesPerSecond  float64  `json:"images_per_s"`
		MsPerBatch       float64  `json:"ms_per_batch"`
		MsPerBatchMedian float64  `json:"ms_per_batch_median"`
		MsPerBatchMin    float64  `json:"ms_per_batch_min"`
		Accuracy         *float64 `json:"accuracy"`
	}
	if err := r.call(ctx, "bench", modelPath, args, &res); err != nil {
		return BenchResult{}, err
	}
	out := BenchResult{Model: res.Model, Batch: res.Batch, Threads: res.Threads, Warmup: res.Warmup,
		Iterations: res.Iterations, Samples: res.Samples, Seconds: res.Seconds,
		ImagesPerSecond: res.ImagesPerSecond, MsPerBatch: res.MsPerBatch,
		MsPerBatchMedian: res.MsPerBatchMedian, MsPerBatchMin: res.MsPerBatchMin}
	if res.Accuracy != nil {
		out.Labeled, out.Accuracy = true, *res.Accuracy
	}
	return out, nil
}

// call runs the runner with args and decodes the JSON object on the last
// line of its standard output into result.
func (r *Runner) call(ctx context.Context, op, model string, args []string, result any) error {
	if err := ctx.Err(); err != nil {
		return &RunError{Op: op, Model: model, ExitCode: -1, Err: err}
	}
	// The runner works in its own folder: hand it the model's absolute path.
	abs, err := filepath.Abs(model)
	if err != nil {
		return &RunError{Op: op, Model: model, ExitCode: -1, Err: err}
	}
	for i := range args {
		if i > 0 && args[i-1] == "--model" {
			args[i] = abs
		}
	}
	cmd := exec.CommandContext(ctx, r.Node, append([]string{filepath.Join(r.Dir, "run.mjs")}, args...)...)
	cmd.Dir = r.Dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		re := &RunError{Op: op, Model: model, ExitCode: -1, Stderr: strings.TrimSpace(stderr.String()), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			re.ExitCode, re.Err = ee.ExitCode(), nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			re.Err = ctxErr
		}
		return re
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal(out, result); err != nil {
		return &RunError{Op: op, Model: model, ExitCode: 0, Stderr: strings.TrimSpace(stderr.String()),
			Err: fmt.Errorf("runner printed %q, not a JSON result: %w", truncate(string(out), 200), err)}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
