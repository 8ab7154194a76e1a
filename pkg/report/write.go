package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File names WriteAll uses; charts are named by Chart.File.
const (
	HTMLFile     = "report.html"
	MarkdownFile = "report.md"
	JSONFile     = "report.json"
)

// WriteAll writes the run into dir, creating it if needed: report.html,
// report.md, report.json and one standalone SVG per chart (Chart.File).
// It returns the paths written, in that order. The charts are drawn once
// and shared by the three documents. Existing files of the same names are
// replaced; other files in dir are left alone. On error it returns the
// paths written so far and an error naming the file.
func WriteAll(dir string, r *Run) (paths []string, err error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	cs, err := charts(r)
	if err != nil {
		return nil, err
	}
	v := newView(r, cs)
	var html bytes.Buffer
	if err := writeHTML(&html, v); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(toJSON(r), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encoding JSON: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{{HTMLFile, html.Bytes()}, {MarkdownFile, markdown(v)}, {JSONFile, append(js, '\n')}}
	for _, c := range cs {
		files = append(files, struct {
			name string
			data []byte
		}{c.File(), c.SVG})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return paths, fmt.Errorf("report: writing %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
