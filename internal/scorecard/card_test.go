package scorecard

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fixture is the scorecard of testdata/cucumber.json: a run of the two
// feature files of testdata/features, in which the plain Conv2D
// classifier's SQNR threshold was raised to 60 dB so that it fails.
func fixture(t *testing.T, reqs []Requirement) *Card {
	t.Helper()
	feats, err := ReadCucumberFile("testdata/cucumber.json")
	if err != nil {
		t.Fatal(err)
	}
	text, err := LoadFeatures("testdata/features")
	if err != nil {
		t.Fatal(err)
	}
	return Build(feats, text, reqs, RunInfo{Schema: RunSchema})
}

func TestBuildFixture(t *testing.T) {
	c := fixture(t, nil)
	checks := []struct {
		name      string
		got, want int
	}{
		{"scenarios", c.Total, 20},
		{"passed", c.Passed, 19},
		{"failed", c.Failed, 1},
		{"criteria", c.CriteriaTotal, 6},
		{"failed criteria", c.CriteriaFailed, 1},
		{"thresholds in the text", c.Thresholds.InText, 7},
		{"thresholds matched", c.Thresholds.Matched, 6},
		{"thresholds of skipped steps", len(c.Thresholds.Unchecked), 1},
		{"thresholds missing", len(c.Thresholds.Missing), 0},
		{"records unexplained", len(c.Thresholds.Unexplained), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %d, want %d", ch.name, ch.got, ch.want)
		}
	}
	// The feature with a failure comes first, its failed scenario first,
	// and the tightest criterion is the failed one.
	if f := c.Features[0]; f.File != "static_quantization.feature" || f.Scenarios[0].Status != StatusFailed || f.Scenarios[0].Name != "A plain Conv2D classifier" {
		t.Errorf("first feature %s, first scenario %q (%s)", f.File, f.Scenarios[0].Name, f.Scenarios[0].Status)
	}
	if len(c.Tightest) == 0 || c.Tightest[0].Pass || c.Tightest[0].Literal != "60" || c.Tightest[0].Unit != "dB" {
		t.Errorf("tightest %+v", c.Tightest)
	}
	if !strings.Contains(c.Features[0].Scenarios[0].Error, "want at least 60 dB") {
		t.Errorf("failed scenario's error %q", c.Features[0].Scenarios[0].Error)
	}
	if u := c.Thresholds.Unchecked[0]; u.Literal != "0.999" || u.Scenario != "A plain Conv2D classifier" {
		t.Errorf("unchecked %+v", u)
	}
}

func TestThresholdsOfText(t *testing.T) {
	cases := []struct {
		step string
		want []string
	}{
		{"on the held-out set the quantized output has an SQNR of at least 30 dB against FP32", []string{"30"}},
		{"every row of the quantized model's output on the held-out set sums to 1 within 0.00001", []string{"0.00001"}},
		{"every int8 output in the report has a positive scale, a zero point within [-128, 127] and a range that contains 0", []string{"-128", "127"}},
		{"the SQNR on the values within 4 standard deviations is at most 15 dB", []string{"15"}},
		{"with only \"linear1\" in int8 the output SQNR is below 3 dB, and with only any other layer in int8 at least 30 dB", []string{"3", "30"}},
		{"each digit at least 5,000 times in the training set and at least 800 times in the test set", []string{"5,000", "800"}},
		{"the int8 output of \"add\" is within one output step of the sum of its inputs", []string{"one"}},
		{"no layer's drop or recovery exceeds 1 point", []string{"1"}},
		{"the report records 4 calibration batches and 128 samples", nil},
		{"values from -1 to 1 quantized with those qparams get codes from -128 to 127", nil},
	}
	for _, c := range cases {
		t.Run(c.step, func(t *testing.T) {
			s := TextScenario{File: "f.feature", Steps: []TextStep{{Text: c.step, Outcome: true}, {Text: c.step, Outcome: false}}}
			var got []string
			for _, th := range s.Thresholds() {
				if th.Outcome {
					got = append(got, th.Literal)
				}
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("thresholds %q, want %q", got, c.want)
			}
		})
	}
}

func TestMatchTags(t *testing.T) {
	cases := []struct {
		expr string
		tags []string
		want bool
	}{
		{"", nil, true},
		{"@fast", []string{"@fast"}, true},
		{"~@slow", []string{"@fast"}, true},
		{"~@slow", []string{"@slow"}, false},
		{"@fast && ~@slow", []string{"@fast", "@mnist"}, true},
		{"@fast && ~@slow", []string{"@fast", "@slow"}, false},
		{"@a,@b", []string{"@b"}, true},
		{"@a,@b && @c", []string{"@b"}, false},
	}
	for _, c := range cases {
		if got := MatchTags(c.expr, c.tags); got != c.want {
			t.Errorf("MatchTags(%q, %q) = %v, want %v", c.expr, c.tags, got, c.want)
		}
	}
}

