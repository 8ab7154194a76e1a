package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// htmlOutline parses an HTML page leniently (void elements auto-closed,
// HTML entities known) and checks that every other element is closed in
// order. It returns the ids of the sections and the number of <svg>
// elements.
func htmlOutline(page []byte) (sections []string, svgs int, err error) {
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			return nil, 0, fmt.Errorf("line %d: %w", line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			switch t.Name.Local {
			case "svg":
				svgs++
			case "section":
				for _, a := range t.Attr {
					if a.Name.Local == "id" {
						sections = append(sections, a.Value)
					}
				}
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name.Local {
				line, _ := d.InputPos()
				return nil, 0, fmt.Errorf("line %d: </%s> closes %v", line, t.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		return nil, 0, fmt.Errorf("unclosed elements at the end: %v", stack)
	}
	return sections, svgs, nil
}

func render(t *testing.T, write func(io.Writer, *Run) error, r *Run) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteHTMLSectionsAndCharts(t *testing.T) {
	full := testRun(t)
	noSens := testRun(t)
	noSens.Sensitivity = nil
	noFallback := testRun(t)
	noFallback.Fallback = nil
	bare := testRun(t)
	bare.Sensitivity, bare.Fallback, bare.Timings = nil, nil, nil
	dynamic := testRun(t)
	dynamic.Sensitivity, dynamic.Fallback = nil, nil
	dynamic.Quant.Mode, dynamic.Quant.Calibration = ptq.ModeDynamic, nil
	base := []string{"summary", "accuracy", "layers", "weights"}
	tests := []struct {
		name     string
		run      *Run
		sections []string
		charts   []string
	}{
		{"everything", full, append(slices.Clone(base), "calibration", "sensitivity", "fallback", "traversal", "timings"),
			[]string{ChartAccuracy, ChartLayerSQNR, ChartWeightScales, ChartCalibration, ChartSensitivity, ChartFallback}},
		{"no sensitivity", noSens, append(slices.Clone(base), "calibration", "fallback", "traversal", "timings"),
			[]string{ChartAccuracy, ChartLayerSQNR, ChartWeightScales, ChartCalibration, ChartFallback}},
		{"no fallback", noFallback, append(slices.Clone(base), "calibration", "sensitivity", "traversal", "timings"),
			[]string{ChartAccuracy, ChartLayerSQNR, ChartWeightScales, ChartCalibration, ChartSensitivity}},
		// Without Timings the quantizer's own phase times are shown.
		{"no optional part", bare, append(slices.Clone(base), "calibration", "traversal", "timings"),
			[]string{ChartAccuracy, ChartLayerSQNR, ChartWeightScales, ChartCalibration}},
		{"no calibration", dynamic, append(slices.Clone(base), "traversal", "timings"),
			[]string{ChartAccuracy, ChartLayerSQNR, ChartWeightScales}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := render(t, WriteHTML, tc.run)
			sections, svgs, err := htmlOutline(page)
			if err != nil {
				t.Fatalf("HTML is not well formed: %v", err)
			}
			if !slices.Equal(sections, tc.sections) {
				t.Errorf("sections %v, want %v", sections, tc.sections)
			}
			if svgs != len(tc.charts) {
				t.Errorf("%d inline <svg>, want %d", svgs, len(tc.charts))
			}
			cs, err := Charts(tc.run)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range cs {
				names = append(names, c.Name)
				if !bytes.Contains(page, []byte(`aria-label="`+htmlAttr(c.Title)+`"`)) {
					t.Errorf("chart %q is not inline in the page", c.Name)
				}
			}
			if !slices.Equal(names, tc.charts) {
				t.Errorf("charts %v, want %v", names, tc.charts)
			}
			for _, l := range tc.run.Quant.Layers {
				if !bytes.Contains(page, []byte(`<td class="name">`+l.Name+`</td>`)) {
					t.Errorf("layer %q missing from the tables", l.Name)
				}
			}
		})
	}
}

func TestWriteHTMLSelfContained(t *testing.T) {
	page := string(render(t, WriteHTML, testRun(t)))
	// The only URLs are the SVG and XLink namespace names.
	rest := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
	for _, bad := range []string{"http:", "https:", "<script", "<link", " src=", "url(", "@import", "<?xml"} {
		if strings.Contains(rest, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"ResidualCNN &lt;small&gt; &amp; random", "@media print", "<h1>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHeadlineNumbers(t *testing.T) {
	r := testRun(t)
	page := string(render(t, WriteHTML, r))
	c := r.Quant.Calibration
	for _, want := range []string{
		percent(r.FP32Accuracy) + " → " + percent(r.Int8Accuracy),
		"drop " + points(r.drop()) + ", budget 1 pt",
		byteSize(r.FP32Bytes) + " → " + byteSize(r.Int8Bytes),
		fmt.Sprintf("%.2f× smaller", float64(r.FP32Bytes)/float64(r.Int8Bytes)),
		"64 samples",
		map[bool]string{true: fmt.Sprintf("converged at batch %d of %d", c.ConvergedAt, c.Batches),
			false: fmt.Sprintf("not converged after %d batches", c.Batches)}[c.Converged],
		fmt.Sprintf("%d int8 layers", len(r.Quant.QuantizedLayers())),
		"output SQNR " + db(r.Quant.OutputSQNR),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("headline lacks %q", want)
		}
	}
}

func TestLowSQNRCue(t *testing.T) {
	r := testRun(t)
	var sqnrs []float64
	for _, l := range r.Quant.Layers {
		if l.SQNR != nil {
			sqnrs = append(sqnrs, *l.SQNR)
		}
	}
	lo, hi := slices.Min(sqnrs), slices.Max(sqnrs)
	tests := []struct {
		name          string
		ref           float64
		low, veryLow  int
		chartSwatches []string
	}{
		{"reference below every layer", math.Floor(lo) - 1, 0, 0, nil},
		{"reference above every layer", math.Ceil(hi) + 1, len(sqnrs), 0, []string{"below"}},
		{"every layer more than 10 dB under", math.Ceil(hi) + 11, 0, len(sqnrs), []string{"below"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(t)
			r.Sensitivity = nil // its SQNR column is flagged the same way
			r.SQNRReference = tc.ref
			page := string(render(t, WriteHTML, r))
			if got := strings.Count(page, `<td class="num low">`); got != tc.low {
				t.Errorf("%d cells flagged low, want %d", got, tc.low)
			}
			if got := strings.Count(page, `<td class="num very-low">`); got != tc.veryLow {
				t.Errorf("%d cells flagged very low, want %d", got, tc.veryLow)
			}
			md := string(render(t, WriteMarkdown, r))
			if got := strings.Count(md, "(low)") + strings.Count(md, "(very low)"); got != tc.low+tc.veryLow {
				t.Errorf("Markdown flags %d layers, want %d", got, tc.low+tc.veryLow)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	r := testRun(t)
	writers := []struct {
		name  string
		write func(io.Writer, *Run) error
	}{{"html", WriteHTML}, {"markdown", WriteMarkdown}, {"json", WriteJSON}}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			// Rendered concurrently: gonum/plot's font cache is shared.
			outs := make([][]byte, 3)
			var wg sync.WaitGroup
			for i := range outs {
				wg.Go(func() {
					var buf bytes.Buffer
					if err := w.write(&buf, cloneRun(r)); err != nil {
						t.Error(err)
					}
					outs[i] = buf.Bytes()
				})
			}
			wg.Wait()
			for i := 1; i < len(outs); i++ {
				if !bytes.Equal(outs[0], outs[i]) {
					t.Fatalf("render %d differs from render 0 (%d vs %d bytes)", i, len(outs[i]), len(outs[0]))
				}
			}
		})
	}
	t.Run("charts", func(t *testing.T) {
		a, err := Charts(r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Charts(cloneRun(r))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatal("two calls to Charts differ")
		}
	})
}

func TestWritersDoNotModifyRun(t *testing.T) {
	r := testRun(t)
	// Reverse the ranking: the page must sort a copy, not r.
	slices.Reverse(r.Sensitivity.Layers)
	before := render(t, WriteJSON, r)
	order := slices.Clone(r.Sensitivity.Layers)
	for _, write := range []func(io.Writer, *Run) error{WriteHTML, WriteMarkdown, WriteJSON} {
		render(t, write, r)
	}
	if _, err := WriteAll(t.TempDir(), r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, r.Sensitivity.Layers) {
		t.Error("writing reordered the caller's sensitivity layers")
	}
	if after := render(t, WriteJSON, r); !bytes.Equal(before, after) {
		t.Error("writing changed the run")
	}
}

func TestSensitivityInRankOrder(t *testing.T) {
	r := testRun(t)
	want := r.Sensitivity.Ranking()
	slices.Reverse(r.Sensitivity.Layers)
	page := string(render(t, WriteHTML, r))
	sec, ok := sensitivitySection(page)
	if !ok {
		t.Fatal("the page has no sensitivity section")
	}
	if len(want) == 0 {
		t.Fatal("the test run has no sensitivity rows to order")
	}
	last := -1
	for i, name := range want {
		at := strings.Index(sec, `<td class="name">`+name+`</td>`)
		if at < 0 {
			t.Fatalf("rank %d (%s) is missing from the sensitivity section", i+1, name)
		}
		if at < last {
			t.Fatalf("rank %d (%s) listed before rank %d", i+1, name, i)
		}
		last = at
	}
}

// sensitivitySection returns the sensitivity section of an HTML page.
func sensitivitySection(page string) (string, bool) {
	_, sec, ok := strings.Cut(page, `<section id="sensitivity">`)
	if !ok {
		return "", false
	}
	sec, _, ok = strings.Cut(sec, "</section>")
	return sec, ok
}

func TestJSONRoundTrip(t *testing.T) {
	withInf := testRun(t)
	withInf.Quant.Calibration.History[2].MaxScaleChange = math.Inf(1)
	defaults := testRun(t)
	defaults.Title, defaults.MaxDrop, defaults.SQNRReference, defaults.FP32Bytes, defaults.Int8Bytes, defaults.CalibrationSamples = "", 0, 0, 0, 0, 0
	tests := []struct {
		name string
		run  *Run
		// want is the Run ReadJSON must return.
		want *Run
	}{
		{"every field set", testRun(t), testRun(t)},
		{"infinite scale change", withInf, withInf},
		{"defaults are written as the values in effect", defaults, testRun(t)},
	}
	tests[2].want.Title = "PTQ report"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := render(t, WriteJSON, tc.run)
			got, err := ReadJSON(bytes.NewReader(js))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tc.want)
				t.Fatalf("round trip changed the run:\n got %s\nwant %s", g, w)
			}
			if again := render(t, WriteJSON, got); !bytes.Equal(js, again) {
				t.Fatal("re-encoding the decoded run gives other bytes")
			}
		})
	}
}

