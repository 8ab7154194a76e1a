package memlimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// envCase names the environment variable that carries the case to a child.
const envCase = "PTQSPEC_MEMLIMIT_CASE"

// resultPrefix starts the result line a child prints.
const resultPrefix = "MEMLIMIT-RESULT "

// Result is what a child reports about one case.
type Result struct {
	// Err is the error the case returned, "" for none.
	Err string `json:"err"`
	// Matched tells whether the error had the expected type.
	Matched bool `json:"matched"`
	// Alloc is the heap bytes allocated while the case ran.
	Alloc uint64 `json:"alloc"`
	// Elapsed is how long the case ran.
	Elapsed time.Duration `json:"elapsed"`
	// HardLimit tells whether RLIMIT_AS was in force.
	HardLimit bool `json:"hard_limit"`
}

// childCase returns the case this process runs as a child of run, or ""
// in the parent.
func childCase() string { return os.Getenv(envCase) }

// child runs a case in the child process under limit bytes (soft limit
// for the Go heap, hard limit for the address space where available),
// and prints its Result for run. matched says whether the case's error
// has the expected type.
func child(limit uint64, run func() error, matched func(error) bool) {
	debug.SetMemoryLimit(int64(limit))
	hard := setAddressSpaceLimit(limit) == nil
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := run()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	r := Result{Matched: err != nil && matched(err), Alloc: after.TotalAlloc - before.TotalAlloc, Elapsed: elapsed, HardLimit: hard}
	if err != nil {
		r.Err = err.Error()
	}
	line, _ := json.Marshal(r)
	fmt.Printf("\n%s%s\n", resultPrefix, line)
}

// run runs case name of test (the name of the calling Test function) in a
// child process of the test binary, waiting at most timeout, and returns
// what the child reported.
func run(test, name string, timeout time.Duration) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), envCase+"="+name)
	out, err := cmd.CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			var r Result
			if jerr := json.Unmarshal([]byte(rest), &r); jerr != nil {
				return r, fmt.Errorf("memlimit: case %q: result line %q: %w", name, rest, jerr)
			}
			return r, nil
		}
	}
	return Result{}, fmt.Errorf("memlimit: case %q: the child printed no result (%v):\n%s", name, err, tail(string(out), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Case is one input a test loads under the limit.
type Case struct {
	// Name names the case (and its subtest).
	Name string
	// Size is the input's size in bytes: the case may allocate Slack
	// bytes beyond it.
	Size int
	// Load loads the input; it must fail with an error matching Is.
	Load func() error
	// Is is the typed error Load must return, matched with errors.Is.
	Is error
}

// Slack is what a case may allocate beyond its input's size (issue 12's
// acceptance bound), and MaxTime how long it may take.
const (
	Slack   = 64 << 20
	MaxTime = time.Second
)

// Test runs each case in a child process of the test binary limited to
// limit bytes, as the Test function called test (the caller), and checks
// that it failed with its typed error within MaxTime, allocating at most
// Slack bytes beyond its size. Called in the child, it runs the case the
// parent chose instead. cases must be the same, in name, in both.
func Test(t *testing.T, test string, limit uint64, cases []Case) {
	if name := childCase(); name != "" {
		for _, c := range cases {
			if c.Name == name {
				child(limit, c.Load, func(err error) bool { return errors.Is(err, c.Is) })
			}
		}
		return
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r, err := run(test, c.Name, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d-byte input: %s; allocated %d bytes in %v (hard limit %v)", c.Size, r.Err, r.Alloc, r.Elapsed, r.HardLimit)
			if !r.Matched {
				t.Errorf("error %q, want one matching %v", r.Err, c.Is)
			}
			if r.Elapsed > MaxTime {
				t.Errorf("took %v, want under %v", r.Elapsed, MaxTime)
			}
			if max := uint64(c.Size) + Slack; r.Alloc > max {
				t.Errorf("allocated %d bytes, want at most %d", r.Alloc, max)
			}
		})
	}
}
