package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
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
// and shared by the three documents. Each file is written atomically
// (internal/atomicfile: a temporary file in dir, synced, renamed over the
// old one, dir synced), with mode 0644: it holds its old contents or the
// whole new ones, never a part, and no temporary file is left on error.
// Other files in dir are left alone. On error it returns the paths
// written so far and an error naming the file.
func WriteAll(dir string, r *Run) (paths []string, err error) {
	return WriteFiles(context.Background(), dir, r, nil)
}

// WriteFiles is WriteAll that stops before the next file once ctx is
// cancelled, returning the paths written (each complete) and ctx's error,
// and calls progress, when it is not nil, after each file with the files
// written so far and their total.
func WriteFiles(ctx context.Context, dir string, r *Run, progress func(done, total int)) (paths []string, err error) {
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
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return paths, fmt.Errorf("report: stopped before %s: %w", f.name, err)
		}
		p := filepath.Join(dir, f.name)
		if err := atomicfile.WriteBytes(p, f.data); err != nil {
			return paths, fmt.Errorf("report: writing %s: %w", p, err)
		}
		paths = append(paths, p)
		if progress != nil {
			progress(i+1, len(files))
		}
	}
	return paths, nil
}
