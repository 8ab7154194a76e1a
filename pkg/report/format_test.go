package report

import (
	"testing"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"percent", percent(0.98126), "98.13%"},
		{"points", points(0.01), "1 pt"},
		{"fractional points", points(0.0017), "0.17 pt"},
		{"bytes", byteSize(1000), "1000 B"},
		{"KiB", byteSize(8016), "7.8 KiB"},
		{"MiB", byteSize(3 << 20), "3.00 MiB"},
		{"microseconds", seconds(0.0001), "100 µs"},
		{"milliseconds", seconds(0.0042), "4 ms"},
		{"seconds", seconds(12.5), "12.50 s"},
		{"minutes", seconds(125), "2m 05s"},
		{"scale", scale(0.00090375124), "0.0009038"},
		{"tolerance", tolerance(0.01), "1%"},
		{"change", change(0.17471), "17.5%"},
		{"small change", change(0.0000123), "0.00123%"},
		{"large change", change(25), "2500%"},
		{"db", dbShort(30), "30 dB"},
		{"output qparams", outputQParams(&ptq.ActivationReport{Scale: 0.011327684, ZeroPoint: -85}), "0.01133 / -85"},
		{"one scale", scaleRange(&ptq.WeightReport{ScaleMin: 0.5, ScaleMax: 0.5}), "0.5"},
		{"scale range", scaleRange(&ptq.WeightReport{ScaleMin: 0.25, ScaleMax: 0.5}), "0.25 … 0.5"},
		{"accuracy unit", unitOf(ptq.MetricAccuracy).diff(0.015), "1.5 pt"},
		{"SQNR unit", unitOf(ptq.MetricSQNR).diff(3), "3 dB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestSQNRLevel(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"above", 35, ""},
		{"at the reference", 30, ""},
		{"just below", 29.99, "low"},
		{"10 dB below", 20, "low"},
		{"more than 10 dB below", 19.99, "very-low"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sqnrLevel(tc.v, 30); got != tc.want {
				t.Errorf("sqnrLevel(%v, 30) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
}

func TestWithinBudget(t *testing.T) {
	tests := []struct {
		name       string
		fp32, int8 float64
		maxDrop    float64
		want       bool
	}{
		// 198/200 against 1: a drop of exactly one point, which binary
		// floating point computes as 0.010000000000000009.
		{"exactly the budget", 1, 198.0 / 200, 0.01, true},
		{"over by half a sample", 1, 197.9 / 200, 0.01, false},
		{"gain", 0.9, 0.95, 0.01, true},
		{"default budget", 0.98, 0.9701, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Run{FP32Accuracy: tc.fp32, Int8Accuracy: tc.int8, MaxDrop: tc.maxDrop}
			if got := r.withinBudget(); got != tc.want {
				t.Errorf("drop %v within %v: %v, want %v", r.drop(), r.maxDrop(), got, tc.want)
			}
		})
	}
}

func TestMaxDropDefault(t *testing.T) {
	tests := []struct {
		name    string
		maxDrop float64
		fb      *ptq.FallbackReport
		want    float64
	}{
		{"explicit", 0.02, &ptq.FallbackReport{Metric: ptq.MetricAccuracy, MaxDrop: 0.005}, 0.02},
		{"from the fallback", 0, &ptq.FallbackReport{Metric: ptq.MetricAccuracy, MaxDrop: 0.005}, 0.005},
		{"fallback on SQNR", 0, &ptq.FallbackReport{Metric: ptq.MetricSQNR, MaxDrop: 3}, DefaultMaxDrop},
		{"no fallback", 0, nil, DefaultMaxDrop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Run{MaxDrop: tc.maxDrop, Fallback: tc.fb}
			if got := r.maxDrop(); got != tc.want {
				t.Errorf("maxDrop() = %v, want %v", got, tc.want)
			}
		})
	}
}
