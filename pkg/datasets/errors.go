package datasets

import (
	"errors"
	"fmt"
)

// Sentinel errors matched with errors.Is.
var (
	// ErrCorrupt marks input that is not a well-formed file of the expected
	// kind: a bad magic number, impossible dimensions, truncated data,
	// trailing bytes, a broken gzip stream, or an MNIST file of the wrong
	// kind or shape. Every *FormatError matches it.
	ErrCorrupt = errors.New("datasets: corrupt data")

	// ErrTruncated marks input that ends before the data its header
	// announces. It always comes together with ErrCorrupt.
	ErrTruncated = errors.New("datasets: truncated data")

	// ErrCountMismatch marks an image file and a label file that hold
	// different numbers of samples.
	ErrCountMismatch = errors.New("datasets: image and label counts differ")

	// ErrMNISTNotFound marks a failure to locate the MNIST files: MNIST_DIR
	// points nowhere, or the go command is missing or cannot resolve the
	// GoMNIST module.
	ErrMNISTNotFound = errors.New("datasets: MNIST data not found")

	// ErrInvalidConfig marks a synthetic data configuration, or an argument
	// of a data set operation, that is out of range. Every *ConfigError
	// matches it.
	ErrInvalidConfig = errors.New("datasets: invalid configuration")
)

// FormatError reports malformed input at a byte offset of a named file.
// Offsets count bytes of the decompressed stream, so for a gzip'd file they
// are offsets in the IDX data, not in the .gz file.
type FormatError struct {
	File   string // the file (or stream) name given to the reader
	Offset int64  // byte offset in the decompressed stream
	Msg    string // what was wrong
	Err    error  // a more specific cause (ErrTruncated, a gzip error), or nil
}

// Error implements the error interface.
func (e *FormatError) Error() string {
	s := fmt.Sprintf("datasets: %s: offset %d: %s", e.File, e.Offset, e.Msg)
	if e.Err != nil && !errors.Is(e.Err, ErrTruncated) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCorrupt and the specific cause, if any, so that
// errors.Is matches both.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrCorrupt}
	}
	return []error{ErrCorrupt, e.Err}
}

// ConfigError reports one invalid field of a configuration or one invalid
// argument of a function.
type ConfigError struct {
	Func  string // the function or configuration, for example "Blobs"
	Field string // the field or argument, for example "Samples"
	Value any    // the rejected value
	Want  string // the rule it broke, for example "> 0"
}

// Error implements the error interface.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("datasets: %s: %s = %v, want %s", e.Func, e.Field, e.Value, e.Want)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
