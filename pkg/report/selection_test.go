package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestReportsNameTheSelectionData checks that the sensitivity and fallback
// sections say which samples their numbers were measured on, in Markdown
// and HTML.
func TestReportsNameTheSelectionData(t *testing.T) {
	r := cloneRun(testRun(t))
	s, f := *r.Sensitivity, *r.Fallback
	s.Selection, f.Selection = "the held-out selection images", "the held-out selection images"
	r.Sensitivity, r.Fallback = &s, &f
	cases := []struct {
		name  string
		write func(*bytes.Buffer, *Run) error
		want  []string
	}{
		{"markdown", func(b *bytes.Buffer, r *Run) error { return WriteMarkdown(b, r) }, []string{
			"on 200 selection samples (the held-out selection images).",
			"on the selection samples (the held-out selection images): FP32",
		}},
		{"html", func(b *bytes.Buffer, r *Run) error { return WriteHTML(b, r) }, []string{
			"on 200 selection samples (the held-out selection images).",
			"on the selection samples (the held-out selection images): FP32",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.write(&b, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("the %s report lacks %q", c.name, w)
				}
			}
		})
	}
}
