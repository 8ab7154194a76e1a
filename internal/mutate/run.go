package mutate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Scenario names one scenario of a cucumber report: its feature file
// (relative to the features directory), line and name.
type Scenario struct {
	Feature string
	Line    int
	Name    string
}

// String renders the scenario as "file.feature:LINE name".
func (s Scenario) String() string {
	return fmt.Sprintf("%s:%d %s", s.Feature, s.Line, s.Name)
}

// cucumberFeature is the part of godog's cucumber JSON report read here.
type cucumberFeature struct {
	URI      string `json:"uri"`
	Elements []struct {
		Name  string `json:"name"`
		Line  int    `json:"line"`
		Type  string `json:"type"`
		Steps []struct {
			Result struct {
				Status string `json:"status"`
			} `json:"result"`
		} `json:"steps"`
	} `json:"elements"`
}

// ParseCucumber reads a cucumber JSON report and returns the number of
// scenarios in it and those that did not pass: a scenario fails when any
// of its steps is failed, undefined, pending or ambiguous (the suite runs
// strict), or when it has no steps run at all.
func ParseCucumber(data []byte) (total int, failed []Scenario, err error) {
	var feats []cucumberFeature
	if err := json.Unmarshal(data, &feats); err != nil {
		return 0, nil, fmt.Errorf("mutate: cucumber report: %w", err)
	}
	for _, f := range feats {
		uri := filepath.Base(filepath.FromSlash(f.URI))
		for _, e := range f.Elements {
			if e.Type != "scenario" {
				continue
			}
			total++
			bad := len(e.Steps) == 0
			for _, s := range e.Steps {
				switch s.Result.Status {
				case "passed", "skipped":
				default:
					bad = true
				}
			}
			if bad {
				failed = append(failed, Scenario{Feature: uri, Line: e.Line, Name: e.Name})
			}
		}
	}
	return total, failed, nil
}

// Runner builds the steps test binary, with or without a fault, and runs
// the features with it.
type Runner struct {
	// Root is the module root: the features run from Root/steps.
	Root string
	// Work is a scratch directory for binaries, overlays and reports.
	Work string
	// Go is the go command ("go" when empty).
	Go string
	// Tags is the godog tag filter ("@fast && ~@slow").
	Tags string
	// Concurrency is -godog.concurrency.
	Concurrency int
	// Seed is -ptqspec.seed, the offset of every scenario seed.
	Seed int
	// Timeout bounds one run of the features.
	Timeout time.Duration
	// Env is added to the environment of each run (see SnapshotEnv).
	Env []string
}

// Build compiles the steps test binary into Work/name.test, with the
// overlay file when it is not empty.
func (r Runner) Build(ctx context.Context, name, overlay string) (string, error) {
	goCmd := r.Go
	if goCmd == "" {
		goCmd = "go"
	}
	bin := filepath.Join(r.Work, name+".test")
	// -trimpath keeps source directories out of the build cache's keys, so
	// a snapshot in a fresh directory reuses what an earlier run compiled.
	args := []string{"test", "-c", "-trimpath", "-o", bin}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	args = append(args, "./steps")
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = r.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mutate: build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// Result is the outcome of one run of the features.
type Result struct {
	// Total is the number of scenarios in the report.
	Total int
	// Failed lists the scenarios that did not pass.
	Failed []Scenario
	// Crash is set when the run ended without a cucumber report (the test
	// binary panicked or timed out): the last lines of its output.
	Crash string
	// Exit is the binary's exit status (0 when it passed).
	Exit int
	// Took is the run's wall time.
	Took time.Duration
}

// Caught reports whether the run failed at all.
func (res Result) Caught() bool { return len(res.Failed) > 0 || res.Crash != "" }

// Run runs the features with the test binary bin and reads its cucumber
// report. A run that fails without naming a failed scenario in its
// report, or that leaves no report, is described in Result.Crash.
func (r Runner) Run(ctx context.Context, bin, name string) (Result, error) {
	// The feature files are named one by one: with a single directory the
	// suite also cross-checks the scorecard against the feature text, a
	// check of make test that says nothing about a fault.
	features, err := filepath.Glob(filepath.Join(r.Root, "features", "*.feature"))
	if err != nil || len(features) == 0 {
		return Result{}, fmt.Errorf("mutate: no feature files in %s", filepath.Join(r.Root, "features"))
	}
	report := filepath.Join(r.Work, name+".cucumber.json")
	_ = os.Remove(report)
	ctx, cancel := context.WithTimeout(ctx, r.Timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"-test.run=^TestFeatures$", "-test.count=1", "-test.timeout="+r.Timeout.String(),
		"-godog.tags="+r.Tags,
		"-godog.concurrency="+strconv.Itoa(r.Concurrency),
		"-godog.random=0",
		"-godog.format=progress,cucumber:"+report,
		"-ptqspec.seed="+strconv.Itoa(r.Seed),
		"-godog.paths="+strings.Join(features, ","))
	cmd.Dir = filepath.Join(r.Root, "steps")
	cmd.Env = append(os.Environ(), r.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run()
	res := Result{Took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exit):
		res.Exit = exit.ExitCode()
	default:
		return res, fmt.Errorf("mutate: run %s: %w", name, runErr)
	}
	if err := os.WriteFile(filepath.Join(r.Work, name+".log"), out.Bytes(), 0o644); err != nil {
		return res, err
	}
	data, err := os.ReadFile(report)
	if err == nil && len(bytes.TrimSpace(data)) > 0 {
		res.Total, res.Failed, err = ParseCucumber(data)
		if err != nil {
			return res, fmt.Errorf("mutate: run %s: %w", name, err)
		}
	}
	if res.Exit != 0 && len(res.Failed) == 0 {
		res.Crash = fmt.Sprintf("exit status %d, no failed scenario in the report; log %s ends:\n%s",
			res.Exit, filepath.Join(r.Work, name+".log"), lastLines(out.String(), 8))
	}
	return res, nil
}

// lastLines returns the last n lines of s, indented.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
