package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runPTQEnv makes the test binary run ptq itself (TestMain), so that the
// interrupt test drives a real process without building another binary.
const runPTQEnv = "PTQSPEC_TEST_RUN_PTQ"

func TestMain(m *testing.M) {
	if os.Getenv(runPTQEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestInterruptEveryPhase starts ptq mnist (tiny) in a child process with
// the step hook (stepDelayEnv: every batch, variant or file sleeps), waits
// for the phase's line on stderr, sends the signal and checks: exit status
// 130 and a message naming the phase; no temporary file; every file in the
// folder complete, and none of a later phase. The fallback phase runs
// with ptq quantize on the fragile model (the tiny MLP loses too little
// for mnist's fallback to start).
func TestInterruptEveryPhase(t *testing.T) {
	fragile := fragileModelFile(t)
	tiny := []string{"-calib", "200", "-calib-batch", "50", "-eval", "1000", "-sens-eval", "300"}
	mnist := append([]string{"mnist", "-model", "mlp", "-epochs", "1", "-limit", "500"}, tiny...)
	quantize := append([]string{"quantize", "-model", fragile, "-fallback", "-budget", "1"}, tiny...)
	cases := []struct {
		name   string
		args   []string
		phase  string
		signal syscall.Signal
		// report tells whether report files may exist (the phase is the
		// report or later), save whether the saved model may.
		report, save bool
	}{
		{"training", mnist, "train", syscall.SIGINT, false, false},
		{"calibration", mnist, "calibrate", syscall.SIGINT, false, false},
		{"FP32 evaluation", mnist, "evaluate fp32", syscall.SIGINT, false, false},
		{"INT8 evaluation", mnist, "evaluate int8", syscall.SIGTERM, false, false},
		{"sensitivity", mnist, "sensitivity", syscall.SIGINT, false, false},
		{"fallback", quantize, "fallback", syscall.SIGINT, false, false},
		{"report writing", mnist, "report", syscall.SIGINT, true, false},
		{"save", mnist, "save model", syscall.SIGTERM, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("before the run\n"), 0o644))
			before := listing(t, dir)
			out, save := filepath.Join(dir, "report"), filepath.Join(dir, "int8.ptq")
			args := append(slices.Clone(c.args), "-out", out, "-save", save)
			status, stderr, elapsed := interruptAt(t, args, c.phase, c.signal)
			require.Equal(t, exitInterrupted, status, "stderr:\n%s", stderr)
			assert.Contains(t, stderr, "interrupted (")
			assert.Contains(t, stderr, "during "+strings.ReplaceAll(c.phase, " ", "_"))
			after := listing(t, dir)
			for _, name := range after {
				assert.NotContains(t, name, ".tmp", "a temporary file is left")
			}
			for _, name := range before {
				assert.Contains(t, after, name, "a file from before the run is gone")
			}
			for _, name := range after {
				switch {
				case slices.Contains(before, name), name == "report":
				case strings.HasPrefix(name, "report"+string(filepath.Separator)):
					assert.True(t, c.report, "report file %s written before the report phase", name)
					assertComplete(t, filepath.Join(dir, name))
				case name == "int8.ptq":
					assert.True(t, c.save, "model saved before the save phase")
				default:
					t.Errorf("unexpected file %s", name)
				}
			}
			// One step sleeps 150 ms; the run must not go on to finish.
			assert.Less(t, elapsed, 5*time.Second, "from the signal to the exit")
		})
	}
}

// stepDelay is how long each step of the phase aimed at sleeps under the
// hook (the other phases run at full speed): long enough for the signal
// to land inside that phase.
const stepDelay = "150ms"

// interruptAt runs ptq with args in a child process, sends sig once the
// phase's line appears on stderr, and returns the exit status, stderr and
// the time from the signal to the exit.
func interruptAt(t *testing.T, args []string, phase string, sig syscall.Signal) (int, string, time.Duration) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), runPTQEnv+"=1", stepDelayEnv+"="+phase+"="+stepDelay)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var stderr bytes.Buffer
	var sent time.Time
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if sent.IsZero() && strings.HasPrefix(line, "ptq: phase "+phase+" (") {
			require.NoError(t, cmd.Process.Signal(sig))
			sent = time.Now()
		}
	}
	err = cmd.Wait()
	require.False(t, sent.IsZero(), "phase %q never started; stderr:\n%s", phase, &stderr)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String(), time.Since(sent)
}

// listing returns the paths under dir, relative to it.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		names = append(names, rel)
		return err
	}))
	return names
}

// assertComplete checks that a report file is whole: JSON parses, HTML and
// SVG end with their closing tag, others are not empty.
func assertComplete(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	text := strings.TrimSpace(string(raw))
	switch filepath.Ext(path) {
	case ".json":
		assert.True(t, json.Valid(raw), "%s is not whole JSON", path)
	case ".html":
		assert.True(t, strings.HasSuffix(text, "</html>"), "%s does not end with </html>", path)
	case ".svg":
		assert.True(t, strings.HasSuffix(text, "</svg>"), "%s does not end with </svg>", path)
	default:
		assert.NotEmpty(t, text, "%s is empty", path)
	}
}
