package main

import (
	"fmt"
	"os"
	"path/filepath"

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
// output folder.
func (j *job) write(o *outcome) error {
	paths, err := report.WriteAll(j.flags.out, j.reportRun(o))
	o.files = append(o.files, paths...)
	if err != nil {
		return err
	}
	if o.sens != nil {
		paths, err := writeSensitivity(j.flags.out, o.sens)
		o.files = append(o.files, paths...)
		return err
	}
	return nil
}

// writeSensitivity writes the analysis as CSV, JSON and Markdown into dir
// and returns the paths written.
func writeSensitivity(dir string, s *ptq.SensitivityReport) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, w := range []struct {
		name  string
		write func(*os.File) error
	}{
		{sensitivityCSV, func(f *os.File) error { return s.WriteCSV(f) }},
		{sensitivityJSON, func(f *os.File) error { return s.WriteJSON(f) }},
		{sensitivityMarkdown, func(f *os.File) error { _, err := f.WriteString(s.Markdown()); return err }},
	} {
		path := filepath.Join(dir, w.name)
		f, err := os.Create(path)
		if err != nil {
			return paths, err
		}
		err = w.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("%s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}
