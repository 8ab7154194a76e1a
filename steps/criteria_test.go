package steps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"
	"github.com/ptqspec/ptqspec/internal/scorecard"
)

func TestCriterionPassAndMargin(t *testing.T) {
	cases := []struct {
		name       string
		c          criterion
		pass       bool
		margin     float64
		relative   float64
		noRelative bool
	}{
		{"at least, above", criterion{direction: atLeast, threshold: 30, value: 37.5}, true, 7.5, 0.25, false},
		{"at least, equal", criterion{direction: atLeast, threshold: 30, value: 30}, true, 0, 0, false},
		{"at least, below", criterion{direction: atLeast, threshold: 30, value: 27}, false, -3, -0.1, false},
		{"at least, slack", criterion{direction: atLeast, threshold: 1, value: 1 - 1e-12, slack: 1e-9}, true, -1e-12, -1e-12, false},
		{"at most, below", criterion{direction: atMost, threshold: 2.5, value: 1.25}, true, 1.25, 0.5, false},
		{"at most, above", criterion{direction: atMost, threshold: 2.5, value: 3}, false, -0.5, -0.2, false},
		{"less than, equal fails", criterion{direction: lessThan, threshold: 1, value: 1}, false, 0, 0, false},
		{"less than, below", criterion{direction: lessThan, threshold: 1, value: 0.4}, true, 0.6, 0.6, false},
		{"greater than, equal fails", criterion{direction: greaterThan, threshold: 0, value: 0}, false, 0, 0, true},
		{"within, inside", criterion{direction: within, threshold: 0.5, value: 0.125}, true, 0.375, 0.75, false},
		{"within, outside", criterion{direction: within, threshold: 0.5, value: 1}, false, -0.5, -1, false},
		{"cosine against its ideal 1", criterion{direction: atLeast, threshold: 0.999, value: 0.9999, ideal: 1}, true, 0.0009, 0.9, false},
		{"a format limit has no relative margin", criterion{direction: atLeast, threshold: -128, value: -128, formatLimit: true}, true, 0, 0, true},
		{"NaN never passes", criterion{direction: atLeast, threshold: 30, value: math.NaN()}, false, math.NaN(), math.NaN(), false},
		{"unknown direction never passes", criterion{direction: "about", threshold: 1, value: 1}, false, 0, 0, false},
	}
	const tol = 1e-9
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.passes(); got != c.pass {
				t.Errorf("passes() = %v, want %v", got, c.pass)
			}
			r := c.c.record("f.feature", "s", "step")
			if r.Pass != c.pass || r.Schema != CriteriaSchema {
				t.Errorf("record pass %v schema %q", r.Pass, r.Schema)
			}
			if m := float64(r.Margin); !(math.Abs(m-c.margin) <= tol || math.IsNaN(m) && math.IsNaN(c.margin)) {
				t.Errorf("margin = %v, want %v within %g", m, c.margin, tol)
			}
			if (r.RelativeMargin == nil) != c.noRelative {
				t.Fatalf("relative margin present = %v, want %v", r.RelativeMargin != nil, !c.noRelative)
			}
			if r.RelativeMargin != nil {
				if rm := float64(*r.RelativeMargin); !(math.Abs(rm-c.relative) <= tol || math.IsNaN(rm) && math.IsNaN(c.relative)) {
					t.Errorf("relative margin = %v, want %v within %g", rm, c.relative, tol)
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("the record does not encode: %v", err)
			}
		})
	}
}

func TestCheckReturnsTheStepsMessageAndRecords(t *testing.T) {
	ctx := withState(context.Background(), "scenario")
	errStep := errors.New("held-out output SQNR is 27.00 dB, want at least 30 dB")
	fail := func() error { return errStep }
	if err := check(ctx, criterion{measured: "m", unit: "dB", direction: atLeast, threshold: 30, value: 37}, fail); err != nil {
		t.Fatalf("passing criterion: %v", err)
	}
	if err := check(ctx, criterion{measured: "m", unit: "dB", direction: atLeast, threshold: 30, value: 27}, fail); err != errStep {
		t.Fatalf("failing criterion returned %v, want the step's own error", err)
	}
	atts, err := criteriaAttachments(ctx, "the SQNR is at least 30 dB")
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 {
		t.Fatalf("%d attachments, want 2", len(atts))
	}
	var r scorecard.Criterion
	if err := json.Unmarshal(atts[1].Body, &r); err != nil {
		t.Fatal(err)
	}
	if atts[1].MediaType != scorecard.CriteriaMediaType || r.Schema != scorecard.CriteriaSchema ||
		r.Step != "the SQNR is at least 30 dB" || r.Pass || r.Value == nil || *r.Value != 27 || r.Margin == nil || *r.Margin != -3 {
		t.Fatalf("attachment %s: %+v", atts[1].MediaType, r)
	}
	if again, _ := criteriaAttachments(ctx, "next step"); len(again) != 0 {
		t.Fatalf("criteria of a step were attached again to the next: %d", len(again))
	}
}

