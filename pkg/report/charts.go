package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// Chart names: each chart's file is Name + ".svg" in WriteAll's folder.
const (
	ChartAccuracy     = "accuracy"
	ChartLayerSQNR    = "layer_sqnr"
	ChartWeightScales = "weight_scales"
	ChartCalibration  = "calibration"
	ChartSensitivity  = "sensitivity"
	ChartFallback     = "fallback"
)

// Chart is one chart of a report, as a standalone SVG document.
type Chart struct {
	// Name is one of the Chart* constants, the file name without ".svg".
	Name string
	// Title is the title drawn at the top of the chart.
	Title string
	// SVG is the document, fonts referenced by name (Liberation Sans,
	// then Arial, Helvetica, sans-serif), not embedded.
	SVG []byte
}

// File returns the chart's file name.
func (c Chart) File() string { return c.Name + ".svg" }

// Charts draws every chart the run has data for, in report order:
// accuracy; per-layer SQNR (when a layer has one); weight scales (when a
// layer has int8 weights); calibration convergence (when calibration saw
// at least two batches); sensitivity and fallback (when present).
func Charts(r *Run) ([]Chart, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return charts(r)
}

// charts draws the charts of a validated run.
func charts(r *Run) ([]Chart, error) {
	var out []Chart
	for _, build := range []func(*Run) *figure{accuracyFigure, sqnrFigure, weightScalesFigure, calibrationFigure, sensitivityFigure, fallbackFigure} {
		f := build(r)
		if f == nil {
			continue
		}
		svg, err := f.render()
		if err != nil {
			return nil, err
		}
		out = append(out, Chart{Name: f.name, Title: f.title, SVG: svg})
	}
	return out, nil
}

// accuracyFigure compares FP32 and int8 accuracy against the budget.
func accuracyFigure(r *Run) *figure {
	a, b := 100*r.FP32Accuracy, 100*r.Int8Accuracy
	budget := a - 100*r.maxDrop()
	lo, hi := min(a, b, budget), max(a, b)
	pad := max((hi-lo)*0.6, 1)
	yMin := max(0, math.Floor(lo-pad))
	yMax := min(100, math.Ceil(hi+pad*0.5))
	if yMax-hi < 0.05*(yMax-yMin) && hi < 100 {
		yMax = min(100, hi+0.1*(yMax-yMin))
	}
	p := newPlot()
	p.Y.Min, p.Y.Max = yMin, yMax
	p.Y.Tick.Marker = niceTicks{capped: true, upTo: 100}
	p.Y.Label.Text = "top-1 accuracy (%)"
	if yMin > 0 {
		p.Y.Label.Text = fmt.Sprintf("top-1 accuracy (%%), axis from %g", yMin)
	}
	p.X.Min, p.X.Max = -0.6, 2.4
	p.X.Tick.Marker = plot.ConstantTicks{
		{Value: 0, Label: "FP32\n" + percent(r.FP32Accuracy)},
		{Value: 1, Label: "INT8\n" + percent(r.Int8Accuracy)},
	}
	p.X.Tick.Length = 0
	p.X.Tick.Label.Font.Size = 9.5
	m := &marks{}
	m.rects = []rect{{-0.28, 0.28, yMin, a, colFP32}, {0.72, 1.28, yMin, b, colInt8}}
	over := !r.withinBudget()
	dropCol := colText
	if over {
		dropCol = colVeryLow
	}
	m.segments = []segment{
		{0.28, a, 1.62, a, draw.LineStyle{Color: colRef, Width: 0.6, Dashes: []vg.Length{1, 2}}},
		{1.5, a, 1.5, b, solid(dropCol, 1.2)},
		{1.44, b, 1.56, b, solid(dropCol, 1.2)},
	}
	m.lines = []refLine{{v: budget, style: dashed(colBudget, 1), low: true, label: fmt.Sprintf("budget: FP32 − %s = %.2f%%", points(r.maxDrop()), budget)}}
	word := "drop"
	if r.drop() < 0 {
		word = "gain"
	}
	ns := textStyle(sansBold, 9, dropCol)
	ns.YAlign = draw.YTop
	m.notes = []note{{x: 1.5, y: max(a, b), dx: 6, dy: -3, text: fmt.Sprintf("%s %s", word, points(math.Abs(r.drop()))), style: ns}}
	p.Add(valueGrid{}, m)
	verdict := "within"
	if over {
		verdict = "over"
	}
	return &figure{name: ChartAccuracy, plot: p, height: 240,
		title: fmt.Sprintf("Accuracy: FP32 %s, INT8 %s: %s %s, %s the %s budget", percent(r.FP32Accuracy), percent(r.Int8Accuracy),
			word, points(math.Abs(r.drop())), verdict, points(r.maxDrop()))}
}

