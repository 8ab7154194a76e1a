package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Sentinel errors of Fault.Apply, matched with errors.Is.
var (
	// ErrNotFound: the fault's Old text does not occur in its file.
	ErrNotFound = errors.New("mutate: old text not found")
	// ErrAmbiguous: the fault's Old text occurs more than once.
	ErrAmbiguous = errors.New("mutate: old text occurs more than once")
	// ErrNoChange: the fault's New text equals its Old text.
	ErrNoChange = errors.New("mutate: new text equals old text")
)

// Fault is one small, deliberate bug: in File (a slash-separated path
// relative to the module root), the text Old, which must occur exactly
// once, becomes New.
type Fault struct {
	// ID names the fault in the report, e.g. "round-ties-away".
	ID string
	// File is the faulted file, relative to the module root.
	File string
	// Old is the exact text replaced; it must occur exactly once in File.
	Old string
	// New replaces Old.
	New string
	// Desc says in one line what the fault breaks.
	Desc string
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Apply returns src with the fault's Old text replaced by New. It returns
// an error wrapping ErrNotFound when Old does not occur in src,
// ErrAmbiguous when it occurs more than once (naming the byte offsets of
// the first two), and ErrNoChange when New equals Old.
func (f Fault) Apply(src []byte) ([]byte, error) {
	if f.Old == f.New {
		return nil, fmt.Errorf("mutate: fault %q in %s: %w", f.ID, f.File, ErrNoChange)
	}
	old := []byte(f.Old)
	if len(old) == 0 {
		return nil, fmt.Errorf("mutate: fault %q in %s: empty old text: %w", f.ID, f.File, ErrNotFound)
	}
	first := bytes.Index(src, old)
	if first < 0 {
		return nil, fmt.Errorf("mutate: fault %q: %s does not contain %q: %w", f.ID, f.File, f.Old, ErrNotFound)
	}
	if second := bytes.Index(src[first+1:], old); second >= 0 {
		return nil, fmt.Errorf("mutate: fault %q: %s contains %q at bytes %d and %d (and maybe more): %w",
			f.ID, f.File, f.Old, first, first+1+second, ErrAmbiguous)
	}
	out := make([]byte, 0, len(src)-len(old)+len(f.New))
	out = append(out, src[:first]...)
	out = append(out, f.New...)
	return append(out, src[first+len(old):]...), nil
}

// ApplyFile reads root/File and returns its faulted content.
func (f Fault) ApplyFile(root string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.File)))
	if err != nil {
		return nil, fmt.Errorf("mutate: fault %q: %w", f.ID, err)
	}
	return f.Apply(src)
}

// Overlay is the JSON file `go build -overlay` reads: each key, an
// absolute source path, is compiled from the file its value names.
type Overlay struct {
	Replace map[string]string
}

// WriteOverlay applies f to root/File and writes, under dir, the faulted
// copy (dir/ID/base name of File) and the overlay (dir/ID/overlay.json)
// mapping the absolute path of root/File to that copy. It returns the
// overlay's path. root itself is only read.
func WriteOverlay(dir, root string, f Fault) (string, error) {
	if !idPattern.MatchString(f.ID) {
		return "", fmt.Errorf("mutate: fault ID %q is not lower-case words joined by '-'", f.ID)
	}
	faulted, err := f.ApplyFile(root)
	if err != nil {
		return "", err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(filepath.Join(dir, f.ID))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return "", err
	}
	copyPath := filepath.Join(absDir, filepath.Base(filepath.FromSlash(f.File)))
	if err := os.WriteFile(copyPath, faulted, 0o644); err != nil {
		return "", err
	}
	ov := Overlay{Replace: map[string]string{filepath.Join(absRoot, filepath.FromSlash(f.File)): copyPath}}
	data, err := json.MarshalIndent(ov, "", "\t")
	if err != nil {
		return "", err
	}
	ovPath := filepath.Join(absDir, "overlay.json")
	if err := os.WriteFile(ovPath, append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	return ovPath, nil
}

// CheckList reports every problem of a fault list against the tree at
// root: duplicate or malformed IDs, and faults that do not apply exactly
// once. It returns the faults that apply and the errors of the others.
func CheckList(root string, faults []Fault) (ok []Fault, errs []error) {
	seen := map[string]bool{}
	for _, f := range faults {
		switch {
		case !idPattern.MatchString(f.ID):
			errs = append(errs, fmt.Errorf("mutate: fault ID %q is not lower-case words joined by '-'", f.ID))
			continue
		case seen[f.ID]:
			errs = append(errs, fmt.Errorf("mutate: fault ID %q appears twice", f.ID))
			continue
		}
		seen[f.ID] = true
		if _, err := f.ApplyFile(root); err != nil {
			errs = append(errs, err)
			continue
		}
		ok = append(ok, f)
	}
	return ok, errs
}