// runFeatures runs the features at paths with tags into a cucumber JSON
// report and returns its path.
func runFeatures(t *testing.T, tags string, paths ...string) string {
	t.Helper()
	cuke := filepath.Join(t.TempDir(), "cucumber.json")
	o := godog.Options{
		Format: "cucumber:" + cuke, Tags: tags, Strict: true, Concurrency: 2,
		Paths: paths, NoColors: true, Output: discard{},
	}
	var h Harness
	status := godog.TestSuite{Name: "ptqspec", ScenarioInitializer: h.InitializeScenario, Options: &o}.Run()
	if err := h.Check(tags); err != nil {
		t.Fatal(err)
	}
	if status != 0 {
		t.Fatalf("the features failed (status %d); run go test ./steps for details", status)
	}
	return cuke
}

// discard is an io.Writer for godog's console output.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// renderScorecard builds and renders the scorecard of a cucumber report
// against the feature text in dir, returning the card and its Markdown.
func renderScorecard(t *testing.T, cuke, dir string) (*scorecard.Card, string) {
	t.Helper()
	feats, err := scorecard.ReadCucumberFile(cuke)
	if err != nil {
		t.Fatal(err)
	}
	text, err := scorecard.LoadFeatures(dir)
	if err != nil {
		t.Fatal(err)
	}
	card := scorecard.Build(feats, text, nil, scorecard.RunInfo{})
	var md bytes.Buffer
	if err := scorecard.WriteMarkdown(&md, card); err != nil {
		t.Fatal(err)
	}
	return card, md.String()
}

// criteriaRows returns the criterion rows of the scenario tables of a
// rendered Markdown scorecard.
func criteriaRows(md string) []string {
	var rows []string
	_, body, _ := strings.Cut(md, "## Scenarios by feature")
	body, _, _ = strings.Cut(body, "## Spec coverage")
	in := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "| step | measured |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "| "):
			rows = append(rows, line)
		default:
			in = false
		}
	}
	return rows
}

// withCucumberReport adds a cucumber JSON report in dir to the formats of
// o, unless o writes one already, and returns its path.
func withCucumberReport(o *godog.Options, dir string) string {
	for f := range strings.SplitSeq(o.Format, ",") {
		if name, path, ok := strings.Cut(f, ":"); ok && name == "cucumber" && path != "" {
			return path
		}
	}
	path := filepath.Join(dir, "cucumber.json")
	o.Format += ",cucumber:" + path
	return path
}

// checkScorecard renders the scorecard of the run whose cucumber report
// is cuke and counts the thresholds written in the Then steps of its
// scenarios (Examples values substituted) in the feature text and the
// criterion rows of the scorecard: every threshold appears, as written, in
// its step's row with a measured value, and no row is left over. tags is
// the run's tag filter; dir holds its feature files.
func checkScorecard(t *testing.T, cuke, dir, tags string) {
	card, md := renderScorecard(t, cuke, dir)
	text, err := scorecard.LoadFeatures(dir)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, f := range card.Features {
		for _, s := range f.Scenarios {
			ran[s.Feature+":"+strconv.Itoa(s.Line)] = true
		}
	}
	var thresholds []scorecard.TextThreshold
	for _, s := range scorecard.SelectScenarios(text, tags) {
		if !ran[s.File+":"+strconv.Itoa(s.Line)] {
			continue // not among the run's paths
		}
		for _, th := range s.Thresholds() {
			if th.Outcome {
				thresholds = append(thresholds, th)
			}
		}
	}
	rows := criteriaRows(md)
	t.Logf("%d thresholds in the Then steps of the feature text, %d criterion rows in the scorecard (%d preconditions of Given steps)",
		len(thresholds), len(rows), card.Thresholds.Preconditions)
	if got := len(rows) - card.Thresholds.Preconditions; got != len(thresholds) {
		t.Errorf("the scorecard has %d criterion rows of Then steps, the feature text %d thresholds", got, len(thresholds))
	}
	for _, m := range card.Thresholds.Missing {
		t.Errorf("%s:%d: threshold %s of %q is not recorded", m.File, m.Line, m.Literal, m.Step)
	}
	for _, u := range card.Thresholds.Unexplained {
		t.Errorf("%s:%d: criterion %q (threshold %g) is not in the text of %q", u.Feature, u.Line, u.Measured, u.Threshold, u.Step)
	}
	for _, th := range thresholds {
		found := false
		for _, r := range rows {
			if strings.Contains(r, mdCell(th.Step)) && strings.Contains(r, " "+th.Literal) && !strings.Contains(r, "| n/a") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s:%d: no scorecard row shows threshold %s of %q with a measured value", th.File, th.Line, th.Literal, th.Step)
		}
	}
}

