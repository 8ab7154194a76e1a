package main

import (
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func TestConvergencePhrase(t *testing.T) {
	step := func(b int, ch float64, conv bool, ev ptq.ConvergenceEvent) ptq.CalibrationStep {
		return ptq.CalibrationStep{Batch: b, MaxScaleChange: ch, Worst: "relu1", Converged: conv, Event: ev}
	}
	cases := []struct {
		name string
		rep  ptq.CalibrationReport
		want []string
	}{
		{"converged and stayed", ptq.CalibrationReport{Batches: 5, Converged: true, ConvergedAt: 3, Tolerance: 0.01, Patience: 3,
			History: []ptq.CalibrationStep{step(0, 0, false, ""), step(1, 0, false, ""), step(2, 0, false, ""), step(3, 0, true, ptq.EventConverged), step(4, 0, true, "")}},
			[]string{"converged at batch 3 of 5 and to the end", "at most 1% in each of the last 3 batches"}},
		{"converged, lost, not at the end (ptq mnist)", ptq.CalibrationReport{Batches: 8, ConvergedAt: -1, Tolerance: 0.01, Patience: 3,
			History: []ptq.CalibrationStep{step(0, 0, false, ""), step(1, 0, false, ""), step(2, 0, false, ""), step(3, 0, true, ptq.EventConverged),
				step(4, 0.0356, false, ptq.EventLost), step(5, 0.0212, false, ""), step(6, 0, false, ""), step(7, 0, false, "")}},
			[]string{"not converged at the end of 8 batches: converged at batch 3, then lost at batch 4, where relu1 moved 3.56%", "more calibration images may help"}},
		{"lost and regained", ptq.CalibrationReport{Batches: 8, Converged: true, ConvergedAt: 7, Tolerance: 0.01, Patience: 3,
			History: []ptq.CalibrationStep{step(0, 0, false, ""), step(1, 0, false, ""), step(2, 0, false, ""), step(3, 0, true, ptq.EventConverged),
				step(4, 0.03, false, ptq.EventLost), step(5, 0, false, ""), step(6, 0, false, ""), step(7, 0, true, ptq.EventRegained)}},
			[]string{"converged again since batch 7 of 8 (first at batch 3, last lost at batch 4, where relu1 moved 3%"}},
		{"never", ptq.CalibrationReport{Batches: 2, ConvergedAt: -1, Tolerance: 0.01, Patience: 3,
			History: []ptq.CalibrationStep{step(0, 0, false, ""), step(1, 0.5, false, "")}},
			[]string{"not converged in 2 batches", "more calibration images may help"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := convergencePhrase(&c.rep)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not say %q", got, w)
				}
			}
		})
	}
}
