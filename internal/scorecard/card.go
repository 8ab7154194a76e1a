package scorecard

import (
	"cmp"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FastBudget is the time budget of a @fast scenario without a @budget tag.
const FastBudget = 2 * time.Second

// Status of a scenario or step.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Card is the scorecard of one run.
type Card struct {
	Run      RunInfo
	Features []FeatureCard

	Passed, Failed, Skipped, Total int
	// Duration is the sum of the scenarios' durations.
	Duration time.Duration
	// OverBudget counts the scenarios slower than their budget.
	OverBudget int
	// CriteriaTotal and CriteriaFailed count the recorded criteria.
	CriteriaTotal, CriteriaFailed int
	// Tightest are the criteria with a relative margin nearest their
	// threshold (failed ones first), at most TightestCount of them.
	Tightest []Row
	// Coverage is every requirement with the scenarios of the run that
	// cover it.
	Coverage []Coverage
	// Thresholds compares the thresholds of the feature text with the
	// criteria the run recorded.
	Thresholds ThresholdCount
}

// TightestCount is how many criteria the margin chart shows.
const TightestCount = 15

// FeatureCard is one feature of a Card.
type FeatureCard struct {
	File      string // base name, "calibration.feature"
	Name      string
	Failed    int
	Scenarios []ScenarioCard
}

// ScenarioCard is one scenario (an outline's Examples row) of a Card.
type ScenarioCard struct {
	Feature  string // base name of the feature file
	Name     string
	Line     int
	Tags     []string
	Status   string
	Duration time.Duration
	// Budget is 0 when the scenario has none.
	Budget     time.Duration
	OverBudget bool
	// Error is the message of the failed step.
	Error    string
	Criteria []Row
}

// Row is one criterion as the scorecard shows it.
type Row struct {
	Criterion
	Feature  string // base name of the feature file
	Line     int    // scenario line
	Literal  string // the threshold as written in the feature text
	Relative float64
	// HasRelative is false when the threshold is 0 (no relative margin).
	HasRelative bool
}

// Coverage lists the scenarios of a run that cover one requirement.
type Coverage struct {
	Requirement
	Scenarios []ScenarioRef
}

// ScenarioRef names a scenario and its status.
type ScenarioRef struct {
	Feature, Name, Status string
	Line                  int
}

// ThresholdCount compares the thresholds written in the Then steps of the
// run's scenarios with the criteria the run recorded.
type ThresholdCount struct {
	// InText counts the thresholds of the Then steps of the feature text,
	// Recorded the criteria those steps recorded, Matched the pairs of the
	// two. Preconditions counts the criteria of Given steps that check a
	// threshold of their own text; they are recorded and shown too.
	InText, Recorded, Matched, Preconditions int
	// Missing are thresholds of steps that ran but recorded no criterion;
	// Unchecked are thresholds of steps the run skipped (after a failed
	// step); Unexplained are criteria whose threshold the step's text does
	// not hold.
	Missing     []TextThreshold
	Unchecked   []TextThreshold
	Unexplained []Row
}

// Build makes the Card of a run from its cucumber report, the feature text
// (nil when unavailable: the thresholds are then not counted and tags come
// from the report alone) and the requirements.
func Build(feats []CukeFeature, text []TextScenario, reqs []Requirement, run RunInfo) *Card {
	c := &Card{Run: run}
	byKey := map[key]TextScenario{}
	for _, s := range text {
		byKey[key{s.File, s.Line}] = s
	}
	var textThresholds []TextThreshold
	for _, f := range feats {
		fc := FeatureCard{File: filepath.Base(f.URI), Name: f.Name}
		for _, e := range f.Elements {
			sc := scenarioCard(fc.File, e, byKey)
			if ts, ok := byKey[key{fc.File, e.Line}]; ok {
				textThresholds = append(textThresholds, ts.Thresholds()...)
			}
			c.Total++
			switch sc.Status {
			case StatusPassed:
				c.Passed++
			case StatusFailed:
				c.Failed++
				fc.Failed++
			default:
				c.Skipped++
			}
			c.Duration += sc.Duration
			if sc.OverBudget {
				c.OverBudget++
			}
			fc.Scenarios = append(fc.Scenarios, sc)
		}
		slices.SortStableFunc(fc.Scenarios, func(a, b ScenarioCard) int {
			return cmp.Compare(statusRank(a.Status), statusRank(b.Status))
		})
		c.Features = append(c.Features, fc)
	}
	slices.SortStableFunc(c.Features, func(a, b FeatureCard) int {
		if (a.Failed > 0) != (b.Failed > 0) {
			if a.Failed > 0 {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.File, b.File)
	})
	ran := map[stepKey]bool{}
	for _, f := range feats {
		for _, e := range f.Elements {
			for _, st := range e.Steps {
				if st.Result.Status == StatusPassed || st.Result.Status == StatusFailed {
					ran[stepKey{filepath.Base(f.URI), e.Line, st.Name}] = true
				}
			}
		}
	}
	c.Thresholds = matchThresholds(c, textThresholds, text != nil, ran)
	var all []Row
	for _, f := range c.Features {
		for _, s := range f.Scenarios {
			for _, r := range s.Criteria {
				c.CriteriaTotal++
				if !r.Pass {
					c.CriteriaFailed++
				}
				all = append(all, r)
			}
		}
	}
	c.Tightest = tightest(all, TightestCount)
	c.Coverage = coverage(c, text, reqs)
	return c
}

// statusRank orders failed scenarios first.
func statusRank(s string) int {
	switch s {
	case StatusFailed:
		return 0
	case StatusSkipped:
		return 1
	}
	return 2
}

// scenarioCard summarises one element of a cucumber report.
func scenarioCard(file string, e CukeElement, byKey map[key]TextScenario) ScenarioCard {
	sc := ScenarioCard{Feature: file, Name: e.Name, Line: e.Line}
	for _, t := range e.Tags {
		if !slices.Contains(sc.Tags, t.Name) {
			sc.Tags = append(sc.Tags, t.Name)
		}
	}
	if ts, ok := byKey[key{file, e.Line}]; ok {
		for _, t := range ts.Tags {
			if !slices.Contains(sc.Tags, t) {
				sc.Tags = append(sc.Tags, t)
			}
		}
	}
	passed, skipped := 0, 0
	for _, st := range e.Steps {
		sc.Duration += time.Duration(st.Result.Duration)
		switch st.Result.Status {
		case StatusPassed:
			passed++
		case StatusSkipped:
			skipped++
		default:
			if sc.Error == "" {
				sc.Error = st.Result.Status + ": " + st.Keyword + st.Name
				if st.Result.Error != "" {
					sc.Error += ": " + st.Result.Error
				}
			}
		}
		for _, cr := range st.Criteria {
			r := Row{Criterion: cr, Feature: file, Line: e.Line, Literal: strconv.FormatFloat(cr.Threshold, 'f', -1, 64)}
			r.Step = st.Name
			if cr.RelativeMargin != nil {
				r.Relative, r.HasRelative = *cr.RelativeMargin, true
			}
			sc.Criteria = append(sc.Criteria, r)
		}
	}
	switch {
	case sc.Error != "":
		sc.Status = StatusFailed
	case passed == 0 && skipped > 0:
		sc.Status = StatusSkipped
	case len(e.Steps) == 0:
		sc.Status = StatusSkipped
	default:
		sc.Status = StatusPassed
	}
	slices.SortStableFunc(sc.Criteria, func(a, b Row) int {
		if a.Pass != b.Pass {
			if !a.Pass {
				return -1
			}
			return 1
		}
		return 0
	})
	sc.Budget = budgetOf(sc.Tags)
	sc.OverBudget = sc.Budget > 0 && sc.Duration > sc.Budget
	return sc
}

// budgetOf returns the time budget of a scenario with tags: the smallest
// @budget-D, else FastBudget for @fast, else 0.
func budgetOf(tags []string) time.Duration {
	var b time.Duration
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, "@budget-"); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 && (b == 0 || d < b) {
				b = d
			}
		}
	}
	if b == 0 && slices.Contains(tags, "@fast") {
		b = FastBudget
	}
	return b
}

