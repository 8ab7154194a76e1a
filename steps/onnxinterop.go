package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("onnxinterop", registerONNXInteropSteps) }

// interopState is what the ONNX interop steps leave for each other.
type interopState struct {
	// fixture is the path of the PyTorch-written .onnx file under test.
	fixture string
	// exported is the path of the .onnx file ptqspec wrote; exportedInt8
	// says it holds the int8 model (ptqState.quantized), not the FP32 one
	// (modelState.model).
	exported     string
	exportedInt8 bool
	format       string
	// images and labels are the MNIST test images ONNX Runtime ran on;
	// ort its output, ref ptqspec's output on them (FP32 or int8, as
	// exported).
	images *tensor.Tensor
	labels []int
	ort    *tensor.Tensor
	ref    *tensor.Tensor
	// reimported is the export imported back.
	reimported *nn.Graph
}

func registerONNXInteropSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the ONNX file "([^"]+)" that PyTorch's exporter wrote$`, theONNXFixture)
	sc.Step(`^ptqspec imports it$`, ptqspecImportsIt)
	sc.Step(`^on the (\d+) MNIST test images stored beside it, ptqspec's FP32 output is within (\S+) of PyTorch's stored output, relative to the largest magnitude of PyTorch's output$`, fixtureOutputWithin)
	sc.Step(`^the import is refused with an error naming the node "([^"]+)" and the operator "([^"]+)"$`, importRefusedNaming)
	sc.Step(`^the model is exported to ONNX in FP32$`, exportedFP32)
	sc.Step(`^the int8 model is exported to ONNX in (QDQ|QOperator) format$`, exportedInt8)
	sc.Step(`^ONNX Runtime runs the exported file on the first ([\d,]+) MNIST test images$`, ortRunsExport)
	sc.Step(`^ONNX Runtime's output is within (\S+) of ptqspec's FP32 output, relative to the largest magnitude of ptqspec's output$`, ortWithinFP32)
	sc.Step(`^ONNX Runtime and ptqspec's int8 model agree on the top-1 class of at least ([\d.]+)% of the images$`, ortTop1Agreement)
	sc.Step(`^at least ([\d.]+)% of ONNX Runtime's output values are within one output quantization step of ptqspec's int8 output$`, ortWithinOneStep)
	sc.Step(`^the exported file is imported back$`, exportImportedBack)
	sc.Step(`^the imported model's outputs on the first ([\d,]+) MNIST test images are bit-identical to the exported model's$`, reimportBitIdentical)
}

// fixtureDir is the folder of the PyTorch-written ONNX fixtures: the
// shared/onnx folder beside the ptqspec work tree, or $PTQSPEC_ONNX_FIXTURES.
func fixtureDir() (string, error) {
	if d := os.Getenv("PTQSPEC_ONNX_FIXTURES"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "..", "shared", "onnx")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(cand); err == nil {
				return cand, nil
			}
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("steps: no shared/onnx folder beside the module root above %s; set PTQSPEC_ONNX_FIXTURES", wd)
		}
	}
}

func theONNXFixture(ctx context.Context, name string) error {
	dir, err := fixtureDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name+".onnx")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("steps: fixture %s: %w", name, err)
	}
	domainState[interopState](ctx).fixture = path
	return nil
}

func ptqspecImportsIt(ctx context.Context) error {
	ox := domainState[interopState](ctx)
	if ox.fixture == "" {
		return errors.New("steps: no ONNX file: a Given step must name one")
	}
	g, err := onnxio.ImportFile(ox.fixture)
	stateFrom(ctx).setErr(err)
	domainState[modelState](ctx).model = g
	return nil
}

// importedModel returns the imported graph, or the import's error.
func importedModel(ctx context.Context) (*nn.Graph, error) {
	if err := stateFrom(ctx).lastErr(); err != nil {
		return nil, fmt.Errorf("the import failed: %w", err)
	}
	g := domainState[modelState](ctx).model
	if g == nil {
		return nil, errors.New("steps: no model: a When step must import one")
	}
	return g, nil
}