func TestJSONFieldNames(t *testing.T) {
	r := testRun(t)
	r.Quant.Calibration.History[1].MaxScaleChange = math.Inf(1)
	var doc map[string]any
	if err := json.Unmarshal(render(t, WriteJSON, r), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "title", "model", "config", "calibration_samples", "fp32_accuracy", "int8_accuracy",
		"accuracy_drop", "max_drop", "within_budget", "fp32_bytes", "int8_bytes", "size_ratio", "sqnr_reference_db",
		"timings_seconds", "quantization", "sensitivity", "fallback"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no top-level %q", k)
		}
	}
	if doc["schema"] != Schema {
		t.Errorf("schema %v, want %s", doc["schema"], Schema)
	}
	const tol = 1e-12
	if d := doc["accuracy_drop"].(float64); math.Abs(d-(r.FP32Accuracy-r.Int8Accuracy)) > tol {
		t.Errorf("accuracy_drop %v, want %v", d, r.FP32Accuracy-r.Int8Accuracy)
	}
	hist := doc["quantization"].(map[string]any)["calibration"].(map[string]any)["history"].([]any)
	step := hist[1].(map[string]any)
	for _, k := range []string{"batch", "samples", "max_scale_change", "worst_tensor", "converged"} {
		if _, ok := step[k]; !ok {
			t.Errorf("calibration step has no %q: %v", k, step)
		}
	}
	if step["max_scale_change"] != nil {
		t.Errorf("infinite max_scale_change encoded as %v, want null", step["max_scale_change"])
	}
}