// stepKey identifies a step of a scenario.
type stepKey struct {
	file string
	line int
	step string
}

// matchThresholds pairs the thresholds of the text with the recorded
// criteria, scenario by scenario and step by step, and fills in each
// matched row's literal; ran holds the steps that ran.
func matchThresholds(c *Card, text []TextThreshold, haveText bool, ran map[stepKey]bool) ThresholdCount {
	var tc ThresholdCount
	rows := map[stepKey][]*Row{}
	for fi := range c.Features {
		for si := range c.Features[fi].Scenarios {
			s := &c.Features[fi].Scenarios[si]
			for ri := range s.Criteria {
				r := &s.Criteria[ri]
				tc.Recorded++
				k := stepKey{r.Feature, r.Line, r.Step}
				rows[k] = append(rows[k], r)
			}
		}
	}
	if !haveText {
		return tc
	}
	used := map[*Row]bool{}
	for _, t := range text {
		if t.Outcome {
			tc.InText++
		}
		var hit *Row
		for _, r := range rows[stepKey{t.File, t.Line, t.Step}] {
			if !used[r] && sameNumber(r.Threshold, t.Value) {
				hit = r
				break
			}
		}
		switch {
		case hit == nil && t.Outcome && !ran[stepKey{t.File, t.Line, t.Step}]:
			tc.Unchecked = append(tc.Unchecked, t)
		case hit == nil && t.Outcome:
			tc.Missing = append(tc.Missing, t)
		case hit == nil:
			// a number of a Given or When step that no step checks
		case t.Outcome:
			used[hit] = true
			hit.Literal = t.Literal
			tc.Matched++
		default:
			used[hit] = true
			hit.Literal = t.Literal
			tc.Preconditions++
			tc.Recorded--
		}
	}
	for _, rs := range rows {
		for _, r := range rs {
			if !used[r] {
				tc.Unexplained = append(tc.Unexplained, *r)
			}
		}
	}
	slices.SortFunc(tc.Unexplained, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Feature, b.Feature), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Step, b.Step))
	})
	return tc
}

