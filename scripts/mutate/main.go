// Command mutate is `make mutate`: it applies each fault of
// internal/mutate.Faults to the library in turn (through a go build
// overlay, never editing the source tree), runs the @fast features on
// each, and prints which scenarios caught it. It exits 1 when the
// baseline run without a fault fails, when a fault no longer applies
// (its old text is not found exactly once), or when a fault is caught by
// no scenario.
//
//	go run ./scripts/mutate                   # every fault
//	go run ./scripts/mutate -only round-ties-away,zero-point-off-by-one
//	go run ./scripts/mutate -list             # the faults, and whether each applies
//
// Faults run one after another (the machine has 2 cores); each costs one
// link of the steps test binary and one run of the features.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ptqspec/ptqspec/internal/mutate"
)

func main() {
	os.Exit(run(os.Stdout, os.Args[1:]))
}

type options struct {
	root        string
	tags        string
	only        string
	concurrency int
	seed        int
	timeout     time.Duration
	keep        bool
	list        bool
	src         string
}

func run(w io.Writer, args []string) int {
	var o options
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&o.root, "root", "", "module root (default: the git top level of the working directory)")
	fs.StringVar(&o.tags, "tags", "@fast && ~@slow", "godog tag filter of the features run on each fault")
	fs.StringVar(&o.only, "only", "", "comma-separated fault IDs to run (default: all)")
	fs.IntVar(&o.concurrency, "concurrency", runtime.NumCPU(), "godog scenario concurrency, as the suite's default")
	fs.IntVar(&o.seed, "seed", 0, "seed offset of the scenarios (-ptqspec.seed)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "time limit of one run of the features")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (binaries, overlays, logs, cucumber reports)")
	fs.BoolVar(&o.list, "list", false, "list the faults and whether each applies, and stop")
	fs.StringVar(&o.src, "src", "HEAD", "the commit whose files are faulted (a snapshot through git archive), or \"worktree\" for the working tree as it is")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mutateAll(ctx, w, o); err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	return 0
}

// errFailed is returned when the check ran but did not hold; the table
// above it says why.
var errFailed = fmt.Errorf("mutate: FAILED")

