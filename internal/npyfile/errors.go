package npyfile

import (
	"errors"
	"fmt"
)

// Sentinel errors matched with errors.Is against a *FileError.
var (
	// ErrNotNPY: the bytes are not a NumPy .npy file (no magic, a header that
	// does not parse).
	ErrNotNPY = errors.New("not a NumPy .npy file")
	// ErrDType: the element type or memory order is one this package does not
	// read into the requested Go value.
	ErrDType = errors.New("unsupported .npy element type")
	// ErrSize: the data is shorter or longer than the header declares, or the
	// declared shape overflows.
	ErrSize = errors.New(".npy data size does not match its header")
	// ErrLabels: a label array that is not one-dimensional or holds a
	// negative label.
	ErrLabels = errors.New("invalid .npy label array")
)

// FileError reports a problem with one .npy file.
type FileError struct {
	File   string // the path, or "<reader>" when decoding a stream
	Offset int64  // byte offset the problem was found at; -1 if none applies
	Kind   error  // one of ErrNotNPY, ErrDType, ErrSize, ErrLabels, or nil for I/O errors
	Msg    string // what was wrong, with the values involved
	Err    error  // the underlying error, if any
}

// Error implements the error interface.
func (e *FileError) Error() string {
	s := "npyfile: " + e.File
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (byte %d)", e.Offset)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the sentinel kind and the underlying error.
func (e *FileError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
