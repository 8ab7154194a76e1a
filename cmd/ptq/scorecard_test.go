package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixture of internal/scorecard: a run of two feature files, in one of
// which a threshold was raised to fail.
const (
	fixtureCuke     = "../../internal/scorecard/testdata/cucumber.json"
	fixtureFeatures = "../../internal/scorecard/testdata/features"
)

func TestScorecardCommand(t *testing.T) {
	out := t.TempDir()
	cases := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
		wantErr    string
		wantFiles  bool
	}{
		{"renders the fixture", []string{"scorecard", "-cucumber", fixtureCuke, "-features", fixtureFeatures, "-requirements", "../../features/README.md", "-out", out},
			0, "19 of 20 scenarios passed, 6 criteria (1 failed), thresholds: 7 in the text, 6 recorded, 6 matched", "", true},
		{"without the feature text", []string{"scorecard", "-cucumber", fixtureCuke, "-features", "", "-requirements", "", "-out", out},
			0, "thresholds: 0 in the text, 6 recorded", "", true},
		{"a record the text does not explain", []string{"scorecard", "-cucumber", fixtureCuke, "-features", "../../features", "-requirements", "", "-out", out},
			1, "", "criterion \"output SQNR on the held-out set\" with threshold 60 is not in the text", true},
		{"no -cucumber", []string{"scorecard"}, 2, "", "-cucumber FILE is required", false},
		{"a missing report", []string{"scorecard", "-cucumber", filepath.Join(out, "none.json")}, 1, "", "none.json", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []string{"acceptance.html", "acceptance.md"} {
				os.Remove(filepath.Join(out, f))
			}
			var stdout, stderr bytes.Buffer
			status := run(c.args, &stdout, &stderr)
			if status != c.wantStatus {
				t.Fatalf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", c.args, status, c.wantStatus, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), c.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", c.wantOut, &stdout)
			}
			if !strings.Contains(stderr.String(), c.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantErr, &stderr)
			}
			for _, f := range []string{"acceptance.html", "acceptance.md"} {
				_, err := os.Stat(filepath.Join(out, f))
				if (err == nil) != c.wantFiles {
					t.Errorf("%s written: %v, want %v", f, err == nil, c.wantFiles)
				}
			}
		})
	}
}