// layerLabel names a layer on a category axis.
func layerLabel(name, kind string) string {
	if kind == "" {
		return name
	}
	return name + " (" + kind + ")"
}

// sqnrFigure draws the output SQNR of every quantized layer, in model
// order, against the reference.
func sqnrFigure(r *Run) *figure {
	var names []string
	var vals []float64
	for _, l := range r.Quant.Layers {
		if v, ok := sqnrOf(l); ok {
			names = append(names, layerLabel(l.Name, l.Kind))
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	ref := r.sqnrRef()
	top := min(slices.Max(vals), 120)
	xMax := max(ref*1.3, top*1.2)
	p := newPlot()
	categoryAxis(p, names, false)
	p.X.Min, p.X.Max = 0, xMax
	p.X.Tick.Marker = niceTicks{}
	p.X.Label.Text = "output SQNR against FP32 (dB), higher is better"
	m := &marks{}
	ls := textStyle(sans, 8, colText)
	for i, v := range vals {
		y := rowY(i, len(vals))
		c := colInt8
		switch sqnrLevel(v, ref) {
		case "low":
			c = colLow
		case "very-low":
			c = colVeryLow
		}
		end := min(v, xMax)
		m.rects = append(m.rects, rect{0, end, y - 0.32, y + 0.32, c})
		if end > 0.85*xMax {
			// No room right of the bar: white text inside its end.
			in := ls
			in.Color, in.XAlign = color.White, draw.XRight
			m.notes = append(m.notes, note{x: end, y: y, dx: -3, text: db(v), style: in})
			continue
		}
		m.notes = append(m.notes, note{x: end, y: y, dx: 3, text: db(v), style: ls})
	}
	m.lines = []refLine{{vertical: true, v: ref, style: dashed(colBudget, 1), label: dbShort(ref) + " reference"}}
	p.Add(valueGrid{vertical: true}, m)
	legend := []legendItem{{label: "at or above " + dbShort(ref), fill: colInt8}}
	if slices.ContainsFunc(vals, func(v float64) bool { return sqnrLevel(v, ref) == "low" }) {
		legend = append(legend, legendItem{label: "below " + dbShort(ref), fill: colLow})
	}
	if slices.ContainsFunc(vals, func(v float64) bool { return sqnrLevel(v, ref) == "very-low" }) {
		legend = append(legend, legendItem{label: "below " + dbShort(ref-10), fill: colVeryLow})
	}
	return &figure{name: ChartLayerSQNR, plot: p, height: 92 + rowHeight*vg.Length(len(vals)),
		title: "Output SQNR per quantized layer, in model order", legend: legend}
}

// weightScalesFigure draws each layer's weight scales as a range from the
// smallest to the largest channel scale, with the mean, on a log axis.
func weightScalesFigure(r *Run) *figure {
	var ls []ptq.LayerReport
	for _, l := range r.Quant.Layers {
		if l.Weights != nil {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = layerLabel(l.Name, l.Kind)
		lo, hi = min(lo, float64(l.Weights.ScaleMin)), max(hi, float64(l.Weights.ScaleMax))
	}
	llo, lhi := math.Log10(lo), math.Log10(hi)
	span := max(lhi-llo, 0.6)
	p := newPlot()
	categoryAxis(p, names, false)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	// The data take the left 60% of the axis, the labels column the rest.
	lmin, ldata := llo-0.15*span, lhi+0.1*span
	p.X.Min, p.X.Max = math.Pow(10, lmin), math.Pow(10, ldata+(ldata-lmin)*2/3)
	m := &marks{}
	lab := textStyle(sans, 8, colText)
	tensorGlyph := draw.GlyphStyle{Color: colInt8, Radius: 3.5, Shape: draw.PyramidGlyph{}}
	perTensor, ranges := false, false
	for i, l := range ls {
		w := l.Weights
		y := rowY(i, len(ls))
		mn, mx, mean := float64(w.ScaleMin), float64(w.ScaleMax), float64(w.ScaleMean)
		if w.Channels <= 1 || mn == mx {
			perTensor = true
			m.glyphs = append(m.glyphs, glyphAt{mean, y, tensorGlyph})
			m.notes = append(m.notes, note{y: y, right: true, text: fmt.Sprintf("one scale: %s", scale(w.ScaleMax)), style: lab})
			continue
		}
		ranges = true
		m.rects = append(m.rects, rect{mn, mx, y - 0.25, y + 0.25, colInt8})
		m.segments = append(m.segments, segment{mean, y - 0.36, mean, y + 0.36, solid(colText, 1.4)})
		m.notes = append(m.notes, note{y: y, right: true, style: lab,
			text: fmt.Sprintf("%d channels, max/min %.3g", w.Channels, mx/mn)})
	}
	p.Add(valueGrid{vertical: true}, m)
	meanLine := solid(colText, 1.4)
	var legend []legendItem
	if ranges {
		legend = append(legend, legendItem{label: "range over output channels", fill: colInt8}, legendItem{label: "mean", line: &meanLine})
	}
	if perTensor {
		legend = append(legend, legendItem{label: "per-tensor (one scale)", glyph: &tensorGlyph})
	}
	return &figure{name: ChartWeightScales, plot: p, height: 92 + rowHeight*vg.Length(len(ls)),
		title: "Weight scales per layer: smallest to largest channel scale", legend: legend,
		// gonum/plot places a log axis's label box at the arithmetic mean of
		// the range and pads the plot for it; a note avoids that.
		note: "Weight scale: the real value of one int8 step (log axis)."}
}

// colConverged shades the batches after which calibration is converged:
// colGood, light.
var colConverged = color.NRGBA{R: 0x2E, G: 0x7D, B: 0x32, A: 0x22}

// calibrationFigure draws the largest relative scale change of each batch
// after the first, on a log axis, with the tolerance, the batches after
// which calibration was converged (shaded), and the batches where
// convergence was first reached, lost and regained.
func calibrationFigure(r *Run) *figure {
	c := r.Quant.Calibration
	if c == nil || len(c.History) < 2 {
		return nil
	}
	steps := c.History[1:]
	minPos, maxFin := math.Inf(1), 0.0
	for _, s := range steps {
		if v := s.MaxScaleChange; v > 0 && finite(v) {
			minPos, maxFin = min(minPos, v), max(maxFin, v)
		}
	}
	tol := c.Tolerance
	if tol > 0 {
		minPos, maxFin = min(minPos, tol), max(maxFin, tol)
	}
	if math.IsInf(minPos, 1) { // every change was 0 and there is no tolerance
		minPos, maxFin = 1e-3, 1e-2
	}
	floor := math.Pow(10, math.Floor(math.Log10(minPos)-0.3))
	ceil := math.Pow(10, math.Ceil(math.Log10(maxFin)+0.15))
	p := newPlot()
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Y.Min, p.Y.Max = floor, ceil
	first, last := float64(steps[0].Batch), float64(steps[len(steps)-1].Batch)
	p.X.Min, p.X.Max = first-0.5, max(last+0.5, first+1.5)
	p.X.Tick.Marker = intTicks{}
	p.X.Label.Text = fmt.Sprintf("calibration batch index (%s, batches of about %d samples)", c.Method, steps[0].Samples-c.History[0].Samples)
	pts := make(plotter.XYs, len(steps))
	m := &marks{}
	moved := draw.GlyphStyle{Color: colInt8, Radius: 2.6, Shape: draw.CircleGlyph{}}
	still := draw.GlyphStyle{Color: colInt8, Radius: 2.6, Shape: draw.RingGlyph{}}
	newT := draw.GlyphStyle{Color: colLow, Radius: 3.2, Shape: draw.PyramidGlyph{}}
	var sawZero, sawInf bool
	for i, s := range steps {
		v, g := s.MaxScaleChange, moved
		switch {
		case v == 0:
			v, g, sawZero = floor, still, true
		case math.IsInf(v, 1):
			v, g, sawInf = ceil, newT, true
		}
		pts[i] = plotter.XY{X: float64(s.Batch), Y: v}
		m.glyphs = append(m.glyphs, glyphAt{pts[i].X, pts[i].Y, g})
	}
	line, _ := plotter.NewLine(pts)
	line.LineStyle = solid(colFP32, 1)
	if tol > 0 {
		m.lines = append(m.lines, refLine{v: tol, style: dashed(colBudget, 1), label: "tolerance " + tolerance(tol)})
	}
	// Batches after which the rule holds are shaded; each change of the
	// rule gets a vertical line, labelled while there are few enough for
	// the labels to fit.
	conv, lost, regained := convergenceEvents(c.History)
	shade := &marks{}
	for _, s := range steps {
		if s.Converged {
			x := float64(s.Batch)
			shade.rects = append(shade.rects, rect{x0: x - 0.5, x1: x + 0.5, y0: floor, y1: ceil, fill: colConverged})
		}
	}
	labels := 1+len(lost)+len(regained) <= 4
	event := func(b int, style draw.LineStyle, label string, low bool) {
		if !labels {
			label = ""
		}
		m.lines = append(m.lines, refLine{vertical: true, v: float64(b), style: style, label: label, low: low})
	}
	if conv >= 0 {
		event(conv, dashed(colGood, 1.2), fmt.Sprintf("converged at batch %d (patience %d)", conv, c.Patience), false)
	}
	for _, b := range lost {
		event(b, dashed(colVeryLow, 1.2), fmt.Sprintf("lost at batch %d", b), true)
	}
	for _, b := range regained {
		event(b, dashed(colGood, 1.2), fmt.Sprintf("regained at batch %d", b), false)
	}
	p.Add(valueGrid{}, shade, line, m)
	tolLine := dashed(colBudget, 1)
	legend := []legendItem{{label: "scales moved", glyph: &moved}}
	if sawZero {
		legend = append(legend, legendItem{label: "no scale moved (drawn at the bottom)", glyph: &still})
	}
	if sawInf {
		legend = append(legend, legendItem{label: "a tensor got its first scale (drawn at the top)", glyph: &newT})
	}
	if tol > 0 {
		legend = append(legend, legendItem{label: "tolerance", line: &tolLine})
	}
	if len(shade.rects) > 0 {
		legend = append(legend, legendItem{label: "converged", fill: colConverged})
	}
	if len(lost) > 0 {
		lostLine := dashed(colVeryLow, 1.2)
		legend = append(legend, legendItem{label: "convergence lost", line: &lostLine})
	}
	title := "Calibration convergence: " + convergedShort(c)
	// The Y axis is labelled by the note: see weightScalesFigure.
	return &figure{name: ChartCalibration, plot: p, height: 270, title: title, legend: legend,
		note: "Largest relative change of any activation scale against the previous batch (log axis)."}
}

// sensitivityFigure draws both views of each layer's sensitivity, most
// sensitive layer at the top.
func sensitivityFigure(r *Run) *figure {
	s := r.Sensitivity
	if s == nil || len(s.Layers) == 0 {
		return nil
	}
	s = sortedSensitivity(s)
	u := unitOf(s.Metric)
	names := make([]string, len(s.Layers))
	lo, hi := 0.0, u.mul*s.Threshold
	for i, l := range s.Layers {
		names[i] = layerLabel(l.Layer, l.Kind)
		if l.Sensitive {
			names[i] += " *"
		}
		lo = min(lo, u.mul*l.Drop, u.mul*l.Recovery)
		hi = max(hi, u.mul*l.Drop, u.mul*l.Recovery)
	}
	if hi-lo == 0 {
		hi = 1
	}
	p := newPlot()
	categoryAxis(p, names, false)
	p.X.Min, p.X.Max = lo-0.05*(hi-lo), hi+0.22*(hi-lo)
	if lo == 0 {
		p.X.Min = 0
	}
	p.X.Tick.Marker = niceTicks{}
	p.X.Label.Text = fmt.Sprintf("%s change (%s), larger is more sensitive", u.name, u.delta)
	m := &marks{}
	ls := textStyle(sans, 7.5, colText)
	for i, l := range s.Layers {
		y := rowY(i, len(s.Layers))
		d, rc := u.mul*l.Drop, u.mul*l.Recovery
		m.rects = append(m.rects, rect{min(0, d), max(0, d), y + 0.02, y + 0.36, colLow}, rect{min(0, rc), max(0, rc), y - 0.36, y - 0.02, colInt8})
		m.notes = append(m.notes, note{x: max(0, d), y: y + 0.19, dx: 3, text: u.diff(l.Drop), style: ls},
			note{x: max(0, rc), y: y - 0.19, dx: 3, text: u.diff(l.Recovery), style: ls})
	}
	if s.Threshold > 0 {
		m.lines = append(m.lines, refLine{vertical: true, v: u.mul * s.Threshold, style: dashed(colBudget, 1), label: "threshold " + u.diff(s.Threshold)})
	}
	m.lines = append(m.lines, refLine{vertical: true, v: 0, style: solid(colAxis, 0.6)})
	p.Add(valueGrid{vertical: true}, m)
	title := fmt.Sprintf("Sensitivity by layer, most sensitive first (%s: FP32 %s, all int8 %s)", u.name, u.value(s.FP32), u.value(s.AllInt8))
	thr := dashed(colBudget, 1)
	legend := []legendItem{
		{label: "drop when only this layer is int8", fill: colLow},
		{label: "recovery when only this layer stays FP32", fill: colInt8},
	}
	if s.Threshold > 0 {
		legend = append(legend, legendItem{label: "threshold (* marks sensitive layers)", line: &thr})
	}
	return &figure{name: ChartSensitivity, plot: p, height: 96 + 1.5*rowHeight*vg.Length(len(s.Layers)), title: title, legend: legend}
}

// sortedSensitivity returns a copy of s in rank order (ptq's Sort), so the
// caller's report is never reordered.
func sortedSensitivity(s *ptq.SensitivityReport) *ptq.SensitivityReport {
	c := *s
	c.Layers = slices.Clone(s.Layers)
	c.Sensitive = slices.Clone(s.Sensitive)
	c.Sort()
	return &c
}

// fallbackFigure draws the metric after each layer reverted to FP32,
// starting from the all-int8 model, against FP32 and the budget.
func fallbackFigure(r *Run) *figure {
	f := r.Fallback
	if f == nil {
		return nil
	}
	u := unitOf(f.Metric)
	names := []string{"all layers int8"}
	vals := []float64{f.AllInt8}
	for _, s := range f.Reverted {
		names = append(names, "then "+s.Layer+" → FP32")
		vals = append(vals, s.Metric)
	}
	budget := f.FP32 - f.MaxDrop
	lo, hi := min(slices.Min(vals), budget)*u.mul, max(slices.Max(vals), f.FP32)*u.mul
	pad := max((hi-lo)*0.15, 0.5)
	p := newPlot()
	categoryAxis(p, names, true)
	// The right 40% of the axis is free for the labels column.
	p.X.Min = lo - pad
	if u.mul == 100 {
		p.X.Min = max(0, p.X.Min)
	}
	p.X.Max = hi + pad + (hi+pad-p.X.Min)*0.65
	p.X.Tick.Marker = niceTicks{capped: u.mul == 100, upTo: 100}
	p.X.Label.Text = u.axis
	pts := make(plotter.XYs, len(vals))
	m := &marks{}
	ok := draw.GlyphStyle{Color: colGood, Radius: 3.5, Shape: draw.CircleGlyph{}}
	sawOK, sawBad := false, false
	bad := draw.GlyphStyle{Color: colLow, Radius: 3.5, Shape: draw.CircleGlyph{}}
	ls := textStyle(sans, 8, colText)
	for i, v := range vals {
		y := rowY(i, len(vals))
		pts[i] = plotter.XY{X: u.mul * v, Y: y}
		g := bad
		if f.FP32-v <= f.MaxDrop+budgetSlack {
			g, sawOK = ok, true
		} else {
			sawBad = true
		}
		m.glyphs = append(m.glyphs, glyphAt{pts[i].X, y, g})
		m.notes = append(m.notes, note{y: y, right: true, text: fmt.Sprintf("%s, drop %s", u.value(v), u.diff(f.FP32-v)), style: ls})
	}
	line, _ := plotter.NewLine(pts)
	line.LineStyle = solid(colFP32, 1)
	m.lines = []refLine{
		{vertical: true, v: u.mul * f.FP32, style: solid(colRef, 1), label: "FP32 " + u.value(f.FP32), low: true},
		{vertical: true, v: u.mul * budget, style: dashed(colBudget, 1), label: "budget " + u.value(budget), left: true},
	}
	p.Add(valueGrid{vertical: true}, line, m)
	met := "budget met"
	if !f.Met {
		met = "budget NOT met"
	}
	var legend []legendItem
	if sawOK {
		legend = append(legend, legendItem{label: "within budget", glyph: &ok})
	}
	if sawBad {
		legend = append(legend, legendItem{label: "over budget", glyph: &bad})
	}
	reverted := "no layer reverted to FP32"
	switch n := len(f.Reverted); {
	case n == 1:
		reverted = "1 layer reverted to FP32"
	case n > 1:
		reverted = fmt.Sprintf("%d layers reverted to FP32", n)
	}
	return &figure{name: ChartFallback, plot: p, height: 96 + rowHeight*vg.Length(len(vals)),
		title: fmt.Sprintf("Accuracy-aware fallback: %s, %s", reverted, met), legend: legend}
}
