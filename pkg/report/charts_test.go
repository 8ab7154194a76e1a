package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// svgTexts parses a standalone SVG document strictly and returns the
// root element's name and every <text> content.
func svgTexts(t *testing.T, svg []byte) (root string, texts []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	in := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return root, texts
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			in = e.Name.Local == "text"
		case xml.CharData:
			if in {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			in = false
		}
	}
}

func TestChartsContent(t *testing.T) {
	r := testRun(t)
	cs, err := Charts(r)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Chart{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	var sqnrLayers, weightLayers []string
	for _, l := range r.Quant.Layers {
		if l.SQNR != nil {
			sqnrLayers = append(sqnrLayers, l.Name+" ("+l.Kind+")")
		}
		if l.Weights != nil {
			weightLayers = append(weightLayers, l.Name+" ("+l.Kind+")")
		}
	}
	var ranked []string
	for _, l := range r.Sensitivity.Layers {
		row := l.Layer + " (" + l.Kind + ")"
		if l.Sensitive {
			row += " *"
		}
		ranked = append(ranked, row)
	}
	fallbackRows := []string{"all layers int8"}
	for _, s := range r.Fallback.Reverted {
		fallbackRows = append(fallbackRows, "then "+s.Layer+" → FP32")
	}
	tests := []struct {
		chart string
		// want are texts the chart must draw; rows must appear in this
		// order, top to bottom.
		want, rows []string
	}{
		{ChartAccuracy, []string{"drop " + points(r.drop()), "budget: FP32 − 1 pt = 99.00%"}, nil},
		{ChartLayerSQNR, []string{"30 dB reference"}, sqnrLayers},
		{ChartWeightScales, []string{"range over output channels", "mean"}, weightLayers},
		{ChartCalibration, []string{"tolerance 1%", "tolerance"}, nil},
		{ChartSensitivity, []string{"threshold 1 pt", "drop when only this layer is int8", "recovery when only this layer stays FP32"}, ranked},
		{ChartFallback, []string{"FP32 100.00%", "budget 99.00%", "within budget", "over budget"}, fallbackRows},
	}
	for _, tc := range tests {
		t.Run(tc.chart, func(t *testing.T) {
			c, ok := byName[tc.chart]
			if !ok {
				t.Fatalf("no chart %q", tc.chart)
			}
			root, texts := svgTexts(t, c.SVG)
			if root != "svg" {
				t.Fatalf("root element %q, want svg", root)
			}
			if !slices.Contains(texts, c.Title) {
				t.Errorf("title %q not drawn", c.Title)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, htmlEscape(w)) }) {
					t.Errorf("no text %q in %q", w, texts)
				}
			}
			// Rows are drawn as Y tick labels; the SVG y coordinate grows
			// downwards, so the first row has the smallest y.
			last := -math.MaxFloat64
			for _, row := range tc.rows {
				y, ok := textY(c.SVG, htmlEscape(row))
				if !ok {
					t.Errorf("row %q not drawn", row)
					continue
				}
				if y <= last {
					t.Errorf("row %q drawn above the row before it", row)
				}
				last = y
			}
			if !bytes.Contains(c.SVG, []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")) {
				t.Error("no font fallback")
			}
		})
	}
}

// htmlEscape escapes like vgsvg does.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

// textY returns the on-screen y of the <text> element whose content is
// exactly s (vgsvg writes y negated under a scale(1, -1) transform).
func textY(svg []byte, s string) (float64, bool) {
	for _, el := range strings.Split(string(svg), "<text ")[1:] {
		end := strings.Index(el, "</text>")
		if end < 0 || !strings.HasSuffix(el[:end], ">"+s) {
			continue
		}
		var x, y float64
		if _, err := fmt.Sscanf(el, `x="%g" y="%g"`, &x, &y); err == nil {
			return y, true
		}
	}
	return 0, false
}

