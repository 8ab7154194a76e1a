package scorecard

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colours of the margin chart, as pkg/report's palette.
var (
	colFail  = color.NRGBA{R: 0xC0, G: 0x39, B: 0x2B, A: 255}
	colTight = color.NRGBA{R: 0xE0, G: 0x9B, B: 0x2D, A: 255}
	colOK    = color.NRGBA{R: 0x3B, G: 0x6E, B: 0xA8, A: 255}
	colText  = color.NRGBA{R: 0x22, G: 0x22, B: 0x22, A: 255}
	colAxis  = color.NRGBA{R: 0x88, G: 0x8F, B: 0x97, A: 255}
)

// TightMargin is the relative margin under which a passing criterion is
// drawn and flagged as tight.
const TightMargin = 0.05

// chartLabel names a criterion on the margin chart.
func chartLabel(r Row) string {
	return shorten(r.Measured, 44) + " · " + shorten(r.Scenario, 30)
}

// shorten cuts s to at most n runes with an ellipsis.
func shorten(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}

// MarginChart draws the relative margins of rows (the Card's Tightest) as
// horizontal bars, the tightest at the top, as a standalone SVG document:
// failed criteria red, margins under TightMargin amber, others blue. It
// returns nil for no rows.
func MarginChart(rows []Row) (svg []byte, err error) {
	if len(rows) == 0 {
		return nil, nil
	}
	defer func() {
		if e := recover(); e != nil {
			svg, err = nil, fmt.Errorf("scorecard: drawing the margin chart: %v", e)
		}
	}()
	p := plot.New()
	p.BackgroundColor = color.White
	p.Title.Text = "Criteria nearest their thresholds (relative margin, %)"
	p.Title.TextStyle.Font = font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 11)
	p.Title.TextStyle.Color = colText
	p.X.Label.Text = "margin / |threshold − ideal|, %: the share of the allowed distance left (negative: failed)"
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 9)
		a.Tick.Label.Font = font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 8)
		a.LineStyle.Color = colAxis
		a.Tick.LineStyle.Color = colAxis
	}
	n := len(rows)
	labels := make([]string, n)
	series := [3]plotter.Values{make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)}
	lo, hi := 0.0, 0.0
	for i, r := range rows {
		y := n - 1 - i // tightest on top
		labels[y] = chartLabel(r)
		v := 100 * r.Relative
		s := 2
		switch {
		case !r.Pass:
			s = 0
		case r.Relative < TightMargin:
			s = 1
		}
		series[s][y] = v
		lo, hi = min(lo, v), max(hi, v)
	}
	for s, col := range []color.Color{colFail, colTight, colOK} {
		b, err := plotter.NewBarChart(series[s], vg.Points(11))
		if err != nil {
			return nil, fmt.Errorf("scorecard: margin chart: %w", err)
		}
		b.Horizontal = true
		b.Color = col
		b.LineStyle.Width = 0
		p.Add(b)
	}
	p.NominalY(labels...)
	p.X.Min, p.X.Max = lo-0.05*(hi-lo+1), hi+0.05*(hi-lo+1)
	p.Add(plotter.NewGrid())
	const width = vg.Length(720)
	height := vg.Length(70 + 17*n)
	cv := vgsvg.New(width, height)
	p.Draw(draw.New(cv))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("scorecard: writing the margin chart: %w", err)
	}
	// Liberation Sans measures the text; name the fonts a browser has.
	out := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif"))
	return out, nil
}
