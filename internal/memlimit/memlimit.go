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

// envChild marks the child process; its value is the test it runs.
const envChild = "PTQSPEC_MEMLIMIT_CHILD"

// resultPrefix starts each result line the child prints.
const resultPrefix = "MEMLIMIT-RESULT "

// Slack is what a case may allocate beyond its input's size (issue 12's
// acceptance bound), and MaxTime how long it may take.
const (
	Slack   = 64 << 20
	MaxTime = time.Second
)

// Case is one input a test loads under the limit.
type Case struct {
	// Name names the case (and its subtest).
	Name string
	// Input returns the input (a file's bytes). It runs before the
	// measurement of the case starts: in the parent to learn the input's
	// size (the case may allocate Slack bytes beyond it), in the child to
	// load it.
	Input func() []byte
	// Load loads the input; it must fail with an error matching Is.
	Load func(data []byte) error
	// Is is the typed error Load must return, matched with errors.Is.
	Is error
}

// Result is what the child reports about one case.
type Result struct {
	// Name is the case's.
	Name string `json:"name"`
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

// Test runs the cases in one child process of the test binary, limited to
// limit bytes, as the Test function called test (the caller), and checks
// in a subtest per case that it failed with its typed error within
// MaxTime, allocating at most Slack bytes beyond its input's size. Called
// in the child, the same call runs the cases instead and prints their
// results. A case that takes the child down fails with the child's
// output; the cases before it keep their results.
func Test(t *testing.T, test string, limit uint64, cases []Case) {
	if os.Getenv(envChild) == test {
		child(limit, cases)
		return
	}
	results, childErr := run(test, 2*time.Minute)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			size := len(c.Input())
			r, ok := results[c.Name]
			if !ok {
				t.Fatalf("memlimit: no result for case %q: %v", c.Name, childErr)
			}
			t.Logf("%d-byte input: %s; allocated %d bytes in %v (hard limit %v)", size, r.Err, r.Alloc, r.Elapsed, r.HardLimit)
			if !r.Matched {
				t.Errorf("error %q, want one matching %v", r.Err, c.Is)
			}
			if r.Elapsed > MaxTime {
				t.Errorf("took %v, want under %v", r.Elapsed, MaxTime)
			}
			if max := uint64(size) + Slack; r.Alloc > max {
				t.Errorf("allocated %d bytes, want at most %d", r.Alloc, max)
			}
		})
	}
}

// child runs every case under limit bytes (soft limit for the Go heap,
// hard limit for the address space where available) and prints a result
// line for each.
func child(limit uint64, cases []Case) {
	debug.SetMemoryLimit(int64(limit))
	hard := setAddressSpaceLimit(limit) == nil
	for _, c := range cases {
		data := c.Input()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := c.Load(data)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		r := Result{Name: c.Name, Matched: err != nil && errors.Is(err, c.Is), Alloc: after.TotalAlloc - before.TotalAlloc,
			Elapsed: elapsed, HardLimit: hard}
		if err != nil {
			r.Err = err.Error()
		}
		line, _ := json.Marshal(r)
		fmt.Printf("\n%s%s\n", resultPrefix, line)
	}
}

// run runs test (the name of the calling Test function) in a child
// process of the test binary, waiting at most timeout, and returns the
// results it printed by case name, with an error describing the child's
// end when it did not finish cleanly.
func run(test string, timeout time.Duration) (map[string]Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), envChild+"="+test)
	out, err := cmd.CombinedOutput()
	results := map[string]Result{}
	for line := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, resultPrefix); ok {
			var r Result
			if jerr := json.Unmarshal([]byte(rest), &r); jerr != nil {
				return results, fmt.Errorf("memlimit: result line %q: %w", rest, jerr)
			}
			results[r.Name] = r
		}
	}
	if err != nil {
		return results, fmt.Errorf("memlimit: the child ended with %v:\n%s", err, tail(string(out), 2000))
	}
	return results, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