func TestAccuracyChartZoom(t *testing.T) {
	tests := []struct {
		name             string
		fp32, int8       float64
		wantMin, wantMax float64
	}{
		// The axis starts below the lower of the int8 accuracy and the
		// budget line and never passes 100%.
		{"small drop near 100%", 0.991, 0.989, 97, 100},
		{"large drop", 0.60, 0.40, 28, 66},
		{"gain", 0.80, 0.81, 77, 82},
		{"near zero", 0.02, 0.01, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(t)
			r.FP32Accuracy, r.Int8Accuracy = tc.fp32, tc.int8
			f := accuracyFigure(r)
			const tol = 1e-9
			if math.Abs(f.plot.Y.Min-tc.wantMin) > tol || math.Abs(f.plot.Y.Max-tc.wantMax) > tol {
				t.Errorf("axis [%v, %v], want [%v, %v]", f.plot.Y.Min, f.plot.Y.Max, tc.wantMin, tc.wantMax)
			}
			if lo := 100 * min(tc.int8, tc.fp32-r.maxDrop()); f.plot.Y.Min > lo {
				t.Errorf("axis starts at %v, above the lowest value %v", f.plot.Y.Min, lo)
			}
			if _, err := f.render(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCalibrationChartEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		changes []float64 // MaxScaleChange of batches 1..n
		tol     float64
		legend  []string
	}{
		{"every batch moved", []float64{0.5, 0.05, 0.005}, 0.01, []string{"scales moved", "tolerance"}},
		{"no scale moved", []float64{0, 0, 0}, 0.01, []string{"scales moved", "no scale moved (drawn at the bottom)", "tolerance"}},
		{"a new tensor", []float64{math.Inf(1), 0.2, 0}, 0.01,
			[]string{"scales moved", "no scale moved (drawn at the bottom)", "a tensor got its first scale (drawn at the top)", "tolerance"}},
		{"zero tolerance", []float64{0, 0}, 0, []string{"scales moved", "no scale moved (drawn at the bottom)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(t)
			h := []ptq.CalibrationStep{{Batch: 0, Samples: 8}}
			for i, c := range tc.changes {
				h = append(h, ptq.CalibrationStep{Batch: i + 1, Samples: 8 * (i + 2), MaxScaleChange: c})
			}
			r.Quant.Calibration.History, r.Quant.Calibration.Tolerance = h, tc.tol
			f := calibrationFigure(r)
			var got []string
			for _, l := range f.legend {
				got = append(got, l.label)
			}
			if !slices.Equal(got, tc.legend) {
				t.Errorf("legend %q, want %q", got, tc.legend)
			}
			if !(f.plot.Y.Min > 0 && f.plot.Y.Max > f.plot.Y.Min) {
				t.Errorf("log axis [%v, %v]", f.plot.Y.Min, f.plot.Y.Max)
			}
			if _, err := f.render(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("one batch has no chart", func(t *testing.T) {
		r := testRun(t)
		r.Quant.Calibration.History = r.Quant.Calibration.History[:1]
		if f := calibrationFigure(r); f != nil {
			t.Errorf("chart %q for one batch", f.title)
		}
	})
}

func TestPerTensorWeightScales(t *testing.T) {
	r := testRun(t)
	for i := range r.Quant.Layers {
		if w := r.Quant.Layers[i].Weights; w != nil {
			w.Granularity, w.Channels, w.ScaleMin, w.ScaleMean = "per-tensor", 1, w.ScaleMax, w.ScaleMax
		}
	}
	cs, err := Charts(r)
	if err != nil {
		t.Fatal(err)
	}
	_, texts := svgTexts(t, cs[slices.IndexFunc(cs, func(c Chart) bool { return c.Name == ChartWeightScales })].SVG)
	if !slices.Contains(texts, "per-tensor (one scale)") || slices.Contains(texts, "range over output channels") {
		t.Errorf("legend of a per-tensor model: %q", texts)
	}
}

func TestSQNRMetricCharts(t *testing.T) {
	r := testRun(t)
	s := r.Sensitivity
	s.Metric, s.FP32, s.AllInt8, s.Threshold = ptq.MetricSQNR, 200, 38.5, 3
	for i := range s.Layers {
		s.Layers[i].Drop, s.Layers[i].Recovery = 150+float64(i), -1+float64(i)
	}
	f := r.Fallback
	f.Metric, f.FP32, f.AllInt8, f.MaxDrop = ptq.MetricSQNR, 200, 38.5, 170
	for i := range f.Reverted {
		f.Reverted[i].Metric = 39 + float64(i)
		f.Reverted[i].Drop = 200 - f.Reverted[i].Metric
	}
	cs, err := Charts(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs[len(cs)-2:] {
		_, texts := svgTexts(t, c.SVG)
		if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasSuffix(s, " dB") }) {
			t.Errorf("%s: no dB labels in %q", c.Name, texts)
		}
	}
}

func TestLogTicks(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi float64
		labels []string
		minor  bool
	}{
		{"narrow", 0.0006, 0.003, []string{"0.0006", "0.0007", "0.0008", "0.0009", "0.001", "0.002", "0.003"}, false},
		{"one decade", 0.001, 0.012, []string{"0.001", "0.002", "0.003", "0.005", "0.01"}, true},
		{"two decades", 1e-3, 0.1, []string{"0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1"}, true},
		{"many decades", 1e-7, 10, []string{"1e-7", "1e-6", "1e-5", "0.0001", "0.001", "0.01", "0.1", "1", "10"}, true},
		{"twelve decades", 1e-9, 1e3, []string{"1e-8", "1e-6", "0.0001", "0.01", "1", "100"}, true},
		{"empty range", 1, 1, nil, false},
		{"non-positive", 0, 1, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var labels []string
			minor := false
			for _, tk := range (logTicks{}).Ticks(tc.lo, tc.hi) {
				if tk.Value < tc.lo*(1-1e-9) || tk.Value > tc.hi*(1+1e-9) {
					t.Errorf("tick %v outside [%v, %v]", tk.Value, tc.lo, tc.hi)
				}
				if tk.IsMinor() {
					minor = true
				} else {
					labels = append(labels, tk.Label)
				}
			}
			if !slices.Equal(labels, tc.labels) || minor != tc.minor {
				t.Errorf("labels %q (minor ticks %v), want %q (%v)", labels, minor, tc.labels, tc.minor)
			}
		})
	}
}

func TestLinearTicks(t *testing.T) {
	tests := []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
		want   []string
	}{
		{"percent", niceTicks{}, 96, 100, []string{"96", "97", "98", "99", "100"}},
		{"capped at 100", niceTicks{capped: true, upTo: 100}, 97.5, 102.3, []string{"98", "99", "100"}},
		{"fractions", niceTicks{}, -0.05, 1.8, []string{"0.0", "0.5", "1.0", "1.5"}},
		{"no negative zero", niceTicks{}, -1.2, 1.2, []string{"-1.0", "-0.5", "0.0", "0.5", "1.0"}},
		{"batches", intTicks{}, 0.5, 7.5, []string{"1", "2", "3", "4", "5", "6", "7"}},
		{"many batches", intTicks{}, 0.5, 99.5, []string{"10", "20", "30", "40", "50", "60", "70", "80", "90"}},
		{"empty", niceTicks{}, 1, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range tc.ticker.Ticks(tc.lo, tc.hi) {
				got = append(got, tk.Label)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ticks %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExtremeValuesRender(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *Run)
	}{
		{"zero accuracy", func(r *Run) { r.FP32Accuracy, r.Int8Accuracy = 0, 0 }},
		{"total loss", func(r *Run) { r.FP32Accuracy, r.Int8Accuracy = 1, 0 }},
		{"whole budget", func(r *Run) { r.MaxDrop = 1 }},
		{"identical layers", func(r *Run) {
			for i := range r.Quant.Layers {
				if r.Quant.Layers[i].SQNR != nil {
					v := 200.0
					r.Quant.Layers[i].SQNR = &v
				}
			}
		}},
		{"silent layers", func(r *Run) {
			for i := range r.Quant.Layers {
				if r.Quant.Layers[i].SQNR != nil {
					v := 0.0
					r.Quant.Layers[i].SQNR = &v
				}
			}
		}},
		{"scales over twelve decades", func(r *Run) {
			for i := range r.Quant.Layers {
				if w := r.Quant.Layers[i].Weights; w != nil {
					w.ScaleMin, w.ScaleMax, w.ScaleMean = 1e-9, 1e3, 1
				}
			}
		}},
		{"flat sensitivity without threshold", func(r *Run) {
			r.Sensitivity.Threshold = 0
			for i := range r.Sensitivity.Layers {
				l := &r.Sensitivity.Layers[i]
				l.Drop, l.Recovery, l.Sensitive = 0, 0, false
			}
		}},
		{"every layer reverted, budget not met", func(r *Run) {
			r.Fallback.Met = false
			for i := range r.Fallback.Reverted {
				r.Fallback.Reverted[i].Metric, r.Fallback.Reverted[i].Drop = 0.5, r.Fallback.FP32-0.5
			}
		}},
		{"long names", func(r *Run) {
			r.Quant.Layers[0].Name = strings.Repeat("very_long_layer_name_", 4)
			r.Title = strings.Repeat("A long title ", 12)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRun(t)
			tc.change(r)
			cs, err := Charts(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 6 {
				t.Errorf("%d charts, want 6", len(cs))
			}
			for _, c := range cs {
				if root, _ := svgTexts(t, c.SVG); root != "svg" {
					t.Errorf("%s: root %q", c.Name, root)
				}
				if bytes.Contains(c.SVG, []byte("NaN")) || bytes.Contains(c.SVG, []byte("Inf")) {
					t.Errorf("%s: non-finite coordinate in the SVG", c.Name)
				}
			}
			if err := WriteHTML(io.Discard, r); err != nil {
				t.Fatal(err)
			}
		})
	}
}