func TestBudgetOf(t *testing.T) {
	cases := []struct {
		name string
		tags []string
		want time.Duration
	}{
		{"fast", []string{"@fast"}, FastBudget},
		{"slow without budget", []string{"@slow"}, 0},
		{"slow with budget", []string{"@slow", "@budget-20m"}, 20 * time.Minute},
		{"the smallest budget wins", []string{"@fast", "@budget-90s", "@budget-5s"}, 5 * time.Second},
		{"a bad budget is ignored", []string{"@fast", "@budget-soon"}, FastBudget},
	}
	for _, c := range cases {
		if got := budgetOf(c.tags); got != c.want {
			t.Errorf("%s: budgetOf(%q) = %v, want %v", c.name, c.tags, got, c.want)
		}
	}
}

func TestParseRequirements(t *testing.T) {
	doc := "| id | area | requirement |\n|----|------|----|\n| R-static-1 | static | int8 weights |\n| R-edge-2 | edge | refused |\ntext\n"
	reqs, err := ParseRequirements(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[1] != (Requirement{ID: "R-edge-2", Area: "edge", Text: "refused"}) {
		t.Fatalf("got %+v", reqs)
	}
	if _, err := ParseRequirements(strings.NewReader(doc + "| R-static-1 | static | again |\n")); err == nil || !strings.Contains(err.Error(), "R-static-1 on line 6 repeats line 3") {
		t.Fatalf("a repeated id: %v", err)
	}
}

func TestRequirementsOfTheSpec(t *testing.T) {
	reqs, err := ParseRequirementsFile("../../features/README.md")
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]int{}
	for _, r := range reqs {
		areas[r.Area]++
	}
	if len(reqs) != 40 || len(areas) != 10 {
		t.Fatalf("%d requirements in %d areas, want 40 in 10", len(reqs), len(areas))
	}
	for a, n := range areas {
		if n != 4 {
			t.Errorf("area %s has %d requirements, want 4", a, n)
		}
	}
	// Every requirement is covered by some scenario of the spec, and
	// every scenario names its area.
	text, err := LoadFeatures("../../features")
	if err != nil {
		t.Fatal(err)
	}
	c := Build(nil, text, reqs, RunInfo{})
	for _, cv := range c.Coverage {
		if len(cv.Scenarios) == 0 {
			t.Errorf("requirement %s is covered by no scenario", cv.ID)
		}
	}
	for _, s := range text {
		area := false
		for _, tag := range s.Tags {
			area = area || strings.HasPrefix(tag, "@spec-")
		}
		if !area {
			t.Errorf("%s:%d %q has no @spec- tag", s.File, s.Line, s.Name)
		}
	}
}

func TestCoverageShowsNone(t *testing.T) {
	c := fixture(t, []Requirement{{ID: "R-static-1", Area: "static", Text: "int8"}, {ID: "R-x-1", Area: "x", Text: "nothing covers it"}})
	if len(c.Coverage[0].Scenarios) == 0 || len(c.Coverage[1].Scenarios) != 0 {
		t.Fatalf("coverage %+v", c.Coverage)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| R-x-1 | nothing covers it | **none** |") {
		t.Fatalf("the Markdown does not show R-x-1 as covered by none:\n%s", md.String())
	}
}

func TestNumberFormat(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {30, "30"}, {37.0391, "37.039"}, {0.99989, "0.99989"}, {-22.96112, "-22.961"},
		{0.00001, "1e-05"}, {12345.6, "12346"}, {2e6, "2e+06"}, {1e308, "+∞"},
	}
	for _, c := range cases {
		if got := numf(c.in); got != c.want {
			t.Errorf("numf(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReadCucumberRefusesOtherSchemas(t *testing.T) {
	// {"schema":"other/v9"} in base64
	doc := `[{"uri":"a.feature","name":"A","elements":[{"name":"s","line":3,"steps":[{"name":"x","result":{"status":"passed"},
"embeddings":[{"name":"criterion","mime_type":"` + CriteriaMediaType + `","data":"eyJzY2hlbWEiOiJvdGhlci92OSJ9"}]}]}]}]`
	_, err := ReadCucumber(strings.NewReader(doc))
	if err == nil || !strings.Contains(err.Error(), `schema "other/v9"`) || !strings.Contains(err.Error(), "a.feature") {
		t.Fatalf("err = %v", err)
	}
}
