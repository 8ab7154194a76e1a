package scorecard

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
)

// Files WriteFiles writes, in dir.
const (
	HTMLFile  = "acceptance.html"
	MDFile    = "acceptance.md"
	ChartFile = "acceptance_margins.svg"
)

// WriteFiles writes the Card to dir as HTMLFile, MDFile and ChartFile (the
// chart only when a criterion was recorded), creating dir, and returns the
// paths written.
func WriteFiles(dir string, c *Card) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("scorecard: %w", err)
	}
	svg, err := MarginChart(c.Tightest)
	if err != nil {
		return nil, err
	}
	var page, md bytes.Buffer
	if err := WriteHTML(&page, c, svg); err != nil {
		return nil, err
	}
	if err := WriteMarkdown(&md, c); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
	}{{HTMLFile, page.Bytes()}, {MDFile, md.Bytes()}}
	if svg != nil {
		files = append(files, struct {
			name string
			data []byte
		}{ChartFile, svg})
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := atomicfile.WriteBytes(p, f.data); err != nil { // whole file or none, 0644
			return paths, fmt.Errorf("scorecard: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