// maxRelDiff returns max|a-b| over max|ref|, and the largest |a-b|.
func maxRelDiff(a, ref *tensor.Tensor) (rel, diff float64, err error) {
	if !a.SameShape(ref) {
		return 0, 0, fmt.Errorf("output shapes differ: %v against %v", a.Shape(), ref.Shape())
	}
	var scale float64
	for i, r := range ref.Data() {
		diff = math.Max(diff, math.Abs(float64(a.Data()[i])-float64(r)))
		scale = math.Max(scale, math.Abs(float64(r)))
	}
	if scale == 0 {
		return diff, diff, nil
	}
	return diff / scale, diff, nil
}

func fixtureOutputWithin(ctx context.Context, n int, tol float64) error {
	g, err := importedModel(ctx)
	if err != nil {
		return err
	}
	fx := domainState[interopState](ctx).fixture
	base := strings.TrimSuffix(fx, ".onnx")
	x, err := npyfile.ReadTensor(base + ".input.npy")
	if err != nil {
		return err
	}
	want, err := npyfile.ReadTensor(base + ".output.npy")
	if err != nil {
		return err
	}
	if x.Dim(0) != n {
		return fmt.Errorf("steps: %s.input.npy holds %d images, the scenario says %d", base, x.Dim(0), n)
	}
	got, err := ptq.FP32Model(g).Forward(x)
	if err != nil {
		return err
	}
	rel, diff, err := maxRelDiff(got, want)
	if err != nil {
		return err
	}
	c := criterion{measured: "largest FP32 output difference to PyTorch, relative to PyTorch's largest output", unit: "", direction: atMost, threshold: tol, value: rel}
	return check(ctx, c, func() error {
		return fmt.Errorf("the largest difference to PyTorch's output is %.3g, %.3g of its largest magnitude, want at most %g", diff, rel, tol)
	})
}

func importRefusedNaming(ctx context.Context, node, op string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return fmt.Errorf("the import succeeded; want it refused naming node %q (%s)", node, op)
	}
	var ue *onnxio.UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, onnxio.ErrUnsupported) {
		return fmt.Errorf("the import failed with %v, not as an unsupported construct", err)
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("%q", node), op} {
		if !strings.Contains(msg, want) {
			return fmt.Errorf("the refusal %q does not name %s", msg, want)
		}
	}
	return nil
}

