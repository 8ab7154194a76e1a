package scorecard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// num writes a measured value or a margin with 5 significant digits,
// without exponent between 1e-4 and 1e6.
func num(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return numf(*v)
}

func numf(f float64) string {
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return "NaN"
	case a >= 1e300:
		if f > 0 {
			return "+∞"
		}
		return "−∞"
	case a == 0:
		return "0"
	case a >= 1e6 || a < 1e-4:
		return strconv.FormatFloat(f, 'g', 4, 64)
	case a >= 1000:
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	digits := 4 - int(math.Floor(math.Log10(a)))
	s := strconv.FormatFloat(f, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// withUnit appends a unit to a number ("30 dB", "2.5%", "1 point").
func withUnit(s, unit string) string {
	switch unit {
	case "":
		return s
	case "%":
		return s + "%"
	}
	return s + " " + unit
}

// relative writes a relative margin as a percentage.
func relative(r Row) string {
	if !r.HasRelative {
		return "–"
	}
	p := 100 * r.Relative
	if math.Abs(p) < 10 {
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// dur writes a duration for people: "840 ms", "1.73 s", "12m 05s".
func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// budget writes a scenario's duration against its budget.
func budget(s ScenarioCard) string {
	if s.Budget == 0 {
		return dur(s.Duration) + " (no budget)"
	}
	out := dur(s.Duration) + " / " + dur(s.Budget)
	if s.OverBudget {
		out += " OVER BUDGET"
	}
	return out
}

// orDash returns s, or "–" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// runDate writes the run's start time.
func runDate(r RunInfo) string {
	if r.Started.IsZero() {
		return "–"
	}
	return r.Started.UTC().Format("2006-01-02 15:04:05 UTC")
}

// seeds writes the run's seeds.
func seeds(r RunInfo) string {
	s := "order " + strconv.FormatInt(r.OrderSeed, 10)
	if r.OrderSeed == 0 {
		s = "order: file order"
	}
	if r.DataSeed != "" {
		s += ", data offset " + r.DataSeed
	}
	return s
}
