package scorecard

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Requirement is one requirement of the specification, listed in
// features/README.md as a table row "| R-static-1 | static | text |". A
// scenario covers it when it carries the tag @R-static-1; its area's
// scenarios carry @spec-static.
type Requirement struct {
	ID   string
	Area string
	Text string
}

var requirementRow = regexp.MustCompile(`^\|\s*(R-[a-z0-9]+-\d+)\s*\|\s*([a-z0-9]+)\s*\|\s*(.+?)\s*\|\s*$`)

// ParseRequirements reads the requirement rows of a Markdown document, in
// order. A repeated id is an error naming its line.
func ParseRequirements(r io.Reader) ([]Requirement, error) {
	var out []Requirement
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		m := requirementRow.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		if prev, ok := seen[m[1]]; ok {
			return nil, fmt.Errorf("scorecard: requirement %s on line %d repeats line %d", m[1], n, prev)
		}
		seen[m[1]] = n
		out = append(out, Requirement{ID: m[1], Area: m[2], Text: m[3]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scorecard: requirements: %w", err)
	}
	return out, nil
}

// ParseRequirementsFile reads the requirements listed in the Markdown file
// at path.
func ParseRequirementsFile(path string) ([]Requirement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scorecard: %w", err)
	}
	defer f.Close()
	return ParseRequirements(f)
}
