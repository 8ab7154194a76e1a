package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Palette: sober, colour-blind safe, readable in grey when printed.
var (
	colInt8    = rgb(0x3B, 0x6E, 0xA8) // int8 results, the main series
	colFP32    = rgb(0xA3, 0xAB, 0xB5) // FP32 references
	colLow     = rgb(0xE0, 0x9B, 0x2D) // below a reference
	colVeryLow = rgb(0xC0, 0x39, 0x2B) // far below a reference
	colBudget  = rgb(0xB0, 0x3A, 0x2E) // budgets and thresholds
	colGood    = rgb(0x2E, 0x7D, 0x32) // converged, within budget
	colRef     = rgb(0x55, 0x5D, 0x66) // neutral reference lines
	colText    = rgb(0x22, 0x22, 0x22)
	colMuted   = rgb(0x66, 0x6E, 0x77)
	colAxis    = rgb(0x88, 0x8F, 0x97)
	colGrid    = rgb(0xE3, 0xE6, 0xEA)
)

func rgb(r, g, b uint8) color.Color { return color.NRGBA{R: r, G: g, B: b, A: 255} }

// Fonts: Liberation Sans is embedded in gonum/plot for measuring text and
// is metric-compatible with Arial and Helvetica, the fallbacks named in
// the SVG (see fontFallback).
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// Chart geometry, in points. 468 pt is 6.5 inches: a printed page's text
// width.
const (
	chartWidth = vg.Length(468)
	rowHeight  = vg.Length(22)
)

// textStyle returns a text style of the given font, size and colour.
func textStyle(f font.Font, size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(f, size), XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

// newPlot returns a plot with the report's fonts, thin grey axes and no
// title (figure draws it).
func newPlot() *plot.Plot {
	p := plot.New()
	p.BackgroundColor = nil
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9.5)
		a.Label.TextStyle.Color = colText
		a.Tick.Label.Font = font.From(sans, 8.5)
		a.Tick.Label.Color = colText
		a.LineStyle.Color = colAxis
		a.Tick.LineStyle.Color = colAxis
		a.Tick.Length = 4
	}
	p.Legend.TextStyle.Font = font.From(sans, 8.5)
	return p
}

// categoryAxis turns p's Y axis into named rows, the first name at the
// top: row i sits at y = len(names)-1-i. Half a row is left free above the
// first row for the labels of vertical reference lines, and below the last
// row when bottom is set.
func categoryAxis(p *plot.Plot, names []string, bottom bool) {
	ticks := make(plot.ConstantTicks, len(names))
	for i, n := range names {
		ticks[i] = plot.Tick{Value: rowY(i, len(names)), Label: n}
	}
	p.Y.Tick.Marker = ticks
	p.Y.Tick.Length = 0
	p.Y.LineStyle.Width = 0
	p.Y.Min, p.Y.Max = -0.6, float64(len(names))+0.1
	if bottom {
		p.Y.Min = -1.1
	}
	p.Y.Padding = 0
}

// rowY is the y coordinate of row i of n, the first row at the top.
func rowY(i, n int) float64 { return float64(n - 1 - i) }

// legendItem is one entry of a figure's legend row.
type legendItem struct {
	label string
	// Exactly one of fill (a swatch), line (a line sample) or glyph (a
	// marker) is set.
	fill  color.Color
	line  *draw.LineStyle
	glyph *draw.GlyphStyle
}

// figure is a plot with a title and a legend row above it.
type figure struct {
	name  string // file base name
	title string
	// note is a line of muted text under the title, such as the meaning
	// of an axis gonum/plot cannot label well (a log-scale Y axis).
	note   string
	legend []legendItem
	plot   *plot.Plot
	height vg.Length
}

// render draws the figure as a standalone SVG document.
func (f *figure) render() (out []byte, err error) {
	defer func() {
		// gonum/plot panics on some degenerate inputs; validate stops the
		// ones we know of, and this turns any other into an error.
		if e := recover(); e != nil {
			out, err = nil, fmt.Errorf("report: drawing chart %q: %v", f.name, e)
		}
	}()
	cv := vgsvg.New(chartWidth, f.height)
	dc := draw.New(cv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	const pad = 8
	top := dc.Max.Y - pad
	ts := textStyle(sansBold, 11, colText)
	ts.YAlign = draw.YTop
	dc.FillText(ts, vg.Point{X: pad, Y: top}, f.title)
	top -= ts.Height(f.title) + 6
	if f.note != "" {
		ns := textStyle(sans, 8.5, colMuted)
		ns.YAlign = draw.YTop
		dc.FillText(ns, vg.Point{X: pad, Y: top}, f.note)
		top -= ns.Height(f.note) + 5
	}
	if len(f.legend) > 0 {
		top = f.drawLegend(dc, top)
	}
	area := draw.Crop(dc, 2, -pad, pad, top-dc.Max.Y)
	f.plot.Draw(area)
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: writing chart %q: %w", f.name, err)
	}
	return fontFallback(buf.Bytes()), nil
}

