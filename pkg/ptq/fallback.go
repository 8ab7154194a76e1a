package ptq

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
)

// FallbackStep is one layer reverted to FP32 and the metric after it, on
// the selection data.
type FallbackStep struct {
	Layer  string  `json:"layer"`
	Metric float64 `json:"metric"`
	Drop   float64 `json:"drop"`
}

// FallbackReport records an accuracy-aware quantization: the FP32 and
// all-int8 metrics, the budget, each layer reverted in order with the
// metric after it, and whether the budget was met. Every metric in it is
// measured on the selection data the layers were chosen on, which
// Selection names; what the chosen model does on other samples is for the
// caller to measure.
type FallbackReport struct {
	Metric Metric `json:"metric"`
	// Selection names the data the layers were chosen on and every metric
	// here measured on: the Name of the Data given to QuantizeWithBudget.
	Selection string `json:"selection"`
	// Samples is the number of selection samples.
	Samples     int                `json:"samples"`
	FP32        float64            `json:"fp32"`
	AllInt8     float64            `json:"all_int8"`
	Final       float64            `json:"final"`
	MaxDrop     float64            `json:"max_drop"`
	Met         bool               `json:"budget_met"`
	Reverted    []FallbackStep     `json:"reverted"`
	Sensitivity *SensitivityReport `json:"sensitivity,omitempty"`
	Seconds     float64            `json:"seconds"`
}

// String summarises the fallback in a few lines.
func (r *FallbackReport) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %d selection samples%s: FP32 %.4f, all int8 %.4f, budget %.4f drop\n",
		r.Metric, r.Samples, named(r.Selection), r.FP32, r.AllInt8, r.MaxDrop)
	for i, s := range r.Reverted {
		fmt.Fprintf(&b, "  %d. %s -> FP32: %.4f (drop %.4f)\n", i+1, s.Layer, s.Metric, s.Drop)
	}
	met := "met"
	if !r.Met {
		met = "NOT met"
	}
	fmt.Fprintf(&b, "final %.4f: budget %s\n", r.Final, met)
	return b.String()
}

// QuantizeWithBudget quantizes g and, while the metric on the selection
// data drops by more than opts.MaxDrop against FP32, reverts the most
// sensitive remaining layer to FP32, one at a time, in the order of a
// sensitivity analysis on the same data (largest recovery first, then
// largest drop). It returns the last model and the record of every step,
// each with the metric of the model holding the layers reverted so far in
// FP32. The budget is always met on the selection data in the end, since
// with every layer reverted the model computes exactly what the FP32
// model does. MaxDrop is refused when negative, NaN or infinite. A nil
// opts means the defaults (see SensitivityOptions): a budget of no drop
// at all.
//
// Selection is the data the layers are chosen on; the report names it
// (FallbackReport.Selection, from Data.Name). The budget is met on those
// samples by construction, so judge the returned model on a test set
// disjoint from selection and from calib.
func QuantizeWithBudget(ctx context.Context, g *nn.Graph, calib Batches, selection Data, opts *SensitivityOptions) (*Model, *FallbackReport, error) {
	t0 := time.Now()
	o, err := opts.withDefaults("fallback")
	if err != nil {
		return nil, nil, err
	}
	if !(o.MaxDrop >= 0) || math.IsInf(o.MaxDrop, 1) {
		return nil, nil, fmt.Errorf("ptq: fallback: budget %v, want a finite drop >= 0: %w", o.MaxDrop, ErrInvalidConfig)
	}
	opts = &o
	s, err := newShared(ctx, g, o, calib, selection, 1)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.variant(nil)
	if err != nil {
		return nil, nil, err
	}
	rep := &FallbackReport{Metric: s.metric, Selection: selection.Name, Samples: selection.Len(), FP32: s.fp32, MaxDrop: opts.MaxDrop}
	if rep.AllInt8, err = s.score(ctx, m); err != nil {
		return nil, nil, err
	}
	rep.Final = rep.AllInt8
	if within(rep.FP32-rep.AllInt8, opts.MaxDrop) {
		rep.Met, rep.Seconds = true, time.Since(t0).Seconds()
		return m, rep, nil
	}
	sens, err := s.analyze(ctx, o, t0)
	if err != nil {
		return nil, nil, err
	}
	rep.Sensitivity = sens
	var keep []string
	for _, layer := range byRecovery(sens) {
		keep = append(keep, layer)
		if m, err = s.variant(keep); err != nil {
			return nil, nil, err
		}
		score, err := s.score(ctx, m)
		if err != nil {
			return nil, nil, err
		}
		rep.Reverted = append(rep.Reverted, FallbackStep{Layer: layer, Metric: score, Drop: rep.FP32 - score})
		rep.Final = score
		if within(rep.FP32-score, opts.MaxDrop) {
			rep.Met = true
			break
		}
	}
	rep.Seconds = time.Since(t0).Seconds()
	return m, rep, nil
}

// byRecovery orders layers by what reverting each alone gives back, then
// by what quantizing it alone costs, keeping the report's order on ties.
func byRecovery(r *SensitivityReport) []string {
	ls := append([]LayerSensitivity(nil), r.Layers...)
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && better(ls[j], ls[j-1]); j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Layer
	}
	return out
}

func better(a, b LayerSensitivity) bool {
	if a.Recovery != b.Recovery {
		return a.Recovery > b.Recovery
	}
	return a.Drop > b.Drop
}

// budgetSlack absorbs float rounding in drop comparisons: 1 - 0.99 is a
// little more than 0.01, and a drop of exactly the budget meets it.
const budgetSlack = 1e-9

func within(drop, budget float64) bool { return drop <= budget+budgetSlack }
