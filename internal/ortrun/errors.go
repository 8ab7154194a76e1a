package ortrun

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotInstalled: node or the pinned ONNX Runtime runner is missing.
	ErrNotInstalled = errors.New("ONNX Runtime runner not installed (run `make tools`)")
	// ErrRunner: the runner ran and failed.
	ErrRunner = errors.New("ONNX Runtime runner failed")
)

// SetupError reports what is missing to run ONNX Runtime.
type SetupError struct {
	What string // what is missing, for example "node_modules/onnxruntime-node in /x/tools/onnxruntime"
	Err  error  // the underlying error, if any
}

// Error implements the error interface.
func (e *SetupError) Error() string {
	s := "ortrun: " + e.What + " (run `make tools` at the root of the ptqspec module to install ONNX Runtime)"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap matches ErrNotInstalled and the underlying error.
func (e *SetupError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotInstalled}
	}
	return []error{ErrNotInstalled, e.Err}
}

// RunError reports a runner that failed.
type RunError struct {
	Op       string // "run", "bench" or "info"
	Model    string // the .onnx file
	ExitCode int    // the runner's exit status; -1 if it did not exit normally
	Stderr   string // the runner's standard error, trimmed
	Err      error  // the underlying error (exec, context, JSON)
}

// Error implements the error interface.
func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ortrun: %s %s", e.Op, e.Model)
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, ": runner exited with status %d", e.ExitCode)
	}
	if e.Stderr != "" {
		b.WriteString(": " + e.Stderr)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap matches ErrRunner and the underlying error.
func (e *RunError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrRunner}
	}
	return []error{ErrRunner, e.Err}
}