func TestReadJSONErrors(t *testing.T) {
	good := string(render(t, WriteJSON, testRun(t)))
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"malformed", `{"schema": "ptqspec.report/v1",, }`, "at byte 32"},
		{"wrong type", `{"schema": "ptqspec.report/v1", "fp32_accuracy": "high"}`, `field "fp32_accuracy"`},
		{"other schema", strings.Replace(good, Schema, "ptqspec.report/v0", 1), `schema "ptqspec.report/v0"`},
		{"no quantization", `{"schema": "ptqspec.report/v1"}`, `no "quantization"`},
		{"invalid run", strings.Replace(good, `"int8_accuracy": `, `"int8_accuracy": 2`, 1), "Run.Int8Accuracy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJSON(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "report: ") {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestInvalidRun(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *Run) *Run
		want   string
	}{
		{"nil run", func(*Run) *Run { return nil }, "Run is nil"},
		{"nil Quant", func(r *Run) *Run { r.Quant = nil; return r }, "Run.Quant is nil"},
		{"NaN accuracy", func(r *Run) *Run { r.FP32Accuracy = math.NaN(); return r }, "Run.FP32Accuracy = NaN"},
		{"accuracy in percent", func(r *Run) *Run { r.Int8Accuracy = 97.5; return r }, "Run.Int8Accuracy = 97.5"},
		{"negative size", func(r *Run) *Run { r.Int8Bytes = -1; return r }, "Run.Int8Bytes = -1"},
		{"negative budget", func(r *Run) *Run { r.MaxDrop = -0.01; return r }, "Run.MaxDrop = -0.01"},
		{"NaN timing", func(r *Run) *Run { r.Timings["calibrate"] = math.NaN(); return r }, `Run.Timings["calibrate"] = NaN`},
		{"zero weight scale", func(r *Run) *Run { r.Quant.Layers[0].Weights.ScaleMin = 0; return r }, `Layers[0] (layer "stem_conv"): weight scales min 0`},
		{"infinite layer SQNR", func(r *Run) *Run { v := math.Inf(1); r.Quant.Layers[0].SQNR = &v; return r }, `Layers[0] (layer "stem_conv"): SQNR +Inf`},
		{"NaN scale change", func(r *Run) *Run { r.Quant.Calibration.History[3].MaxScaleChange = math.NaN(); return r }, "History[3] (batch 3)"},
		{"NaN sensitivity", func(r *Run) *Run { r.Sensitivity.Layers[1].Drop = math.NaN(); return r }, "Run.Sensitivity.Layers[1]"},
		{"NaN fallback", func(r *Run) *Run { r.Fallback.Reverted[0].Metric = math.NaN(); return r }, "Run.Fallback.Reverted[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writers := map[string]func(*Run) error{
				"html":     func(r *Run) error { return WriteHTML(io.Discard, r) },
				"markdown": func(r *Run) error { return WriteMarkdown(io.Discard, r) },
				"json":     func(r *Run) error { return WriteJSON(io.Discard, r) },
				"charts":   func(r *Run) error { _, err := Charts(r); return err },
			}
			for _, name := range []string{"html", "markdown", "json", "charts"} {
				err := writers[name](tc.change(testRun(t)))
				if !errors.Is(err, ErrInvalidRun) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: err = %v, want ErrInvalidRun naming %q", name, err, tc.want)
				}
			}
			dir := filepath.Join(t.TempDir(), "out")
			paths, err := WriteAll(dir, tc.change(testRun(t)))
			if !errors.Is(err, ErrInvalidRun) || len(paths) != 0 {
				t.Errorf("WriteAll: %v, %v; want ErrInvalidRun and no file", paths, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("WriteAll created %s for an invalid run", dir)
			}
		})
	}
}