// mdCell is s as the Markdown scorecard writes it in a cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestChangingAThresholdChangesItsRow raises one threshold of a copy of a
// feature file and finds the same scenario's row with the new threshold,
// the same measured value and a margin 1 dB smaller.
func TestChangingAThresholdChangesItsRow(t *testing.T) {
	src, err := os.ReadFile("../features/static_quantization.feature")
	if err != nil {
		t.Fatal(err)
	}
	const scenario = "A plain Conv2D classifier stays close to FP32"
	row := func(dir string) scorecard.Row {
		t.Helper()
		cuke := runFeatures(t, "", dir)
		card, _ := renderScorecard(t, cuke, dir)
		for _, f := range card.Features {
			for _, s := range f.Scenarios {
				for _, r := range s.Criteria {
					if s.Name == scenario && strings.Contains(r.Step, "SQNR") {
						return r
					}
				}
			}
		}
		t.Fatalf("no SQNR row for scenario %q", scenario)
		return scorecard.Row{}
	}
	orig := t.TempDir()
	if err := os.WriteFile(filepath.Join(orig, "static_quantization.feature"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Raise the SQNR threshold of the plain classifier only: the first
	// SQNR step after its Scenario line.
	text := string(src)
	at := strings.Index(text, "Scenario: "+scenario)
	const from, to = "an SQNR of at least 29 dB", "an SQNR of at least 30 dB"
	i := strings.Index(text[at:], from)
	if at < 0 || i < 0 {
		t.Fatalf("the feature no longer has %q with %q", scenario, from)
	}
	changed := text[:at+i] + to + text[at+i+len(from):]
	mod := t.TempDir()
	if err := os.WriteFile(filepath.Join(mod, "static_quantization.feature"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := row(orig), row(mod)
	if a.Literal != "29" || b.Literal != "30" {
		t.Fatalf("thresholds %q and %q, want 29 and 30", a.Literal, b.Literal)
	}
	if a.Line != b.Line || a.Measured != b.Measured || *a.Value != *b.Value {
		t.Fatalf("the row moved or its value changed: line %d/%d, %q/%q, %v/%v", a.Line, b.Line, a.Measured, b.Measured, *a.Value, *b.Value)
	}
	if d := *a.Margin - *b.Margin; math.Abs(d-1) > 1e-9 {
		t.Fatalf("margins %v and %v, want 1 dB apart", *a.Margin, *b.Margin)
	}
}

// writeRunInfo writes the run description beside every cucumber report
// the format list names (see scorecard.RunInfoPath).
func writeRunInfo(o godog.Options, started time.Time) error {
	for f := range strings.SplitSeq(o.Format, ",") {
		name, path, ok := strings.Cut(f, ":")
		if !ok || name != "cucumber" || path == "" {
			continue
		}
		r := scorecard.CollectRunInfo("..")
		r.Started, r.Finished = started, time.Now()
		r.Tags, r.OrderSeed, r.Concurrency = o.Tags, o.Randomize, o.Concurrency
		r.DataSeed = strconv.FormatUint(seedOffset, 10)
		if err := scorecard.WriteRunInfo(scorecard.RunInfoPath(path), r); err != nil {
			return err
		}
	}
	return nil
}