// drawLegend lays the legend out in rows under the title and returns the
// y below it.
func (f *figure) drawLegend(dc draw.Canvas, top vg.Length) vg.Length {
	ts := textStyle(sans, 8.5, colText)
	const sw, gap, lineH = 14, 14, 13
	x := vg.Length(8)
	y := top - lineH/2
	for _, it := range f.legend {
		w := sw + 4 + ts.Width(it.label)
		if x > 8 && x+w > dc.Max.X-8 {
			x, y = 8, y-lineH
		}
		switch {
		case it.fill != nil:
			dc.FillPolygon(it.fill, []vg.Point{{X: x, Y: y - 4}, {X: x + sw, Y: y - 4}, {X: x + sw, Y: y + 4}, {X: x, Y: y + 4}})
		case it.line != nil:
			dc.StrokeLine2(*it.line, x, y, x+sw, y)
		case it.glyph != nil:
			dc.DrawGlyphNoClip(*it.glyph, vg.Point{X: x + sw/2, Y: y})
		}
		dc.FillText(ts, vg.Point{X: x + sw + 4, Y: y}, it.label)
		x += w + gap
	}
	return y - lineH/2 - 4
}

// fontFallback names fonts a browser has when Liberation Sans is missing;
// Arial and Helvetica share its metrics, so measured text still fits.
func fontFallback(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// inlineSVG prepares a standalone SVG document for inclusion in HTML: no
// XML prolog or generator comment, scalable, and labelled for screen
// readers.
func inlineSVG(svg []byte, label string) string {
	s := string(svg)
	if i := strings.Index(s, "<svg "); i >= 0 {
		s = s[i:]
	}
	return strings.Replace(s, "<svg ", `<svg role="img" aria-label="`+htmlAttr(label)+`" `, 1)
}

// htmlAttr escapes s for a double-quoted attribute.
func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// rect is a filled rectangle in data coordinates.
type rect struct {
	x0, x1, y0, y1 float64
	fill           color.Color
}

// note is a text in data coordinates, shifted by (dx, dy) points. With
// right set, x is ignored and the text ends at the data area's right edge.
type note struct {
	x, y   float64
	dx, dy vg.Length
	text   string
	style  text.Style
	right  bool
}

// refLine is a straight line across the whole data area at one value of
// one axis, with an optional label at its top (vertical lines) or above
// its right end (horizontal lines); low moves the label to the bottom, or
// under the line, and left puts a vertical line's label on its left.
type refLine struct {
	vertical bool
	v        float64
	style    draw.LineStyle
	label    string
	low      bool
	left     bool
}

// segment is a line between two points in data coordinates.
type segment struct {
	x0, y0, x1, y1 float64
	style          draw.LineStyle
}

// marks is a plotter of rectangles, segments, reference lines and notes,
// drawn in that order. Rectangles and segments are clipped to the data
// area; notes are not.
type marks struct {
	rects    []rect
	segments []segment
	lines    []refLine
	glyphs   []glyphAt
	notes    []note
}

// glyphAt is a marker in data coordinates.
type glyphAt struct {
	x, y  float64
	style draw.GlyphStyle
}

// Plot implements plot.Plotter.
func (m *marks) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for _, r := range m.rects {
		x0, x1, y0, y1 := tx(r.x0), tx(r.x1), ty(r.y0), ty(r.y1)
		pts := c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		if len(pts) > 0 {
			c.FillPolygon(r.fill, pts)
		}
	}
	for _, s := range m.segments {
		c.StrokeLines(s.style, c.ClipLinesXY([]vg.Point{{X: tx(s.x0), Y: ty(s.y0)}, {X: tx(s.x1), Y: ty(s.y1)}})...)
	}
	ls := textStyle(sans, 8, colMuted)
	for _, l := range m.lines {
		if l.vertical {
			x := tx(l.v)
			if x < c.Min.X-0.5 || x > c.Max.X+0.5 {
				continue
			}
			c.StrokeLine2(l.style, x, c.Min.Y, x, c.Max.Y)
			if l.label != "" {
				s := ls
				s.Color = l.style.Color
				s.YAlign = draw.YTop
				y := c.Max.Y
				if l.low {
					s.YAlign, y = draw.YBottom, c.Min.Y+1
				}
				if l.left || x > c.Min.X+(c.Max.X-c.Min.X)*0.7 {
					s.XAlign = draw.XRight
					c.FillText(s, vg.Point{X: x - 3, Y: y}, l.label)
				} else {
					c.FillText(s, vg.Point{X: x + 3, Y: y}, l.label)
				}
			}
			continue
		}
		y := ty(l.v)
		if y < c.Min.Y-0.5 || y > c.Max.Y+0.5 {
			continue
		}
		c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
		if l.label != "" {
			s := ls
			s.Color = l.style.Color
			s.XAlign = draw.XRight
			s.YAlign = draw.YBottom
			if l.low {
				s.YAlign, y = draw.YTop, y-4
			}
			c.FillText(s, vg.Point{X: c.Max.X - 2, Y: y + 2}, l.label)
		}
	}
	for _, g := range m.glyphs {
		c.DrawGlyph(g.style, vg.Point{X: tx(g.x), Y: ty(g.y)})
	}
	for _, n := range m.notes {
		pt := vg.Point{X: c.Max.X - 2, Y: ty(n.y) + n.dy}
		if n.right {
			n.style.XAlign = draw.XRight
		} else {
			pt.X = tx(n.x) + n.dx
		}
		c.FillText(n.style, pt, n.text)
	}
}

