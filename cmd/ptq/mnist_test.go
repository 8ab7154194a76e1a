package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/internal/testmodels"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// runPTQ runs ptq with args and returns its exit status, stdout and stderr.
func runPTQ(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// lastJSON decodes the last line of out into v.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
}

func TestPTQCommandsRefuseBadFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.model")
	cases := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string // substring of stderr
	}{
		{"mnist unknown model", []string{"mnist", "-model", "vgg"}, 2, `unknown model "vgg"`},
		{"mnist zero epochs", []string{"mnist", "-epochs", "0"}, 2, "-epochs is 0, want > 0"},
		{"mnist negative limit", []string{"mnist", "-limit", "-1"}, 2, "-limit is -1, want >= 0"},
		{"mnist zero calib", []string{"mnist", "-calib", "0"}, 2, "-calib is 0, want > 0"},
		{"mnist zero calib batch", []string{"mnist", "-calib-batch", "0"}, 2, "-calib-batch is 0, want > 0"},
		{"mnist unknown method", []string{"mnist", "-method", "kl"}, 2, `unknown calibration method "kl" (known: minmax,`},
		{"mnist negative eval", []string{"mnist", "-eval", "-1"}, 2, "-eval is -1, want >= 0"},
		{"mnist negative sens-eval", []string{"mnist", "-sens-eval", "-3"}, 2, "-sens-eval is -3, want >= 0"},
		{"mnist negative threshold", []string{"mnist", "-threshold", "-1"}, 2, "-threshold is -1, want a finite number"},
		{"mnist NaN threshold", []string{"mnist", "-threshold", "NaN"}, 2, "-threshold is NaN"},
		{"mnist zero budget", []string{"mnist", "-budget", "0"}, 2, "-budget is 0, want a finite number of points > 0"},
		{"mnist infinite budget", []string{"mnist", "-budget", "+Inf"}, 2, "-budget is +Inf"},
		{"mnist fallback without sensitivity", []string{"mnist", "-fallback", "-sens-eval", "0"}, 2, "-fallback needs the sensitivity images"},
		{"mnist bad seed", []string{"mnist", "-seed", "x"}, 2, `invalid value "x" for flag -seed`},
		{"mnist unknown flag", []string{"mnist", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"mnist extra argument", []string{"mnist", "now"}, 2, "unexpected arguments now"},
		{"mnist calib beyond training set", []string{"mnist", "-calib", "70000"}, 2, "-calib is 70,000, but the MNIST training set holds 60,000 images"},
		{"mnist eval beyond test set", []string{"mnist", "-eval", "10001"}, 2, "-eval is 10,001, but the MNIST test set holds 10,000 images"},
		{"mnist limit beyond training set", []string{"mnist", "-limit", "60001"}, 2, "-limit is 60,001, but the MNIST training set holds 60,000"},
		{"quantize without model", []string{"quantize"}, 2, "-model is required"},
		{"quantize fallback without sensitivity", []string{"quantize", "-model", file, "-fallback"}, 2, "-fallback needs the sensitivity images"},
		{"quantize sens-eval beyond training set", []string{"quantize", "-model", file, "-sens-eval", "70000"}, 2,
			"-sens-eval is 70,000, but the MNIST training set holds 60,000 images"},
		{"quantize selection overlaps calibration", []string{"quantize", "-model", file, "-sens-eval", "59500"}, 2,
			"-sens-eval 59,500 and -calib 1,000 together exceed the 60,000 MNIST training images"},
		{"sensitivity selection overlaps calibration", []string{"sensitivity", "-model", file, "-calib", "50000", "-sens-eval", "10001"}, 2,
			"the selection images (the last -sens-eval) would overlap the calibration images (the first -calib)"},
		{"quantize missing file", []string{"quantize", "-model", file}, 1, file + " does not exist"},
		{"sensitivity without model", []string{"sensitivity"}, 2, "-model is required"},
		{"sensitivity zero images", []string{"sensitivity", "-model", file, "-sens-eval", "0"}, 2, "-sens-eval is 0, want > 0"},
		{"sensitivity has no budget", []string{"sensitivity", "-model", file, "-budget", "1"}, 2, "flag provided but not defined: -budget"},
		{"sensitivity missing file", []string{"sensitivity", "-model", file}, 1, file + " does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runPTQ(t, c.args...)
			if status != c.wantStatus {
				t.Fatalf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", c.args, status, c.wantStatus, stdout, stderr)
			}
			if !strings.Contains(stderr, c.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantErr, stderr)
			}
			if c.wantStatus == 2 && !strings.Contains(stderr, "Run 'ptq "+c.args[0]+" -h'") {
				t.Errorf("stderr does not point to the usage:\n%s", stderr)
			}
		})
	}
}

