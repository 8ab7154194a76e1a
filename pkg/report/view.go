package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// view is a run with every number formatted once, so that the HTML and
// Markdown pages say the same thing.
type view struct {
	Title, Model, Config, Mode string
	Cards                      []card
	SQNRRef, SQNRVeryLow       string
	Layers                     []layerRow
	Traversal                  []travRow
	HasOverrides               bool
	Notes                      []string
	Calibration                *calView
	Sensitivity                *sensView
	Fallback                   *fbView
	Timings                    []timingRow
	Sections                   []section
	Schema                     string
	charts                     []Chart
}

// chart returns the chart with the given name.
func (v *view) chart(name string) (Chart, bool) {
	for _, c := range v.charts {
		if c.Name == name {
			return c, true
		}
	}
	return Chart{}, false
}

// section is one heading of the page, for the table of contents.
type section struct{ ID, Title string }

// card is one headline number.
type card struct {
	Label, Value, Detail string
	// Status is "ok", "bad" or "".
	Status string
}

// layerRow is one row of the per-layer table.
type layerRow struct {
	Name, Kind, Role, Weights, Scales, Output, Range, SQNR string
	// Level is "", "low" or "very-low" (see sqnrLevel).
	Level string
	// Muted marks nodes without their own kernel (fused, FP32).
	Muted bool
}

// travRow is one node of the traversal table.
type travRow struct{ Name, Kind, Role, Reason, Fused, Overrides string }

// calView summarises calibration.
type calView struct {
	Method, Summary, Tolerance string
	Batches, Samples, Patience int
	History                    []histRow
}

// histRow is one calibration batch.
type histRow struct {
	Batch, Samples int
	Change, Worst  string
	Converged      bool
	// State is what the converged column says: "converged" where the
	// rule first held, "lost" where a batch broke it, "regained" where it
	// held again, "yes" while it holds, "" otherwise.
	State string
}

// sensView is a sensitivity analysis in rank order.
type sensView struct {
	Metric, FP32, AllInt8, Threshold, Sensitive string
	Samples                                     int
	// Selection names the samples the analysis measured on (may be "").
	Selection string
	Rows      []sensRow
}

// sensRow is one layer of a sensitivity analysis.
type sensRow struct {
	Rank                                                         int
	Layer, Kind, OnlyInt8, OnlyFP32, Drop, Recovery, SQNR, Level string
	Sensitive                                                    bool
}

// fbView is an accuracy-aware fallback.
type fbView struct {
	Metric, FP32, AllInt8, Final, Budget string
	// Selection names the samples the fallback chose on (may be "").
	Selection string
	Met       bool
	Steps     []fbStep
}

// fbStep is the metric after one more layer reverted to FP32; step 0, the
// all-int8 model, has no layer.
type fbStep struct {
	Step               int
	Layer, Value, Drop string
	Within             bool
}

// timingRow is one phase's duration.
type timingRow struct{ Phase, Duration string }