func scratchFile(ctx context.Context, name string) (string, error) {
	dir, err := stateFrom(ctx).scratchDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func exportedFP32(ctx context.Context) error {
	g := domainState[modelState](ctx).model
	if g == nil {
		return errors.New("steps: no FP32 model to export: a Given step must build or import one")
	}
	path, err := scratchFile(ctx, "fp32.onnx")
	if err != nil {
		return err
	}
	if err := onnxio.ExportFile(path, g); err != nil {
		return err
	}
	ox := domainState[interopState](ctx)
	ox.exported, ox.exportedInt8, ox.format = path, false, "fp32"
	return nil
}

func exportedInt8(ctx context.Context, format string) error {
	if err := stateFrom(ctx).lastErr(); err != nil {
		return fmt.Errorf("no int8 model to export: %w", err)
	}
	s := ptqOf(ctx)
	if err := s.needQuantized(); err != nil {
		return err
	}
	f, err := onnxio.ParseFormat(format)
	if err != nil {
		return err
	}
	path, err := scratchFile(ctx, "int8-"+string(f)+".onnx")
	if err != nil {
		return err
	}
	if err := onnxio.ExportQuantizedFile(path, s.quantized, f); err != nil {
		return err
	}
	ox := domainState[interopState](ctx)
	ox.exported, ox.exportedInt8, ox.format = path, true, format
	return nil
}

func ortRunsExport(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	ox := domainState[interopState](ctx)
	if ox.exported == "" {
		return errors.New("steps: nothing was exported: a When step must export the model")
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	eval, err := mnistFirst(test, n, false)
	if err != nil {
		return err
	}
	r, err := ortrun.Default()
	if err != nil {
		return fmt.Errorf("ONNX Runtime judges this scenario: %w", err)
	}
	outs, err := r.RunBatches(ctx, ox.exported, map[string]*tensor.Tensor{"": eval.X}, 500)
	if err != nil {
		return err
	}
	if len(outs) != 1 {
		return fmt.Errorf("ONNX Runtime gave %d outputs, want 1", len(outs))
	}
	for _, t := range outs {
		ox.ort = t
	}
	var ref ptq.Forwarder
	if ox.exportedInt8 {
		s := ptqOf(ctx)
		if err := s.needQuantized(); err != nil {
			return err
		}
		ref = s.quantized
	} else {
		ref = ptq.FP32Model(domainState[modelState](ctx).model)
	}
	if ox.ref, err = forwardBatches(ref, eval.X, 500); err != nil {
		return err
	}
	ox.images, ox.labels = eval.X, eval.Labels
	return nil
}

// forwardBatches runs f on x in batches and concatenates the outputs.
func forwardBatches(f ptq.Forwarder, x *tensor.Tensor, batch int) (*tensor.Tensor, error) {
	var parts []*tensor.Tensor
	for lo := 0; lo < x.Dim(0); lo += batch {
		xb, err := x.Slice(lo, min(x.Dim(0), lo+batch))
		if err != nil {
			return nil, err
		}
		y, err := f.Forward(xb)
		if err != nil {
			return nil, err
		}
		parts = append(parts, y)
	}
	return tensor.Concat(parts...)
}

// ran returns the scenario's ONNX Runtime and ptqspec outputs.
func ran(ctx context.Context) (*interopState, error) {
	ox := domainState[interopState](ctx)
	if ox.ort == nil || ox.ref == nil {
		return nil, errors.New("steps: ONNX Runtime has not run: a When step must run the export")
	}
	if !ox.ort.SameShape(ox.ref) {
		return nil, fmt.Errorf("ONNX Runtime's output has shape %v, ptqspec's %v", ox.ort.Shape(), ox.ref.Shape())
	}
	return ox, nil
}

func ortWithinFP32(ctx context.Context, tol float64) error {
	ox, err := ran(ctx)
	if err != nil {
		return err
	}
	if ox.exportedInt8 {
		return errors.New("steps: the export is the int8 model; this step compares FP32 exports")
	}
	rel, diff, err := maxRelDiff(ox.ort, ox.ref)
	if err != nil {
		return err
	}
	c := criterion{measured: fmt.Sprintf("largest difference of ONNX Runtime to ptqspec FP32 on %d images, relative to ptqspec's largest output", ox.ref.Dim(0)), direction: atMost, threshold: tol, value: rel}
	return check(ctx, c, func() error {
		return fmt.Errorf("on %d images ONNX Runtime's output differs from ptqspec's FP32 output by up to %.3g, %.3g of its largest magnitude, want at most %g", ox.ref.Dim(0), diff, rel, tol)
	})
}

// argmaxRows returns the index of the largest value in each row of a
// [N, C] tensor.
func argmaxRows(t *tensor.Tensor) []int {
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

// int8Ran returns the scenario's outputs, checking that the int8 model was
// exported.
func int8Ran(ctx context.Context) (*interopState, error) {
	ox, err := ran(ctx)
	if err != nil {
		return nil, err
	}
	if !ox.exportedInt8 {
		return nil, errors.New("steps: the export is the FP32 model; this step compares int8 exports")
	}
	return ox, nil
}

func ortTop1Agreement(ctx context.Context, pct string) error {
	want, err := parsePercent(pct)
	if err != nil {
		return err
	}
	ox, err := int8Ran(ctx)
	if err != nil {
		return err
	}
	a, b := argmaxRows(ox.ort), argmaxRows(ox.ref)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	frac := float64(same) / float64(len(a))
	c := criterion{measured: fmt.Sprintf("top-1 agreement of ONNX Runtime (%s) with ptqspec int8 on %d images", ox.format, len(a)), unit: "%", direction: atLeast, threshold: 100 * want, value: 100 * frac, ideal: 100}
	return check(ctx, c, func() error {
		return fmt.Errorf("ONNX Runtime (%s) and ptqspec's int8 model agree on %d of %d images (%.2f%%), want at least %s%%", ox.format, same, len(a), 100*frac, pct)
	})
}

// outputStep returns the scale of the int8 model's output: the output
// qparams of the node whose output is the model's.
func outputStep(ctx context.Context) (float64, string, error) {
	s := ptqOf(ctx)
	if err := s.needQuantized(); err != nil {
		return 0, "", err
	}
	views, err := s.quantized.Inspect()
	if err != nil {
		return 0, "", err
	}
	out := s.quantized.Output()
	for _, v := range views {
		if v.Name != out {
			continue
		}
		if v.Out == nil || len(v.Out.Scale) != 1 {
			return 0, "", fmt.Errorf("the model's output node %q (%s) is not int8 per tensor: it has no output quantization step", v.Name, v.Kind)
		}
		return float64(v.Out.Scale[0]), v.Name, nil
	}
	return 0, "", fmt.Errorf("the int8 model has no node %q, its output", out)
}

func ortWithinOneStep(ctx context.Context, pct string) error {
	want, err := parsePercent(pct)
	if err != nil {
		return err
	}
	ox, err := int8Ran(ctx)
	if err != nil {
		return err
	}
	step, node, err := outputStep(ctx)
	if err != nil {
		return err
	}
	// A value one step away on the grid may differ from it by a float
	// rounding of the dequantization: allow 1e-3 of a step.
	limit := step * (1 + 1e-3)
	within := 0
	var worst float64
	steps := make([]float64, 0, ox.ref.Len())
	for i, r := range ox.ref.Data() {
		d := math.Abs(float64(ox.ort.Data()[i]) - float64(r))
		worst = math.Max(worst, d)
		if d <= limit {
			within++
		}
		steps = append(steps, d/step)
	}
	frac := float64(within) / float64(ox.ref.Len())
	c := criterion{measured: fmt.Sprintf("output values of ONNX Runtime (%s) within one quantization step of ptqspec int8", ox.format), unit: "%", direction: atLeast, threshold: 100 * want, value: 100 * frac, ideal: 100}
	// The same promise read the other way: the difference that the
	// stated share of values stays under is at most one step.
	slices.Sort(steps)
	q := steps[min(max(int(math.Ceil(want*float64(len(steps))))-1, 0), len(steps)-1)]
	cq := criterion{measured: fmt.Sprintf("difference of ONNX Runtime (%s) to ptqspec int8 that %s%% of the values stay under", ox.format, pct), unit: "output steps", direction: atMost, threshold: 1, value: q, slack: 1e-3}
	return checkAll(ctx, func() error {
		return fmt.Errorf("%d of %d output values (%.3f%%) are within one step (%.4g, the scale of %q) of ptqspec's; the largest difference is %.4g (%.1f steps); want at least %s%%",
			within, ox.ref.Len(), 100*frac, step, node, worst, worst/step, pct)
	}, c, cq)
}

func exportImportedBack(ctx context.Context) error {
	ox := domainState[interopState](ctx)
	if ox.exported == "" || ox.exportedInt8 {
		return errors.New("steps: no FP32 export to import back")
	}
	g, err := onnxio.ImportFile(ox.exported)
	if err != nil {
		return err
	}
	ox.reimported = g
	return nil
}

func reimportBitIdentical(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	ox := domainState[interopState](ctx)
	g := domainState[modelState](ctx).model
	if ox.reimported == nil || g == nil {
		return errors.New("steps: no re-imported model: a When step must import the export back")
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	eval, err := mnistFirst(test, n, false)
	if err != nil {
		return err
	}
	a, err := forwardBatches(ptq.FP32Model(g), eval.X, 500)
	if err != nil {
		return err
	}
	b, err := forwardBatches(ptq.FP32Model(ox.reimported), eval.X, 500)
	if err != nil {
		return err
	}
	if !a.SameShape(b) {
		return fmt.Errorf("the re-imported model's output has shape %v, the original's %v", b.Shape(), a.Shape())
	}
	differ := 0
	first := -1
	for i := range a.Data() {
		if math.Float32bits(a.Data()[i]) != math.Float32bits(b.Data()[i]) {
			differ++
			if first < 0 {
				first = i
			}
		}
	}
	if differ > 0 {
		return fmt.Errorf("%d of %d output values differ; the first, element %d, is %v against %v", differ, a.Len(), first, b.Data()[first], a.Data()[first])
	}
	return nil
}