func mutateAll(ctx context.Context, w io.Writer, o options) error {
	started := time.Now()
	root, err := moduleRoot(o.root)
	if err != nil {
		return err
	}
	faults, err := selectFaults(o.only)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "ptqspec-mutate-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(w, "scratch directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	src, env := root, []string(nil)
	if o.src != "worktree" {
		src = filepath.Join(work, "src")
		n, err := mutate.Snapshot(root, o.src, src)
		if err != nil {
			return err
		}
		env = mutate.SnapshotEnv(root)
		fmt.Fprintf(w, "snapshot of %s: %d files in %s\n", o.src, n, src)
	}
	ok, stale := mutate.CheckList(src, faults)
	if o.list {
		for _, f := range faults {
			state := "applies"
			if !slices.ContainsFunc(ok, func(g mutate.Fault) bool { return g.ID == f.ID }) {
				state = "DOES NOT APPLY"
			}
			fmt.Fprintf(w, "%-26s %-24s %-15s %s\n", f.ID, f.File, state, f.Desc)
		}
		for _, e := range stale {
			fmt.Fprintln(w, e)
		}
		if len(stale) > 0 {
			return errFailed
		}
		return nil
	}
	r := mutate.Runner{Root: src, Env: env, Work: work, Tags: o.tags, Concurrency: o.concurrency, Seed: o.seed, Timeout: o.timeout}
	fmt.Fprintf(w, "mutate: %d faults on %s of %s, features %q, concurrency %d, seed offset %d\n",
		len(faults), o.src, root, o.tags, o.concurrency, o.seed)

	// Build every binary first, so all runs see the same snapshot of a
	// tree others may be editing.
	bins := map[string]string{}
	if bins["baseline"], err = r.Build(ctx, "baseline", ""); err != nil {
		return err
	}
	var buildErrs []string
	for _, f := range ok {
		ov, err := mutate.WriteOverlay(filepath.Join(work, "overlay"), src, f)
		if err != nil {
			return err
		}
		bin, err := r.Build(ctx, f.ID, ov)
		if err != nil {
			// A fault that does not compile is a broken list entry.
			buildErrs = append(buildErrs, err.Error())
			continue
		}
		bins[f.ID] = bin
	}
	fmt.Fprintf(w, "built %d binaries in %s\n", len(bins), time.Since(started).Round(time.Second))

	base, err := r.Run(ctx, bins["baseline"], "baseline")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "baseline: %d scenarios, %d failed (%s)\n", base.Total, len(base.Failed), base.Took.Round(time.Second))
	baseFailed := map[Key]bool{}
	for _, s := range base.Failed {
		baseFailed[key(s)] = true
		fmt.Fprintf(w, "    baseline failure (not counted as catching any fault): %s\n", s)
	}
	if base.Crash != "" {
		fmt.Fprintf(w, "    baseline run failed outside the scenarios: %s\n", base.Crash)
	}
	if base.Total == 0 {
		return fmt.Errorf("mutate: the baseline ran no scenario: %w", errFailed)
	}

	type row struct {
		f      mutate.Fault
		res    mutate.Result
		caught []mutate.Scenario
	}
	var rows []row
	for _, f := range ok {
		bin, built := bins[f.ID]
		if !built {
			continue
		}
		res, err := r.Run(ctx, bin, f.ID)
		if err != nil {
			return err
		}
		var caught []mutate.Scenario
		for _, s := range res.Failed {
			if !baseFailed[key(s)] {
				caught = append(caught, s)
			}
		}
		rows = append(rows, row{f, res, caught})
		verdict := fmt.Sprintf("caught by %d", len(caught))
		if len(caught) == 0 && res.Crash != "" && base.Crash == "" {
			verdict = "caught (run failed outside the scenarios)"
		} else if len(caught) == 0 {
			verdict = "NOT CAUGHT"
		}
		fmt.Fprintf(w, "  %-26s %s (%s)\n", f.ID, verdict, res.Took.Round(time.Second))
	}

	fmt.Fprintf(w, "\n%-26s %7s  %s\n", "fault", "caught", "scenarios that failed")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 100))
	missed := 0
	for _, rw := range rows {
		n := fmt.Sprint(len(rw.caught))
		if len(rw.caught) == 0 {
			if rw.res.Crash != "" && base.Crash == "" {
				n = "crash"
			} else {
				n = "NONE"
				missed++
			}
		}
		fmt.Fprintf(w, "%-26s %7s  %s\n", rw.f.ID, n, rw.f.Desc)
		for _, s := range rw.caught {
			fmt.Fprintf(w, "%-26s %7s    %s\n", "", "", s)
		}
		if len(rw.caught) == 0 && rw.res.Crash != "" {
			fmt.Fprintf(w, "%-26s %7s    %s\n", "", "", rw.res.Crash)
		}
	}
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 100))
	for _, e := range stale {
		fmt.Fprintf(w, "DOES NOT APPLY: %v\n", e)
	}
	for _, e := range buildErrs {
		fmt.Fprintf(w, "DOES NOT BUILD: %v\n", e)
	}
	baseOK := len(base.Failed) == 0 && base.Crash == ""
	fmt.Fprintf(w, "summary: %d of %d faults caught, %d not caught, %d do not apply, %d do not build; baseline %s (%d scenarios); took %s\n",
		len(rows)-missed, len(faults), missed, len(stale), len(buildErrs),
		map[bool]string{true: "passed", false: "FAILED"}[baseOK], base.Total, time.Since(started).Round(time.Second))
	if missed > 0 || len(stale) > 0 || len(buildErrs) > 0 || !baseOK {
		return errFailed
	}
	fmt.Fprintln(w, "mutate: ok, every fault is caught")
	return nil
}

// Key identifies a scenario across runs.
type Key struct {
	Feature string
	Line    int
}

func key(s mutate.Scenario) Key { return Key{s.Feature, s.Line} }

// selectFaults returns the faults named in the comma-separated list only,
// or all of them.
func selectFaults(only string) ([]mutate.Fault, error) {
	if only == "" {
		return mutate.Faults, nil
	}
	var out []mutate.Fault
	for id := range strings.SplitSeq(only, ",") {
		id = strings.TrimSpace(id)
		i := slices.IndexFunc(mutate.Faults, func(f mutate.Fault) bool { return f.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("mutate: -only: no fault %q (go run ./scripts/mutate -list)", id)
		}
		out = append(out, mutate.Faults[i])
	}
	return out, nil
}

// moduleRoot returns dir, or the git top level of the working directory.
func moduleRoot(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("mutate: find the module root (give -root): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