// newView formats a validated run and its charts.
func newView(r *Run, charts []Chart) *view {
	q := r.Quant
	v := &view{Title: r.title(), Model: r.Model, Config: r.Config, Mode: q.Mode.String(), Schema: Schema, charts: charts,
		SQNRRef: dbShort(r.sqnrRef()), SQNRVeryLow: dbShort(r.sqnrRef() - 10), Notes: q.Notes}
	v.Cards = headline(r)
	v.Sections = append(v.Sections, section{"summary", "Summary"}, section{"accuracy", "Accuracy"}, section{"layers", "Layers"})
	ref := r.sqnrRef()
	for _, l := range q.Layers {
		row := layerRow{Name: l.Name, Kind: l.Kind, Role: l.Role.String(), Weights: weightsSummary(l.Weights), Scales: scaleRange(l.Weights),
			Output: outputQParams(l.Output), Muted: l.Weights == nil && l.SQNR == nil}
		if l.Output != nil {
			row.Range = fmt.Sprintf("[%s, %s]", scale(l.Output.Min), scale(l.Output.Max))
		}
		if s, ok := sqnrOf(l); ok {
			row.SQNR, row.Level = fmt.Sprintf("%.1f", s), sqnrLevel(s, ref)
		}
		v.Layers = append(v.Layers, row)
		t := travRow{Name: l.Name, Kind: l.Kind, Role: l.Role.String(), Reason: l.Reason, Overrides: strings.Join(l.Overrides, "; ")}
		v.HasOverrides = v.HasOverrides || t.Overrides != ""
		switch {
		case l.FusedInto != "":
			t.Fused = "into " + l.FusedInto
		case len(l.Fused) > 0:
			t.Fused = strings.Join(l.Fused, ", ")
		}
		v.Traversal = append(v.Traversal, t)
	}
	if _, ok := v.chart(ChartWeightScales); ok {
		v.Sections = append(v.Sections, section{"weights", "Weight scales"})
	}
	if c := q.Calibration; c != nil {
		v.Calibration = calibrationView(c)
		v.Sections = append(v.Sections, section{"calibration", "Calibration"})
	}
	if s := r.Sensitivity; s != nil {
		v.Sensitivity = sensitivityView(s, ref)
		v.Sections = append(v.Sections, section{"sensitivity", "Sensitivity"})
	}
	if f := r.Fallback; f != nil {
		v.Fallback = fallbackView(f)
		v.Sections = append(v.Sections, section{"fallback", "Fallback"})
	}
	v.Sections = append(v.Sections, section{"traversal", "Traversal"})
	for _, p := range r.phases() {
		v.Timings = append(v.Timings, timingRow{p.Name, seconds(p.Seconds)})
	}
	if len(v.Timings) > 0 {
		v.Sections = append(v.Sections, section{"timings", "Timings"})
	}
	return v
}

// headline returns the numbers at the top of the page.
func headline(r *Run) []card {
	q := r.Quant
	acc := card{Label: "Accuracy", Value: percent(r.FP32Accuracy) + " → " + percent(r.Int8Accuracy), Status: "ok"}
	word := "drop"
	if r.drop() < 0 {
		word = "gain"
	}
	acc.Detail = fmt.Sprintf("FP32 → INT8: %s %s, budget %s", word, points(math.Abs(r.drop())), points(r.maxDrop()))
	if !r.withinBudget() {
		acc.Status = "bad"
		acc.Detail += ": over budget"
	}
	size := card{Label: "Model size", Value: byteSize(r.fp32Bytes()) + " → " + byteSize(r.int8Bytes()), Detail: "FP32 → INT8"}
	if ratio := r.sizeRatio(); ratio > 0 {
		size.Detail = fmt.Sprintf("FP32 → INT8: %.2f× smaller", ratio)
	}
	cal := card{Label: "Calibration", Value: fmt.Sprintf("%d samples", r.calibrationSamples())}
	switch c := q.Calibration; {
	case c == nil:
		cal.Detail = "no calibration (" + q.Mode.String() + " mode)"
	case c.Converged:
		cal.Detail, cal.Status = fmt.Sprintf("%s, %s", c.Method, convergedAt(c)), "ok"
	default:
		cal.Detail = fmt.Sprintf("%s, %s", c.Method, convergedAt(c))
	}
	n, low, lowName := len(q.QuantizedLayers()), math.Inf(1), ""
	for _, l := range q.Layers {
		if s, ok := sqnrOf(l); ok && s < low {
			low, lowName = s, l.Name
		}
	}
	layers := card{Label: "Quantized layers", Value: fmt.Sprintf("%d int8 layers", n),
		Detail: fmt.Sprintf("%s mode, %d nodes, output SQNR %s%s", q.Mode, len(q.Layers), db(q.OutputSQNR), sqnrData(q))}
	if lowName != "" {
		layers.Detail += fmt.Sprintf("; lowest layer %s (%s)", db(low), lowName)
		if low < r.sqnrRef() {
			layers.Status = "bad"
		}
	}
	return []card{acc, size, cal, layers}
}

