// Command benchcheck writes or checks bench/baseline.json (see package
// bench):
//
//	go run ./bench/benchcheck -write bench/baseline.json   # make bench-baseline
//	go run ./bench/benchcheck -check bench/baseline.json   # make bench-check
//
// -check exits with status 1 when a case is more than 1.5 times slower than
// its baseline, relative to the reference workload of the same run, and
// still is when measured a second time. The
// environment variable PTQSPEC_BENCH_SLOWDOWN ("name=2,other=3") repeats
// the named cases' work, to see the check fail.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ptqspec/ptqspec/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.String("write", "", "measure and write the baseline to this file")
	check := fs.String("check", "", "measure and compare with the baseline in this file")
	rounds := fs.Int("rounds", 9, "timings of every case")
	minTime := fs.Duration("mintime", 150*time.Millisecond, "least duration of one timing")
	limit := fs.Float64("limit", bench.MaxSlowdown, "largest accepted slowdown factor")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*write == "") == (*check == "") || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "benchcheck: give exactly one of -write FILE and -check FILE")
		return 2
	}
	slow, err := parseSlowdown(os.Getenv("PTQSPEC_BENCH_SLOWDOWN"))
	if err != nil {
		fmt.Fprintln(stderr, "benchcheck:", err)
		return 2
	}
	var base *bench.Baseline
	if *check != "" {
		if base, err = bench.ReadBaseline(*check); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	res, err := bench.Measure(bench.Cases(), bench.Options{Rounds: *rounds, MinTime: *minTime, Slowdown: slow})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%-32s %14s %10s\n", "reference", fmt.Sprintf("%.0f ns/op", res.ReferenceNs), "1")
	for _, c := range res.Cases {
		fmt.Fprintf(stdout, "%-32s %14s %10.4g\n", c.Name, fmt.Sprintf("%.0f ns/op", c.NsOp), c.Ratio)
	}
	if *write != "" {
		if err := res.Baseline(time.Now()).WriteFile(*write); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "wrote", *write)
		return 0
	}
	regs := bench.Compare(base, res, *limit)
	if len(regs) > 0 {
		// A busy machine can slow one timing more than the reference; a
		// real slowdown persists. Measure the reported cases once more
		// and keep what is still slower.
		again := map[string]bool{}
		for _, r := range regs {
			fmt.Fprintln(stdout, "benchcheck: measuring again:", r.Msg)
			again[r.Name] = true
		}
		var cases []bench.Case
		for _, c := range bench.Cases() {
			if again[c.Name] {
				cases = append(cases, c)
			}
		}
		res2, err := bench.Measure(cases, bench.Options{Rounds: *rounds, MinTime: *minTime, Slowdown: slow})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		var still []bench.Regression
		for _, r := range bench.Compare(base, res2, *limit) {
			if again[r.Name] {
				still = append(still, r)
			}
		}
		regs = still
	}
	for _, r := range regs {
		fmt.Fprintln(stderr, "benchcheck: FAIL", r.Msg)
	}
	if len(regs) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "benchcheck: every case within %.2gx of %s\n", *limit, *check)
	return 0
}

// parseSlowdown reads "name=2,other=3".
func parseSlowdown(s string) (map[string]int, error) {
	out := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, n, ok := strings.Cut(part, "=")
		k, err := strconv.Atoi(n)
		if !ok || err != nil || k < 1 {
			return nil, fmt.Errorf("PTQSPEC_BENCH_SLOWDOWN: %q is not name=N with N >= 1", part)
		}
		out[strings.TrimSpace(name)] = k
	}
	return out, nil
}
