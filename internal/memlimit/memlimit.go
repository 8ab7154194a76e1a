package memlimit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
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

// Case returns the case this process runs as a child of Run, or "" in the
// parent.
func Case() string { return os.Getenv(envCase) }

// Child runs a case in the child process under limit bytes (soft limit
// for the Go heap, hard limit for the address space where available),
// and prints its Result for Run. matched says whether the case's error
// has the expected type.
func Child(limit uint64, run func() error, matched func(error) bool) {
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

// Run runs case name of test (the name of the calling Test function) in a
// child process of the test binary, waiting at most timeout, and returns
// what the child reported.
func Run(test, name string, timeout time.Duration) (Result, error) {
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