// sameNumber reports whether a recorded threshold is the written one.
func sameNumber(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// tightest returns up to n criteria nearest their thresholds: failed ones
// first, then by relative margin; criteria without a relative margin come
// last.
func tightest(all []Row, n int) []Row {
	rows := slices.Clone(all)
	slices.SortStableFunc(rows, func(a, b Row) int {
		if a.Pass != b.Pass {
			if !a.Pass {
				return -1
			}
			return 1
		}
		if a.HasRelative != b.HasRelative {
			if a.HasRelative {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Relative, b.Relative)
	})
	var out []Row
	for _, r := range rows {
		if len(out) == n || (!r.HasRelative && r.Pass) {
			break
		}
		out = append(out, r)
	}
	return out
}

// StatusNotRun marks a scenario of the feature text the run did not
// select.
const StatusNotRun = "not run"

// coverage lists, for each requirement, the scenarios that carry its tag:
// those of the feature text when given (with the run's status, or
// StatusNotRun), else those of the run.
func coverage(c *Card, text []TextScenario, reqs []Requirement) []Coverage {
	var all []ScenarioRef
	tags := map[key][]string{}
	status := map[key]string{}
	for _, f := range c.Features {
		for _, s := range f.Scenarios {
			k := key{s.Feature, s.Line}
			status[k] = s.Status
			if text == nil {
				all = append(all, ScenarioRef{Feature: s.Feature, Name: s.Name, Status: s.Status, Line: s.Line})
				tags[k] = s.Tags
			}
		}
	}
	for _, s := range text {
		k := key{s.File, s.Line}
		st, ok := status[k]
		if !ok {
			st = StatusNotRun
		}
		all = append(all, ScenarioRef{Feature: s.File, Name: s.Name, Status: st, Line: s.Line})
		tags[k] = s.Tags
	}
	out := make([]Coverage, len(reqs))
	for i, r := range reqs {
		out[i].Requirement = r
		for _, s := range all {
			if slices.Contains(tags[key{s.Feature, s.Line}], "@"+r.ID) {
				out[i].Scenarios = append(out[i].Scenarios, s)
			}
		}
	}
	return out
}

// Areas returns the spec areas (@spec-x tags, without "@spec-") of s.
func (s ScenarioCard) Areas() []string {
	var out []string
	for _, t := range s.Tags {
		if a, ok := strings.CutPrefix(t, "@spec-"); ok {
			out = append(out, a)
		}
	}
	return out
}