// dashed returns a dashed line style.
func dashed(c color.Color, width vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: width, Dashes: []vg.Length{4, 3}}
}

// solid returns a solid line style.
func solid(c color.Color, width vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: width}
}

// valueGrid draws light grid lines at the major ticks of the X axis
// (vertical lines) or the Y axis.
type valueGrid struct{ vertical bool }

// Plot implements plot.Plotter.
func (g valueGrid) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	st := solid(colGrid, 0.5)
	if g.vertical {
		for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
			if x := tx(t.Value); !t.IsMinor() && x >= c.Min.X && x <= c.Max.X {
				c.StrokeLine2(st, x, c.Min.Y, x, c.Max.Y)
			}
		}
		return
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if y := ty(t.Value); !t.IsMinor() && y >= c.Min.Y && y <= c.Max.Y {
			c.StrokeLine2(st, c.Min.X, y, c.Max.X, y)
		}
	}
}

// logTicks marks a logarithmic axis: labels at 1, 2 and 5 times powers of
// ten when the axis spans at most two decades, else at powers of ten only,
// with unlabelled minor ticks.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || !finite(hi) {
		return nil
	}
	e0, e1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	labelled := map[int]bool{1: true}
	switch decades := math.Log10(hi / lo); {
	case decades < 0.7:
		for m := 2; m <= 9; m++ {
			labelled[m] = true
		}
	case decades < 1.2:
		labelled[2], labelled[3], labelled[5] = true, true, true
	case decades < 2.1:
		labelled[2], labelled[5] = true, true
	}
	// Over many decades, label every step-th power of ten only.
	step := max(1, int(math.Ceil(float64(e1-e0+1)/9)))
	var ticks []plot.Tick
	for e := e0; e <= e1; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow10(e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] && (m > 1 || e%step == 0) {
				t.Label = logLabel(m, e)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// logLabel formats m×10^e compactly: 0.002, 50, 1e-05 for far exponents.
func logLabel(m, e int) string {
	switch {
	case e < -4 || e > 4:
		return fmt.Sprintf("%de%d", m, e)
	case e < 0:
		return "0." + strings.Repeat("0", -e-1) + strconv.Itoa(m)
	}
	return strconv.Itoa(m) + strings.Repeat("0", e)
}

// intTicks marks an integer axis with at most about ten labelled ticks.
type intTicks struct{}

// Ticks implements plot.Ticker.
func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	if !finite(lo) || !finite(hi) || hi < lo {
		return nil
	}
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000} {
		step = s
		if (hi-lo)/float64(s) <= 10 {
			break
		}
	}
	var ticks []plot.Tick
	for v := int(math.Ceil(lo/float64(step))) * step; float64(v) <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	return ticks
}

// niceTicks marks a linear axis with about five labelled ticks at 1, 2 or
// 5 times a power of ten, formatted without spurious digits, and none above
// upTo when capped (no 102% on an accuracy axis).
type niceTicks struct {
	capped bool
	upTo   float64
}

// Ticks implements plot.Ticker.
func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !finite(lo) || !finite(hi) || !(hi > lo) {
		return nil
	}
	raw := (hi - lo) / 5
	p := math.Pow10(int(math.Floor(math.Log10(raw))))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * p
		if step >= raw {
			break
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0
		}
		if t.capped && v > t.upTo {
			break
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ticks
}
