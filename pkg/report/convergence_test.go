package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// convergenceHistory builds a calibration report from the largest scale
// change of each batch after the first, with the flags and events of the
// rule at a 1% tolerance and the given patience, as ptq records them.
func convergenceHistory(patience int, changes ...float64) *ptq.CalibrationReport {
	c := &ptq.CalibrationReport{Method: 1, Batches: len(changes) + 1, Samples: 10 * (len(changes) + 1),
		Tolerance: 0.01, Patience: patience, ConvergedAt: -1,
		History: []ptq.CalibrationStep{{Batch: 0, Samples: 10}}}
	calm, first := 0, -1
	for i, ch := range changes {
		s := ptq.CalibrationStep{Batch: i + 1, Samples: 10 * (i + 2), MaxScaleChange: ch}
		if ch > 0 {
			s.Worst = "fc"
		}
		if ch <= 0.01 {
			calm++
		} else {
			calm = 0
		}
		s.Converged = calm >= patience
		was := c.History[i].Converged
		switch {
		case s.Converged && !was && first < 0:
			s.Event, first, c.ConvergedAt = ptq.EventConverged, s.Batch, s.Batch
		case s.Converged && !was:
			s.Event, c.ConvergedAt = ptq.EventRegained, s.Batch
		case !s.Converged && was:
			s.Event, c.ConvergedAt = ptq.EventLost, -1
		}
		c.History = append(c.History, s)
	}
	c.Converged = c.History[len(c.History)-1].Converged
	return c
}

func TestConvergenceLostAndRegainedInReports(t *testing.T) {
	cases := []struct {
		name    string
		cal     *ptq.CalibrationReport
		title   string   // the chart title after "Calibration convergence: "
		card    string   // the headline card's calibration detail after the method
		summary string   // a part of the calibration section's summary
		states  []string // the converged column, batch by batch
		labels  []string // labels of the chart's vertical lines
		legend  string   // the legend entry of a lost convergence, "" for none
	}{
		{"converges and stays", convergenceHistory(2, 0.2, 0, 0, 0.005, 0),
			"converged at batch 3 of 6", "converged at batch 3 of 6", "converged at batch 3 and stayed converged to the end",
			[]string{"", "", "", "converged", "yes", "yes"}, []string{"converged at batch 3 (patience 2)"}, ""},
		{"converges, then a 3.56% move loses it to the end (ptq mnist)", convergenceHistory(3, 0.06, 0.08, 0.15, 0.001, 0, 0, 0.0356, 0.0212, 0),
			"converged at batch 6, lost at batch 7, not at the end",
			"not converged at the end of 10 batches (converged at batch 6, lost at batch 7)",
			"converged at batch 6 but lost it at batch 7 and is not converged at the end",
			[]string{"", "", "", "", "", "", "converged", "lost", "", ""},
			[]string{"converged at batch 6 (patience 3)", "lost at batch 7"}, "convergence lost"},
		{"lost twice, regained at the end", convergenceHistory(2, 0, 0, 0.5, 0, 0, 0.02, 0, 0),
			"converged since batch 8 of 9, lost twice before",
			"converged since batch 8 of 9 (first at batch 2, lost at batches 3 and 6)",
			"first converged at batch 2, lost it at batches 3 and 6, and is converged at the end, since batch 8",
			[]string{"", "", "converged", "lost", "", "regained", "lost", "", "regained"},
			nil, "convergence lost"}, // five events: their labels would not fit, the title names them
		{"never converges", convergenceHistory(3, 0.02, 0, 0, 0.02, 0, 0),
			"not converged after 7 batches", "not converged after 7 batches", "did not converge",
			[]string{"", "", "", "", "", "", ""}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testRun(t)
			r.Quant.Calibration = c.cal
			f := calibrationFigure(r)
			if f == nil {
				t.Fatal("no calibration chart")
			}
			if want := "Calibration convergence: " + c.title; f.title != want {
				t.Errorf("chart title %q, want %q", f.title, want)
			}
			v := calibrationView(c.cal)
			if !strings.Contains(v.Summary, c.summary) {
				t.Errorf("summary %q does not say %q", v.Summary, c.summary)
			}
			var states []string
			for _, h := range v.History {
				states = append(states, h.State)
			}
			if !slices.Equal(states, c.states) {
				t.Errorf("converged column %q, want %q", states, c.states)
			}
			svg, err := f.render()
			if err != nil {
				t.Fatal(err)
			}
			_, texts := svgTexts(t, svg)
			for _, l := range c.labels {
				if !slices.Contains(texts, l) {
					t.Errorf("chart lacks the label %q (texts %q)", l, texts)
				}
			}
			var legend []string
			for _, l := range f.legend {
				legend = append(legend, l.label)
			}
			if got := slices.Contains(legend, "convergence lost"); got != (c.legend != "") {
				t.Errorf("legend %q: has %q = %v, want %v", legend, "convergence lost", got, c.legend != "")
			}
			if want := slices.ContainsFunc(c.cal.History, func(s ptq.CalibrationStep) bool { return s.Converged }); slices.Contains(legend, "converged") != want {
				t.Errorf("legend %q: a converged swatch = %v, want %v", legend, !want, want)
			}
			md := string(render(t, WriteMarkdown, r))
			if !strings.Contains(md, c.summary) {
				t.Errorf("Markdown lacks %q", c.summary)
			}
			if slices.Contains(c.states, "lost") && !strings.Contains(md, "| lost |") {
				t.Error("Markdown history has no lost row")
			}
			page := string(render(t, WriteHTML, r))
			for _, want := range []string{c.title, "minmax, " + c.card} {
				if !strings.Contains(page, htmlEscape(want)) {
					t.Errorf("HTML page lacks %q", want)
				}
			}
		})
	}
}

func TestBatchList(t *testing.T) {
	for _, c := range []struct {
		b    []int
		want string
	}{{nil, "no batch"}, {[]int{7}, "batch 7"}, {[]int{7, 14}, "batches 7 and 14"}, {[]int{7, 14, 20}, "batches 7, 14 and 20"}} {
		if got := batchList(c.b); got != c.want {
			t.Errorf("batchList(%v) = %q, want %q", c.b, got, c.want)
		}
	}
}
