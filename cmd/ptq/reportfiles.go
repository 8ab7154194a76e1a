package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// Writing the report files of a run into its output folder.

// Files WriteAll does not write, next to the report.
const (
	sensitivityCSV      = "sensitivity.csv"
	sensitivityJSON     = "sensitivity.json"
	sensitivityMarkdown = "sensitivity.md"
)

// write writes the report files and the sensitivity files into the
// output folder, each atomically; b counts them. Once ctx is cancelled it
// writes no further file.
func (j *job) write(ctx context.Context, o *outcome, b *bar) error {
	nsens := 0
	if o.sens != nil {
		nsens = len(sensitivityFiles)
	}
	paths, err := report.WriteFiles(ctx, j.flags.out, j.reportRun(o), func(done, total int) { b.set(done, total+nsens) })
	o.files = append(o.files, paths...)
	if err != nil {
		return err
	}
	if o.sens != nil {
		n := len(paths)
		paths, err := writeSensitivity(ctx, j.flags.out, o.sens, func(done, total int) { b.set(n+done, n+total) })
		o.files = append(o.files, paths...)
		return err
	}
	return nil
}

// sensitivityFiles are the sensitivity analysis's files, with how each is
// written.
var sensitivityFiles = []struct {
	name  string
	write func(w io.Writer, s *ptq.SensitivityReport) error
}{
	{sensitivityCSV, func(w io.Writer, s *ptq.SensitivityReport) error { return s.WriteCSV(w) }},
	{sensitivityJSON, func(w io.Writer, s *ptq.SensitivityReport) error { return s.WriteJSON(w) }},
	{sensitivityMarkdown, func(w io.Writer, s *ptq.SensitivityReport) error {
		_, err := io.WriteString(w, s.Markdown())
		return err
	}},
}

// writeSensitivity writes the analysis as CSV, JSON and Markdown into dir,
// each file atomically (internal/atomicfile, mode 0644), and returns the
// paths written. It calls progress, when not nil, after each file, and
// writes no further file once ctx is cancelled.
func writeSensitivity(ctx context.Context, dir string, s *ptq.SensitivityReport, progress func(done, total int)) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for i, w := range sensitivityFiles {
		if err := ctx.Err(); err != nil {
			return paths, err
		}
		path := filepath.Join(dir, w.name)
		if err := atomicfile.WriteFile(path, func(f io.Writer) error { return w.write(f, s) }); err != nil {
			return paths, fmt.Errorf("%s: %w", path, err)
		}
		paths = append(paths, path)
		if progress != nil {
			progress(i+1, len(sensitivityFiles))
		}
	}
	return paths, nil
}