func TestWriteAll(t *testing.T) {
	r := testRun(t)
	dir := filepath.Join(t.TempDir(), "nested", "report")
	paths, err := WriteAll(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Charts(r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{HTMLFile: render(t, WriteHTML, r), MarkdownFile: render(t, WriteMarkdown, r), JSONFile: render(t, WriteJSON, r)}
	names := []string{HTMLFile, MarkdownFile, JSONFile}
	for _, c := range cs {
		want[c.File()] = c.SVG
		names = append(names, c.File())
	}
	if len(paths) != len(names) {
		t.Fatalf("wrote %v, want %v", paths, names)
	}
	for i, p := range paths {
		if filepath.Base(p) != names[i] || filepath.Dir(p) != dir {
			t.Errorf("path %d is %s, want %s", i, p, filepath.Join(dir, names[i]))
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[names[i]]) {
			t.Errorf("%s differs from what the single writer gives", names[i])
		}
	}
	// Writing again replaces the files with the same bytes.
	if _, err := WriteAll(dir, r); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !bytes.Equal(got, want[HTMLFile]) {
		t.Error("second WriteAll changed report.html")
	}
}

func TestWriteAllUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := WriteAll(filepath.Join(file, "report"), testRun(t))
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("err = %v, want one naming %s", err, file)
	}
}

