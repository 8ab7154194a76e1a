package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ptqspec/ptqspec/internal/scorecard"
)

func init() {
	register(command{name: "scorecard", summary: "render the acceptance scorecard (HTML and Markdown) of a cucumber JSON run of the features", run: runScorecard})
}

// errThresholds reports a run whose recorded criteria do not match the
// thresholds of the feature text.
var errThresholds = errors.New("the thresholds of the feature text and the recorded criteria differ")

// runScorecard renders the scorecard of a cucumber JSON report made by
// `go test ./steps -godog.format=cucumber:FILE`. It writes the files even
// when the run failed, and fails when a threshold of the text was not
// recorded (or a record matches no threshold).
func runScorecard(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("scorecard", "-cucumber FILE [-out DIR] [-features DIR] [-requirements FILE] [-run FILE]", stderr)
	cuke := fset.String("cucumber", "", "cucumber JSON report of a run of the features (required)")
	out := fset.String("out", "reports", "folder for acceptance.html, acceptance.md and acceptance_margins.svg")
	features := fset.String("features", "features", "folder of the .feature files the run used, for thresholds and tags (\"\" to skip)")
	reqs := fset.String("requirements", "features/README.md", "Markdown file listing the requirements (\"\" to skip)")
	runFile := fset.String("run", "", "run description (schema ptqspec.run/v1); default: beside the report as NAME.run.json")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if *cuke == "" {
		return usageErrorf("scorecard: -cucumber FILE is required")
	}
	feats, err := scorecard.ReadCucumberFile(*cuke)
	if err != nil {
		return err
	}
	var text []scorecard.TextScenario
	if *features != "" {
		if text, err = scorecard.LoadFeatures(*features); err != nil {
			return err
		}
	}
	var requirements []scorecard.Requirement
	if *reqs != "" {
		if requirements, err = scorecard.ParseRequirementsFile(*reqs); err != nil {
			return err
		}
	}
	run, err := runInfo(*cuke, *runFile)
	if err != nil {
		return err
	}
	card := scorecard.Build(feats, text, requirements, run)
	paths, err := scorecard.WriteFiles(*out, card)
	if err != nil {
		return err
	}
	t := card.Thresholds
	fmt.Fprintf(stdout, "scorecard: %d of %d scenarios passed, %d criteria (%d failed), thresholds: %d in the text, %d recorded, %d matched; %d over budget\n",
		card.Passed, card.Total, card.CriteriaTotal, card.CriteriaFailed, t.InText, t.Recorded, t.Matched, card.OverBudget)
	for _, p := range paths {
		fmt.Fprintln(stdout, "wrote", p)
	}
	if text != nil && (len(t.Missing) > 0 || len(t.Unexplained) > 0) {
		for _, m := range t.Missing {
			fmt.Fprintf(stderr, "scorecard: %s:%d: threshold %s of %q was not recorded\n", m.File, m.Line, m.Literal, m.Step)
		}
		for _, u := range t.Unexplained {
			fmt.Fprintf(stderr, "scorecard: %s:%d: criterion %q with threshold %g is not in the text of %q\n", u.Feature, u.Line, u.Measured, u.Threshold, u.Step)
		}
		return fmt.Errorf("scorecard: %w: %d missing, %d unexplained", errThresholds, len(t.Missing), len(t.Unexplained))
	}
	return nil
}

// runInfo reads the run description of the report at cuke, from path or
// beside the report; without one it describes this machine and takes the
// report's modification time as the run date.
func runInfo(cuke, path string) (scorecard.RunInfo, error) {
	if path != "" {
		return scorecard.ReadRunInfo(path)
	}
	r, err := scorecard.ReadRunInfo(scorecard.RunInfoPath(cuke))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	r = scorecard.CollectRunInfo(".")
	r.Tags = "unknown (no run description)"
	if fi, err := os.Stat(cuke); err == nil {
		r.Started = fi.ModTime()
	}
	return r, nil
}
