package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the run as GitHub-flavoured Markdown: the same
// sections, numbers and tables as WriteHTML, with each chart linked as an
// image by the file name WriteAll gives it (Chart.File), so the page shows
// its charts when read beside them. The same Run always gives the same
// bytes.
func WriteMarkdown(w io.Writer, r *Run) error {
	if err := r.validate(); err != nil {
		return err
	}
	cs, err := charts(r)
	if err != nil {
		return err
	}
	_, err = w.Write(markdown(newView(r, cs)))
	return err
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// markdown renders a view.
func markdown(v *view) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = cell(cells[i])
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}
	image := func(name string) {
		if c, ok := v.chart(name); ok {
			p("![%s](%s)\n\n", cell(c.Title), c.File())
		}
	}
	p("# %s\n\n", v.Title)
	var sub []string
	if v.Model != "" {
		sub = append(sub, "model "+v.Model)
	}
	sub = append(sub, v.Mode+" quantization")
	if v.Config != "" {
		sub = append(sub, v.Config)
	}
	p("%s\n\n", strings.Join(sub, " · "))

	p("## Summary\n\n")
	row("", "value", "detail")
	p("|---|---|---|\n")
	for _, c := range v.Cards {
		value := c.Value
		if c.Status == "bad" {
			value = "**" + value + "**"
		}
		row(c.Label, value, c.Detail)
	}
	p("\n")
	for _, n := range v.Notes {
		p("**Note:** %s\n\n", n)
	}

	p("## Accuracy\n\n")
	image(ChartAccuracy)

	p("## Layers\n\n")
	image(ChartLayerSQNR)
	row("layer", "kind", "role", "weights", "weight scales", "output scale / zero point", "output range", "SQNR dB")
	p("|---|---|---|---|---:|---:|---:|---:|\n")
	for _, l := range v.Layers {
		sq := l.SQNR
		switch l.Level {
		case "low":
			sq = "**" + sq + "** (low)"
		case "very-low":
			sq = "**" + sq + "** (very low)"
		}
		row("`"+l.Name+"`", l.Kind, l.Role, l.Weights, l.Scales, l.Output, l.Range, sq)
	}
	p("\nSQNR marked low is below %s, very low below %s.\n\n", v.SQNRRef, v.SQNRVeryLow)

	if _, ok := v.chart(ChartWeightScales); ok {
		p("## Weight scales\n\n")
		image(ChartWeightScales)
	}

	if c := v.Calibration; c != nil {
		p("## Calibration\n\n%s\n\n", c.Summary)
		image(ChartCalibration)
		row("batch", "samples", "max scale change", "on tensor", "converged")
		p("|---:|---:|---:|---|---|\n")
		for _, h := range c.History {
			conv := h.State
			worst := h.Worst
			if worst != "" {
				worst = "`" + worst + "`"
			}
			row(fmt.Sprint(h.Batch), fmt.Sprint(h.Samples), h.Change, worst, conv)
		}
		p("\n")
	}

	if s := v.Sensitivity; s != nil {
		p("## Sensitivity\n\n")
		p("Metric: %s on %d selection samples%s. FP32 %s, all int8 %s, threshold %s.", s.Metric, s.Samples, inParens(s.Selection), s.FP32, s.AllInt8, s.Threshold)
		if s.Sensitive != "" {
			p(" Sensitive: %s.", s.Sensitive)
		}
		p("\n\n")
		image(ChartSensitivity)
		row("rank", "layer", "kind", "only this int8", "only this FP32", "drop", "recovery", "SQNR dB", "sensitive")
		p("|---:|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, l := range s.Rows {
			yes := ""
			if l.Sensitive {
				yes = "**yes**"
			}
			sq := l.SQNR
			if l.Level != "" {
				sq = "**" + sq + "** (low)"
			}
			row(fmt.Sprint(l.Rank), "`"+l.Layer+"`", l.Kind, l.OnlyInt8, l.OnlyFP32, l.Drop, l.Recovery, sq, yes)
		}
		p("\n")
	}

	if f := v.Fallback; f != nil {
		met := "met"
		if !f.Met {
			met = "**not met**"
		}
		p("## Fallback\n\n")
		if len(f.Steps) > 1 {
			p("Layers were reverted to FP32 one at a time, most recovering first, until the %s drop fit the %s budget", f.Metric, f.Budget)
		} else {
			p("The all-int8 model was checked against the %s budget on %s; no layer was reverted", f.Budget, f.Metric)
		}
		p(", on the selection samples%s: FP32 %s, all int8 %s, final %s, budget %s.\n\n", inParens(f.Selection), f.FP32, f.AllInt8, f.Final, met)
		image(ChartFallback)
		row("step", "reverted to FP32", f.Metric, "drop", "budget")
		p("|---:|---|---:|---:|---|\n")
		for _, s := range f.Steps {
			within := "within"
			if !s.Within {
				within = "over"
			}
			layer := "none (all layers int8)"
			if s.Layer != "" {
				layer = "`" + s.Layer + "`"
			}
			row(fmt.Sprint(s.Step), layer, s.Value, s.Drop, within)
		}
		p("\n")
	}

	p("## Traversal\n\n")
	if v.HasOverrides {
		row("node", "kind", "role", "reason", "fused", "overrides")
		p("|---|---|---|---|---|---|\n")
	} else {
		row("node", "kind", "role", "reason", "fused")
		p("|---|---|---|---|---|\n")
	}
	for _, t := range v.Traversal {
		cells := []string{"`" + t.Name + "`", t.Kind, t.Role, t.Reason, t.Fused}
		if v.HasOverrides {
			cells = append(cells, t.Overrides)
		}
		row(cells...)
	}
	p("\n")

	if len(v.Timings) > 0 {
		p("## Timings\n\n")
		row("phase", "wall clock")
		p("|---|---:|\n")
		for _, t := range v.Timings {
			row(t.Phase, t.Duration)
		}
		p("\n")
	}
	p("Machine-readable data: report.json (%s).\n", v.Schema)
	return b.Bytes()
}

// inParens returns " (s)", or "" for an empty s.
func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