func TestMarkdown(t *testing.T) {
	r := testRun(t)
	r.Quant.Layers[0].Reason = "a | b"
	md := string(render(t, WriteMarkdown, r))
	cs, err := Charts(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !strings.Contains(md, "]("+c.File()+")") {
			t.Errorf("no image link to %s", c.File())
		}
	}
	for _, h := range []string{"# ResidualCNN <small> & random\n", "## Summary", "## Accuracy", "## Layers", "## Weight scales",
		"## Calibration", "## Sensitivity", "## Fallback", "## Traversal", "## Timings"} {
		if !strings.Contains(md, h) {
			t.Errorf("no %q", h)
		}
	}
	// A '|' inside a cell is escaped so that rows keep their columns.
	if !strings.Contains(md, `| a \| b |`) {
		t.Error("the '|' of a reason is not escaped")
	}
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n < 3 {
			t.Errorf("table row with %d separators: %q", n, line)
		}
	}
	for _, l := range r.Quant.Layers {
		if !strings.Contains(md, "| `"+l.Name+"` |") {
			t.Errorf("layer %q missing", l.Name)
		}
	}
}

func TestOverridesColumn(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		want      bool
	}{
		{"no override", nil, false},
		{"one override", []string{"name fc: keep FP32"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(t)
			r.Quant.Layers[len(r.Quant.Layers)-1].Overrides = tc.overrides
			page := string(render(t, WriteHTML, r))
			md := string(render(t, WriteMarkdown, r))
			if got := strings.Contains(page, "<th>overrides</th>"); got != tc.want {
				t.Errorf("HTML overrides column: %v, want %v", got, tc.want)
			}
			if got := strings.Contains(md, "| fused | overrides |"); got != tc.want {
				t.Errorf("Markdown overrides column: %v, want %v", got, tc.want)
			}
			for _, o := range tc.overrides {
				if !strings.Contains(page, o) || !strings.Contains(md, o) {
					t.Errorf("override %q not shown", o)
				}
			}
		})
	}
}

func TestOtherQuantizationModes(t *testing.T) {
	mlp, err := models.MLP(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	_, dyn, err := ptq.QuantizeDynamic(context.Background(), mlp, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := nn.Sequential([]int{4}, nn.NewReLU(), nn.NewSoftmax())
	if err != nil {
		t.Fatal(err)
	}
	_, fp32, err := ptq.Quantize(context.Background(), plain, ptq.BatchesOf(datasets.Gaussian(8, []int{4}, 0, 1, 1).X, 4), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		rep      *ptq.Report
		mode     ptq.Mode
		sections []string
		charts   int
	}{
		{"dynamic", dyn, ptq.ModeDynamic, []string{"summary", "accuracy", "layers", "weights", "traversal", "timings"}, 2},
		{"nothing to quantize", fp32, ptq.ModeFP32, []string{"summary", "accuracy", "layers", "traversal", "timings"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rep.Mode != tc.mode {
				t.Fatalf("mode %q, want %q", tc.rep.Mode, tc.mode)
			}
			r := &Run{FP32Accuracy: 0.9, Int8Accuracy: 0.9, Quant: tc.rep}
			page := render(t, WriteHTML, r)
			sections, svgs, err := htmlOutline(page)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sections, tc.sections) || svgs != tc.charts {
				t.Errorf("sections %v with %d charts, want %v with %d", sections, svgs, tc.sections, tc.charts)
			}
			for _, n := range tc.rep.Notes {
				if !bytes.Contains(page, []byte(n)) {
					t.Errorf("note %q not shown", n)
				}
			}
			if !bytes.Contains(page, []byte("no calibration ("+tc.mode.String()+" mode)")) {
				t.Error("the calibration card does not say there was none")
			}
		})
	}
}
