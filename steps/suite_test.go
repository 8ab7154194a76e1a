package steps

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"
)

// opts are the godog options of TestFeatures, bound to the -godog.* flags:
//
//	go test ./steps -godog.tags=@fast -godog.random=4711 -godog.concurrency=1
//	go test ./steps -godog.format=pretty,cucumber:../reports/cucumber.json,junit:../reports/junit.xml
//
// godog.BindFlags registers them on the standard flag set, so the
// single-dash Go spelling works with go test. (godog.BindCommandLineFlags
// binds the same options to pflag, which needs "--godog.tags" and its own
// parsing of the -test.* flags in a TestMain.)
var opts = godog.Options{
	Format:      "progress",
	Tags:        "~@slow",
	Strict:      true,
	Concurrency: runtime.NumCPU(),
	Randomize:   -1, // a fresh seed per run, printed so a failure replays
	NoColors:    !isTerminal(os.Stdout),
}

func init() {
	godog.BindFlags("godog.", flag.CommandLine, &opts)
	flag.Var(seedFlag{&seedOffset}, "ptqspec.seed",
		"offset of every seed of the random models, data sets and weights (default $"+SeedEnv+" or 0)")
}

// isTerminal reports whether f is a character device; under go test it
// never is, so reports stay free of colour codes.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// TestFeatures runs the features under ../features (or the paths given
// after -args, or by -godog.paths) as subtests, one per scenario.
func TestFeatures(t *testing.T) {
	o := opts
	if len(o.Paths) == 0 {
		o.Paths = flag.Args()
	}
	if len(o.Paths) == 0 {
		o.Paths = []string{"../features"}
	}
	if o.Randomize == -1 {
		o.Randomize = rand.Int64N(99998) + 1
	}
	o.TestingT = t
	if err := makeReportDirs(o.Format); err != nil {
		t.Fatal(err)
	}

	fmt.Printf("ptqspec: seed offset %d (replay with -ptqspec.seed=%d or %s=%d)\n", seedOffset, seedOffset, SeedEnv, seedOffset)
	cuke := withCucumberReport(&o, t.TempDir())
	var h Harness
	started := time.Now()
	status := godog.TestSuite{
		Name:                "ptqspec",
		ScenarioInitializer: h.InitializeScenario,
		Options:             &o,
	}.Run()
	if o.ShowStepDefinitions {
		return
	}
	if err := writeRunInfo(o, started); err != nil {
		t.Fatal(err)
	}
	t.Logf("godog: tags %q, %d scenarios, concurrency %d, order seed %d (replay with -godog.random=%d), seed offset %d (-ptqspec.seed=%d)",
		o.Tags, h.Started(), o.Concurrency, o.Randomize, o.Randomize, seedOffset, seedOffset)
	if err := h.Check(o.Tags); err != nil {
		t.Fatal(err)
	}
	if status != 0 {
		t.Fatalf("godog run failed with status %d; replay with -godog.random=%d -ptqspec.seed=%d", status, o.Randomize, seedOffset)
	}
	if len(o.Paths) == 1 {
		if fi, err := os.Stat(o.Paths[0]); err == nil && fi.IsDir() {
			t.Run("every threshold is in the scorecard", func(t *testing.T) { checkScorecard(t, cuke, o.Paths[0], o.Tags) })
		}
	}
}

// makeReportDirs creates the directories of the report files named in a
// godog format list such as "pretty,junit:../reports/junit.xml".
func makeReportDirs(format string) error {
	for f := range strings.SplitSeq(format, ",") {
		_, path, ok := strings.Cut(f, ":")
		if !ok || path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// TestEmptyTagFilterFailsTheRun runs this test binary again with tag
// filters that select nothing and expects the run to fail and explain
// godog's tag syntax.
func TestEmptyTagFilterFailsTheRun(t *testing.T) {
	cases := []struct {
		name string
		tags string
	}{
		{"cucumber not", "not @slow"},
		{"cucumber and", "@fast and not @slow"},
		{"unknown tag", "@no-such-tag"},
		{"contradiction", "@fast && ~@fast"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := testBinary(t, "-test.run=^TestFeatures$", "-godog.tags="+c.tags,
				"-godog.format=progress", "-godog.no-colors")
			out, err := cmd.CombinedOutput()
			var exit interface{ ExitCode() int }
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("run with tags %q: err = %v, want exit status 1; output:\n%s", c.tags, err, out)
			}
			for _, want := range []string{ErrNoScenarios.Error(), `"` + c.tags + `"`, `"@a && ~@b"`} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// testBinary returns a command that runs this test binary with args.
func testBinary(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(exe, args...)
}

func TestHarnessCheck(t *testing.T) {
	cases := []struct {
		name    string
		started int64
		wantErr bool
	}{
		{"none started", 0, true},
		{"one started", 1, false},
		{"many started", 40, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Harness
			h.started.Store(c.started)
			err := h.Check("@x")
			if got := errors.Is(err, ErrNoScenarios); got != c.wantErr {
				t.Fatalf("Check() = %v, want ErrNoScenarios: %v", err, c.wantErr)
			}
		})
	}
}

func TestCLITags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"long with equals", []string{"--strict", "--tags=@fast"}, "@fast"},
		{"long with space", []string{"--tags", "@fast && ~@slow"}, "@fast && ~@slow"},
		{"short", []string{"-t", "@slow"}, "@slow"},
		{"absent", []string{"--strict"}, ""},
		{"dangling", []string{"--tags"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := cliTags(c.args); got != c.want {
				t.Fatalf("cliTags(%q) = %q, want %q", c.args, got, c.want)
			}
		})
	}
}

func TestParseShape(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"28x28", "28x28", false},
		{"2x1x28x28", "2x1x28x28", false},
		{"10", "10", false},
		{"0x3", "0x3", false},
		{"2 x 3", "", true},
		{"2x", "", true},
		{"-1x3", "", true},
		{"", "", true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			s, err := parseShape(c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("parseShape(%q) error = %v, wantErr %v", c.in, err, c.wantErr)
			}
			if err == nil && formatShape(s) != c.want {
				t.Fatalf("parseShape(%q) = %v, want %s", c.in, s, c.want)
			}
		})
	}
}