func TestPTQCommandsHelp(t *testing.T) {
	for _, c := range []struct{ cmd, want string }{
		{"mnist", "Usage: ptq mnist [-model mlp|cnn]"},
		{"quantize", "Usage: ptq quantize -model FILE"},
		{"sensitivity", "Usage: ptq sensitivity -model FILE"},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			status, _, stderr := runPTQ(t, c.cmd, "-h")
			if status != 0 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "-calib") {
				t.Errorf("ptq %s -h: status %d, stderr:\n%s", c.cmd, status, stderr)
			}
		})
	}
}

func TestParseMnistFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantOut string
		check   func(mnistFlags) bool
	}{
		{"defaults", nil, filepath.Join("reports", "mnist-mlp"), func(f mnistFlags) bool {
			return f.model == "mlp" && f.seed == 1 && f.epochs == 3 && f.limit == 0 && f.calib == 1000 &&
				f.calibBatch == 100 && f.method == "minmax" && f.eval == 0 && f.sensEval == 2000 &&
				f.threshold == 0.5 && f.budget == 1 && !f.fallback && !f.json
		}},
		{"output folder follows the model", []string{"-model", "cnn"}, filepath.Join("reports", "mnist-cnn"), func(f mnistFlags) bool { return f.model == "cnn" }},
		{"explicit output folder", []string{"-model", "cnn", "-out", "x"}, "x", func(mnistFlags) bool { return true }},
		{"no report files", []string{"-out", ""}, "", func(mnistFlags) bool { return true }},
		{"every flag", []string{"-seed", "7", "-epochs", "2", "-limit", "500", "-calib", "64", "-calib-batch", "16",
			"-method", "entropy", "-eval", "100", "-sens-eval", "50", "-threshold", "2", "-budget", "0.5", "-fallback", "-json"},
			filepath.Join("reports", "mnist-mlp"), func(f mnistFlags) bool {
				return f.seed == 7 && f.epochs == 2 && f.limit == 500 && f.calib == 64 && f.calibBatch == 16 &&
					f.method == "entropy" && f.eval == 100 && f.sensEval == 50 && f.threshold == 2 && f.budget == 0.5 &&
					f.fallback && f.json
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseMnistFlags(c.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if f.out != c.wantOut {
				t.Errorf("-out = %q, want %q", f.out, c.wantOut)
			}
			if !c.check(f) {
				t.Errorf("parsed %+v", f)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{0, "<1 ms"}, {0.0004, "<1 ms"}, {0.0251, "25 ms"}, {0.9994, "999 ms"}, {1.44, "1.4 s"}, {12.4, "12 s"}, {250, "250 s"}} {
		if got := seconds(c.s); got != c.want {
			t.Errorf("seconds(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {60000, "60,000"}, {1234567, "1,234,567"}, {-10000, "-10,000"}} {
		if got := thousands(c.n); got != c.want {
			t.Errorf("thousands(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// The tiny runs below train an MLP for one epoch on the first
// tinyTrainImages training images, calibrate on tinyCalib images and
// evaluate on the first tinyEval test images, so they take seconds.
const (
	tinyTrainImages = 1000
	tinyCalib       = 200
	tinyEval        = 1000
	tinySensEval    = 300
)

var tinyModel = sync.OnceValues(func() (*nn.Graph, error) {
	train, _, err := datasets.LoadMNIST("")
	if err != nil {
		return nil, err
	}
	sub, err := train.Subset(0, tinyTrainImages)
	if err != nil {
		return nil, err
	}
	g, err := models.ByName("mlp", 5)
	if err != nil {
		return nil, err
	}
	cfg := models.DefaultTrainConfig("mlp")
	cfg.Epochs = 1
	_, err = nn.Fit(g, sub.X, sub.Labels, cfg)
	return g, err
})

// fragileModelFile saves the tiny MLP with outlier weights of 1000 on
// pixel 0 of linear1, which is 0 in every MNIST image: FP32 is unchanged
// and linear1 loses every weight in INT8.
func fragileModelFile(t *testing.T) string {
	t.Helper()
	g, err := tinyModel()
	if err != nil {
		t.Fatal(err)
	}
	g = g.Clone()
	if err := testmodels.AddWeightOutliers(g, "linear1", 0, 1000); err != nil {
		t.Fatal(err)
	}
	train, test, err := datasets.LoadMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*datasets.Dataset{train, test} {
		for i := range d.Len() {
			if v := d.X.Data()[i*d.X.RowLen()]; v != 0 {
				t.Fatalf("%s image %d has pixel 0 = %g; the outlier would change FP32", d.Name, i, v)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "fragile.model")
	if err := nn.SaveFile(path, g); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMnistTinyEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	status, stdout, stderr := runPTQ(t, "mnist", "-model", "mlp", "-epochs", "1", "-limit", "1000",
		"-calib", "200", "-eval", "1000", "-sens-eval", "300", "-out", dir, "-json")
	if status != 0 {
		t.Fatalf("status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	var got summary
	lastJSON(t, stdout, &got)

	// 1,000 training images, one epoch: 74% observed on the first 1,000
	// test images.
	const minFP32 = 0.6
	const maxDropPoints = 2.0 // 10 of 1,000 test images is one point
	const tol = 1e-6
	switch {
	case got.Model != "mlp" || got.Seed != 1 || got.Epochs != 1 || got.TrainImages != tinyTrainImages || got.Cached:
		t.Errorf("model fields: %+v", got)
	case got.CalibrationSamples != tinyCalib || got.CalibrationBatches != 2 || got.TestImages != tinyEval || got.SensitivityImages != tinySensEval ||
		got.SensitivitySet != selectionName(tinySensEval, 60000):
		t.Errorf("image counts: %+v", got)
	case got.FP32Accuracy < minFP32 || got.FP32Accuracy > 1 || got.Int8Accuracy < 0 || got.Int8Accuracy > 1:
		t.Errorf("accuracies %v, %v, want fractions, FP32 at least %v", got.FP32Accuracy, got.Int8Accuracy, minFP32)
	case math.Abs(got.AccuracyDrop-100*(got.FP32Accuracy-got.Int8Accuracy)) > tol:
		t.Errorf("accuracy_drop %v is not 100 × (%v - %v) points", got.AccuracyDrop, got.FP32Accuracy, got.Int8Accuracy)
	case got.AccuracyDrop > maxDropPoints:
		t.Errorf("INT8 loses %v points, want at most %v", got.AccuracyDrop, maxDropPoints)
	case got.WithinBudget != (got.AccuracyDrop <= 1):
		t.Errorf("within_budget %v for a drop of %v points and a budget of 1", got.WithinBudget, got.AccuracyDrop)
	case 10*got.Int8Bytes > 3*got.FP32Bytes || math.Abs(got.SizeRatio-float64(got.FP32Bytes)/float64(got.Int8Bytes)) > tol:
		t.Errorf("bytes %d -> %d, ratio %v: want INT8 at most 30%% of FP32", got.FP32Bytes, got.Int8Bytes, got.SizeRatio)
	case !slices.Equal(sorted(got.Ranking), []string{"linear1", "linear2"}) || got.SensitiveLayers == nil || len(got.RevertedLayers) != 0:
		t.Errorf("sensitivity fields: %+v", got)
	case got.ReportDir != dir:
		t.Errorf("report_dir %q, want %q", got.ReportDir, dir)
	}
	for _, phase := range []string{"load_data", "train", "calibrate", "convert", "evaluate_fp32", "evaluate_int8", "sensitivity", "report"} {
		if s, ok := got.PhaseSeconds[phase]; !ok || s < 0 || s > got.TotalSeconds {
			t.Errorf("phase %q: %v s of %v s in total", phase, s, got.TotalSeconds)
		}
	}
	for _, want := range []string{
		"training mlp (seed 1) for 1 epoch on the first 1,000 MNIST training images (not cached)",
		"the first 200 of the 60,000 MNIST training images only, in batches of 100",
		"the first 1,000 of the 10,000 MNIST test images",
		"Sensitivity on the selection images, MNIST training images 59,700 to 59,999 (the last 300 of 60,000, held out from calibration)",
		"Report: " + filepath.Join(dir, report.HTMLFile),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	if !hasRow(stdout, "linear1", "Linear", "int8", "int8", "symmetric", "per-channel") {
		t.Errorf("the layer table lacks linear1 in INT8:\n%s", stdout)
	}

	wantFiles := []string{report.HTMLFile, report.MarkdownFile, report.JSONFile, sensitivityCSV, sensitivityJSON, sensitivityMarkdown, "accuracy.svg", "sensitivity.svg"}
	for _, name := range wantFiles {
		if !slices.Contains(got.Files, filepath.Join(dir, name)) {
			t.Errorf("files %q lack %s", got.Files, name)
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("report.html has no inline SVG chart (err %v)", err)
	}
	f, err := os.Open(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if back.FP32Accuracy != got.FP32Accuracy || back.Int8Accuracy != got.Int8Accuracy || back.Quant.Int8Bytes != got.Int8Bytes ||
		back.Sensitivity == nil || back.Sensitivity.Samples != tinySensEval || back.MaxDrop != 0.01 {
		t.Errorf("report.json disagrees with the summary: %+v", back)
	}
}

func TestQuantizeFallbackRevertsTheFragileLayer(t *testing.T) {
	file := fragileModelFile(t)
	dir := filepath.Join(t.TempDir(), "report")
	status, stdout, stderr := runPTQ(t, "quantize", "-model", file, "-calib", "200", "-eval", "1000",
		"-sens-eval", "300", "-fallback", "-budget", "1", "-out", dir, "-json")
	if status != 0 {
		t.Fatalf("status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	var got summary
	lastJSON(t, stdout, &got)
	const maxDropPoints = 1.5 // the budget holds on the 300 sensitivity images; allow some spread on 1,000
	if got.Model != "fragile" || got.ModelFile != file || !slices.Equal(got.RevertedLayers, []string{"linear1"}) {
		t.Errorf("model %q, file %q, reverted %q; want linear1 reverted", got.Model, got.ModelFile, got.RevertedLayers)
	}
	if got.AccuracyDrop > maxDropPoints {
		t.Errorf("after the fallback INT8 loses %v points, want at most %v", got.AccuracyDrop, maxDropPoints)
	}
	if !hasRow(stdout, "linear1", "Linear", "fp32", "-") {
		t.Errorf("the layer table lacks linear1 in FP32:\n%s", stdout)
	}
	for _, want := range []string{"1. linear1 back to FP32", "with linear1 in FP32"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if back.Fallback == nil || len(back.Fallback.Reverted) != 1 || !back.Fallback.Met {
		t.Errorf("report.json fallback: %+v", back.Fallback)
	}
	if l, ok := back.Quant.Layer("linear1"); !ok || l.Quantized {
		t.Errorf("report.json: linear1 is %+v, want FP32", l)
	}
}

func TestSensitivityRanksTheFragileLayerFirst(t *testing.T) {
	file := fragileModelFile(t)
	dir := filepath.Join(t.TempDir(), "sens")
	status, stdout, stderr := runPTQ(t, "sensitivity", "-model", file, "-calib", "200", "-sens-eval", "300",
		"-threshold", "5", "-out", dir, "-json")
	if status != 0 {
		t.Fatalf("status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	var got sensitivitySummary
	lastJSON(t, stdout, &got)
	if !slices.Equal(got.SensitiveLayers, []string{"linear1"}) || got.Ranking[0] != "linear1" || got.SensitivityImages != tinySensEval ||
		got.SensitivitySet != selectionName(tinySensEval, 60000) {
		t.Errorf("summary %+v: want linear1 alone sensitive, first, on the last %d training images", got, tinySensEval)
	}
	// Judged on the 10,000 test images: linear1 in FP32 gives back what
	// INT8 took (its outlier zeroes every other weight of linear1 in INT8).
	const maxTestDropPoints = 2.0 // 200 of 10,000 test images
	if got.TestImages != 10000 || got.TestAllInt8 > 0.5 || 100*(got.TestFP32-got.TestSensitiveKept) > maxTestDropPoints {
		t.Errorf("test judgement %+v: want all-INT8 below 50%% and linear1 in FP32 within %v points of FP32 on 10,000 images", got.testJudgement, maxTestDropPoints)
	}
	if want := "On the 10,000 MNIST test images (none of them a selection or calibration image): FP32 "; !strings.Contains(stdout, want) ||
		!strings.Contains(stdout, "INT8 with the sensitive linear1 in FP32 ") {
		t.Errorf("stdout does not judge the choice on the test images:\n%s", stdout)
	}
	if got.FP32Accuracy-got.AllInt8Accuracy < 0.05 {
		t.Errorf("all-INT8 accuracy %v against FP32 %v: the fragile layer should cost more than 5 points", got.AllInt8Accuracy, got.FP32Accuracy)
	}
	if !strings.Contains(stdout, "sensitive layers (drop or recovery of 5.00 points or more), most sensitive first: linear1") {
		t.Errorf("stdout does not name the sensitive layer:\n%s", stdout)
	}
	raw, err := os.ReadFile(filepath.Join(dir, sensitivityCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][1] != "layer" || rows[1][1] != "linear1" {
		t.Errorf("sensitivity.csv: %q (err %v)", rows, err)
	}
	var js ptq.SensitivityReport
	raw, err = os.ReadFile(filepath.Join(dir, sensitivityJSON))
	if err != nil || json.Unmarshal(raw, &js) != nil || js.Schema != ptq.SensitivitySchema || js.Samples != tinySensEval {
		t.Errorf("sensitivity.json: %s (err %v)", raw, err)
	}
}

// hasRow reports whether a line of out starts with the given fields.
func hasRow(out string, fields ...string) bool {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
