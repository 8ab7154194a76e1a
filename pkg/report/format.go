package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// percent formats a fraction as a percentage with two decimals.
func percent(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

// points formats a fraction in percentage points, trimming zeros: 0.01 is
// "1 pt".
func points(f float64) string { return trim(strconv.FormatFloat(100*f, 'f', 2, 64)) + " pt" }

// trim removes trailing zeros after a decimal point.
func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// db formats a decibel value.
func db(v float64) string { return fmt.Sprintf("%.1f dB", v) }

// dbShort formats a decibel value without a trailing ".0".
func dbShort(v float64) string { return trim(strconv.FormatFloat(v, 'f', 1, 64)) + " dB" }

// byteSize formats a byte count in binary units.
func byteSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1024*1024))
	}
}

// scale formats a quantization scale with four significant digits.
func scale(v float32) string { return strconv.FormatFloat(float64(v), 'g', 4, 32) }

// seconds formats a duration in seconds.
func seconds(s float64) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	case s < 120:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%dm %02ds", int(s)/60, int(s)%60)
	}
}

// metricUnit renders values of a ptq metric (accuracy fractions or dB).
type metricUnit struct {
	// mul converts a metric value to the displayed number.
	mul float64
	// name is the metric's name in prose; axis labels a value axis and
	// delta a difference axis.
	name, axis, delta string
	// value and diff format a value and a difference.
	value, diff func(float64) string
}

// unitOf returns the unit of a ptq metric.
func unitOf(metric ptq.Metric) metricUnit {
	if metric == ptq.MetricSQNR {
		return metricUnit{mul: 1, name: "output SQNR", axis: "model output SQNR (dB)", delta: "dB",
			value: db, diff: func(v float64) string { return trim(strconv.FormatFloat(v, 'f', 1, 64)) + " dB" }}
	}
	return metricUnit{mul: 100, name: "accuracy", axis: "top-1 accuracy (%)", delta: "percentage points",
		value: percent, diff: points}
}

// convergedAt describes where calibration converged: whether it is
// converged at the end and since which batch, and where it was first
// reached and lost when a later batch broke it.
func convergedAt(c *ptq.CalibrationReport) string {
	if c == nil {
		return "no calibration"
	}
	first, lost, _ := convergenceEvents(c.History)
	switch {
	case c.Converged && len(lost) == 0:
		return fmt.Sprintf("converged at batch %d of %d", c.ConvergedAt, c.Batches)
	case c.Converged:
		return fmt.Sprintf("converged since batch %d of %d (first at batch %d, lost at %s)", c.ConvergedAt, c.Batches, first, batchList(lost))
	case first >= 0:
		return fmt.Sprintf("not converged at the end of %d batches (converged at batch %d, lost at %s)", c.Batches, first, batchList(lost))
	default:
		return fmt.Sprintf("not converged after %d batches", c.Batches)
	}
}

// convergedShort is convergedAt in few enough words for a chart title.
func convergedShort(c *ptq.CalibrationReport) string {
	if c == nil {
		return "no calibration"
	}
	first, lost, _ := convergenceEvents(c.History)
	switch {
	case c.Converged && len(lost) == 0:
		return fmt.Sprintf("converged at batch %d of %d", c.ConvergedAt, c.Batches)
	case c.Converged:
		return fmt.Sprintf("converged since batch %d of %d, lost %s before", c.ConvergedAt, c.Batches, times(len(lost)))
	case first >= 0:
		return fmt.Sprintf("converged at batch %d, lost at batch %d, not at the end", first, lost[len(lost)-1])
	default:
		return fmt.Sprintf("not converged after %d batches", c.Batches)
	}
}

// times says how often: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// convergenceEvents reads a calibration history's Converged flags: the
// batch where the rule first held (-1 for never), and the batches where
// it was lost and regained. It reads the flags rather than the events so
// that a history without events (written before they existed) reads too.
func convergenceEvents(h []ptq.CalibrationStep) (first int, lost, regained []int) {
	first, was := -1, false
	for _, s := range h {
		switch {
		case s.Converged && !was && first < 0:
			first = s.Batch
		case s.Converged && !was:
			regained = append(regained, s.Batch)
		case !s.Converged && was:
			lost = append(lost, s.Batch)
		}
		was = s.Converged
	}
	return first, lost, regained
}

// batchList names batches: "batch 7", "batches 7 and 14", "batches 7, 14
// and 20".
func batchList(b []int) string {
	n := make([]string, len(b))
	for i, v := range b {
		n[i] = strconv.Itoa(v)
	}
	switch len(n) {
	case 0:
		return "no batch"
	case 1:
		return "batch " + n[0]
	default:
		return "batches " + strings.Join(n[:len(n)-1], ", ") + " and " + n[len(n)-1]
	}
}

// change formats a relative change as a percentage with three significant
// digits.
func change(v float64) string {
	if 100*v >= 1000 {
		return strconv.FormatFloat(100*v, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(100*v, 'g', 3, 64) + "%"
}

// tolerance formats a relative tolerance as a percentage.
func tolerance(t float64) string { return trim(strconv.FormatFloat(100*t, 'f', 3, 64)) + "%" }

// sqnrOf returns the layer's output SQNR and whether it has one.
func sqnrOf(l ptq.LayerReport) (float64, bool) {
	if l.SQNR == nil {
		return 0, false
	}
	return *l.SQNR, true
}

// sqnrLevel classifies an SQNR against the reference: "" when at or above
// it, "low" below it and "very-low" more than 10 dB below it.
func sqnrLevel(v, ref float64) string {
	switch {
	case v < ref-10:
		return "very-low"
	case v < ref:
		return "low"
	}
	return ""
}

// weightsSummary describes a layer's weights in one phrase.
func weightsSummary(w *ptq.WeightReport) string {
	if w == nil {
		return ""
	}
	return w.DType + " " + w.Scheme + " " + w.Granularity
}

// scaleRange describes a layer's weight scales.
func scaleRange(w *ptq.WeightReport) string {
	if w == nil {
		return ""
	}
	if w.ScaleMin == w.ScaleMax {
		return scale(w.ScaleMin)
	}
	return scale(w.ScaleMin) + " … " + scale(w.ScaleMax)
}

// outputQParams describes a layer's output qparams.
func outputQParams(o *ptq.ActivationReport) string {
	if o == nil {
		return ""
	}
	return fmt.Sprintf("%s / %d", scale(o.Scale), o.ZeroPoint)
}
