package scorecard

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gherkin "github.com/cucumber/gherkin/go/v42"
	messages "github.com/cucumber/messages/go/v34"
)

// TextScenario is one scenario (an outline's Examples row) as the feature
// text states it: its tags include those of its Feature, Rule and Examples
// block.
type TextScenario struct {
	File  string // the feature file's base name, "calibration.feature"
	Name  string
	Line  int // the scenario's line, or its Examples row's
	Tags  []string
	Steps []TextStep
}

// TextStep is a step of a TextScenario after Examples substitution.
type TextStep struct {
	Text    string
	Outcome bool // a Then step, or an And or But after one
}

// TextThreshold is one threshold written in a step.
type TextThreshold struct {
	// Outcome is set for a Then step's threshold, the ones counted; a
	// Given step may check a precondition ("its accuracy ... is at most
	// 50%") and record it too.
	Outcome  bool
	File     string
	Scenario string
	Line     int
	Step     string
	Literal  string  // as written: "0.00001", "5,000", "one"
	Value    float64 // its value
}

// key identifies a scenario across the feature text and a report.
type key struct {
	file string
	line int
}

// LoadFeatures parses every .feature file under dir.
func LoadFeatures(dir string) ([]TextScenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.feature"))
	if err != nil {
		return nil, fmt.Errorf("scorecard: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("scorecard: no .feature file in %s", dir)
	}
	var out []TextScenario
	for _, p := range paths {
		s, err := parseFeatureFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

func parseFeatureFile(path string) ([]TextScenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scorecard: %w", err)
	}
	defer f.Close()
	ids := 0
	newID := func() string { ids++; return strconv.Itoa(ids) }
	doc, err := gherkin.ParseGherkinDocument(f, newID)
	if err != nil {
		return nil, fmt.Errorf("scorecard: %s: %w", path, err)
	}
	base := filepath.Base(path)
	var out []TextScenario
	for _, p := range gherkin.Pickles(*doc, path, newID) {
		s := TextScenario{File: base, Name: p.Name}
		if p.Location != nil {
			s.Line = int(p.Location.Line)
		}
		for _, t := range p.Tags {
			s.Tags = append(s.Tags, t.Name)
		}
		for _, st := range p.Steps {
			s.Steps = append(s.Steps, TextStep{Text: st.Text, Outcome: st.Type == messages.PickleStepType_OUTCOME})
		}
		out = append(out, s)
	}
	return out, nil
}

// number is a threshold as the features write one.
const number = `(-?\d[\d,]*(?:\.\d+)?(?:[eE]-?\d+)?|one)`

var (
	comparator  = `(?:at least|at most|less than|more than|greater than|below|above|within|exceeds?)`
	thresholdRE = regexp.MustCompile(`\b` + comparator + `\s+(?:\[` + number + `,\s*` + number + `\]|` + number + `)(\s+standard deviations)?`)
)

// Thresholds returns the thresholds written in the steps of s, in order;
// see the package documentation for what counts as one. Only those with
// Outcome set are thresholds of Then steps.
func (s TextScenario) Thresholds() []TextThreshold {
	var out []TextThreshold
	for _, st := range s.Steps {
		for _, m := range thresholdRE.FindAllStringSubmatch(st.Text, -1) {
			if m[4] != "" {
				continue // "within 4 standard deviations" selects data
			}
			for _, lit := range m[1:4] {
				if lit == "" {
					continue
				}
				v, ok := parseNumber(lit)
				if !ok {
					continue
				}
				out = append(out, TextThreshold{Outcome: st.Outcome, File: s.File, Scenario: s.Name, Line: s.Line, Step: st.Text, Literal: lit, Value: v})
			}
		}
	}
	return out
}

// parseNumber reads a number as the features write it.
func parseNumber(s string) (float64, bool) {
	if s == "one" {
		return 1, true
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return v, err == nil
}

// MatchTags reports whether tags satisfy a godog tag expression: "@a && ~@b"
// is a and not b, "@a,@b" is a or b, "~@a" is not a; "" matches anything.
func MatchTags(expr string, tags []string) bool {
	if strings.TrimSpace(expr) == "" {
		return true
	}
	for conj := range strings.SplitSeq(expr, "&&") {
		ok := false
		for lit := range strings.SplitSeq(conj, ",") {
			lit = strings.TrimSpace(lit)
			if name, neg := strings.CutPrefix(lit, "~"); neg {
				ok = ok || !slices.Contains(tags, name)
			} else {
				ok = ok || slices.Contains(tags, lit)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// SelectScenarios returns the scenarios of text whose tags satisfy expr.
func SelectScenarios(text []TextScenario, expr string) []TextScenario {
	var out []TextScenario
	for _, s := range text {
		if MatchTags(expr, s.Tags) {
			out = append(out, s)
		}
	}
	return out
}