// calibrationView formats a calibration report.
func calibrationView(c *ptq.CalibrationReport) *calView {
	v := &calView{Method: c.Method.String(), Batches: c.Batches, Samples: c.Samples, Tolerance: tolerance(c.Tolerance), Patience: c.Patience}
	rule := fmt.Sprintf("every activation scale moving by at most %s in each of %d consecutive batches, and lost by any later batch moving one by more",
		v.Tolerance, max(1, c.Patience))
	first, lost, _ := convergenceEvents(c.History)
	switch {
	case c.Converged && len(lost) == 0:
		v.Summary = fmt.Sprintf("%s calibration on %d samples in %d batches converged at batch %d and stayed converged to the end (convergence is %s).",
			c.Method, c.Samples, c.Batches, c.ConvergedAt, rule)
	case c.Converged:
		v.Summary = fmt.Sprintf("%s calibration on %d samples in %d batches first converged at batch %d, lost it at %s, and is converged at the end, since batch %d (convergence is %s).",
			c.Method, c.Samples, c.Batches, first, batchList(lost), c.ConvergedAt, rule)
	case first >= 0:
		v.Summary = fmt.Sprintf("%s calibration on %d samples in %d batches converged at batch %d but lost it at %s and is not converged at the end (convergence is %s).",
			c.Method, c.Samples, c.Batches, first, batchList(lost), rule)
	default:
		v.Summary = fmt.Sprintf("%s calibration on %d samples in %d batches did not converge (convergence is %s).", c.Method, c.Samples, c.Batches, rule)
	}
	was := false
	for _, s := range c.History {
		h := histRow{Batch: s.Batch, Samples: s.Samples, Worst: s.Worst, Converged: s.Converged}
		switch {
		case s.Converged && !was && s.Batch == first:
			h.State = "converged"
		case s.Converged && !was:
			h.State = "regained"
		case s.Converged:
			h.State = "yes"
		case was:
			h.State = "lost"
		}
		was = s.Converged
		switch {
		case s.Batch == 0 && s.MaxScaleChange == 0:
			h.Change = "first batch"
		case math.IsInf(s.MaxScaleChange, 1):
			h.Change = "new tensor"
		default:
			h.Change = change(s.MaxScaleChange)
		}
		v.History = append(v.History, h)
	}
	return v
}

// sensitivityView formats a sensitivity analysis in rank order.
func sensitivityView(s *ptq.SensitivityReport, ref float64) *sensView {
	s = sortedSensitivity(s)
	u := unitOf(s.Metric)
	v := &sensView{Metric: u.name, FP32: u.value(s.FP32), AllInt8: u.value(s.AllInt8), Threshold: u.diff(s.Threshold),
		Samples: s.Samples, Selection: s.Selection, Sensitive: strings.Join(s.Sensitive, ", ")}
	if s.Threshold == 0 {
		v.Threshold = "none"
	}
	for i, l := range s.Layers {
		v.Rows = append(v.Rows, sensRow{Rank: i + 1, Layer: l.Layer, Kind: l.Kind, OnlyInt8: u.value(l.OnlyThisInt8), OnlyFP32: u.value(l.OnlyThisFP32),
			Drop: u.diff(l.Drop), Recovery: u.diff(l.Recovery), SQNR: fmt.Sprintf("%.1f", l.SQNR), Level: sqnrLevel(l.SQNR, ref), Sensitive: l.Sensitive})
	}
	return v
}

// fallbackView formats an accuracy-aware fallback.
func fallbackView(f *ptq.FallbackReport) *fbView {
	u := unitOf(f.Metric)
	v := &fbView{Metric: u.name, FP32: u.value(f.FP32), AllInt8: u.value(f.AllInt8), Final: u.value(f.Final), Budget: u.diff(f.MaxDrop),
		Selection: f.Selection, Met: f.Met}
	within := func(m float64) bool { return f.FP32-m <= f.MaxDrop+budgetSlack }
	v.Steps = append(v.Steps, fbStep{Step: 0, Value: u.value(f.AllInt8), Drop: u.diff(f.FP32 - f.AllInt8), Within: within(f.AllInt8)})
	for i, s := range f.Reverted {
		v.Steps = append(v.Steps, fbStep{Step: i + 1, Layer: s.Layer, Value: u.value(s.Metric), Drop: u.diff(s.Drop), Within: within(s.Metric)})
	}
	return v
}

// sqnrData says which samples a report's SQNR figures were measured on,
// as " on 1,000 held-out samples", or "" when the report does not say.
func sqnrData(q *ptq.Report) string {
	if q.SQNRData == "" || q.SQNRSamples <= 0 {
		return ""
	}
	return fmt.Sprintf(" on %d %s samples", q.SQNRSamples, q.SQNRData)
}
