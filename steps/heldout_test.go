package steps

import (
	"context"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The steps that say which data a number was measured on must fail when
// the report measured it elsewhere, and the method comparisons when a
// method is missing or loses.

func TestReportSQNRNamesItsData(t *testing.T) {
	cases := []struct {
		name    string
		rep     ptq.Report
		minDB   float64
		n       int
		data    string
		wantErr string
	}{
		{"held-out, as stated", ptq.Report{OutputSQNR: 31, SQNRData: ptq.SQNROnHoldout, SQNRSamples: 64}, 30, 64, "held-out", ""},
		{"measured on calibration samples", ptq.Report{OutputSQNR: 31, SQNRData: ptq.SQNROnCalibration, SQNRSamples: 64}, 30, 64, "held-out", "want 64 held-out samples"},
		{"another sample count", ptq.Report{OutputSQNR: 31, SQNRData: ptq.SQNROnHoldout, SQNRSamples: 32}, 30, 64, "held-out", "on 32"},
		{"not measured", ptq.Report{OutputSQNR: 31}, 30, 64, "held-out", "want 64 held-out samples"},
		{"below the floor", ptq.Report{OutputSQNR: 29.5, SQNRData: ptq.SQNROnHoldout, SQNRSamples: 64}, 30, 64, "held-out", "29.50 dB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			s := ptqOf(ctx)
			s.quantized, s.report = &ptq.Model{}, &c.rep
			checkStepError(t, reportOutputSQNR(ctx, c.minDB, c.n, c.data), c.wantErr)
		})
	}
}

func TestReportNotesCalibrationSQNR(t *testing.T) {
	cases := []struct {
		name    string
		notes   []string
		wantErr string
	}{
		{"the note", []string{"SQNR measured on the first 64 calibration samples, which the ranges were fitted to"}, ""},
		{"no note", nil, "no note of the report"},
		{"another note", []string{"the model has no quantizable layer"}, "no note of the report"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			s := ptqOf(ctx)
			s.quantized, s.report = &ptq.Model{}, &ptq.Report{Notes: c.notes}
			checkStepError(t, reportNotesCalibrationSQNR(ctx), c.wantErr)
		})
	}
}

func TestMethodComparisons(t *testing.T) {
	reports := func(sqnr map[quant.Method]float64) map[quant.Method]*ptq.Report {
		out := map[quant.Method]*ptq.Report{}
		for m, v := range sqnr {
			out[m] = &ptq.Report{OutputSQNR: v, SQNRData: ptq.SQNROnHoldout}
		}
		return out
	}
	all := map[quant.Method]float64{quant.MethodMinMax: 15, quant.MethodMSE: 16, quant.MethodPercentile: 25, quant.MethodEntropy: 27}
	cases := []struct {
		name    string
		sqnr    map[quant.Method]float64
		step    func(ctx context.Context) error
		wantErr string
	}{
		{"percentile wins by 10 dB", all, func(ctx context.Context) error { return methodBeatsMethod(ctx, "percentile", 5, "minmax") }, ""},
		{"mse gains 1 dB, not 2", all, func(ctx context.Context) error { return methodBeatsMethod(ctx, "mse", 2, "minmax") }, "1.00 dB above"},
		{"minmax missing", map[quant.Method]float64{quant.MethodPercentile: 25}, func(ctx context.Context) error { return methodBeatsMethod(ctx, "percentile", 5, "minmax") }, "not quantized with minmax"},
		{"clipping wins by 9 dB", all, func(ctx context.Context) error { return clippingBeatsTheRest(ctx, 4) }, ""},
		{"clipping wins by 9 dB, not 10", all, func(ctx context.Context) error { return clippingBeatsTheRest(ctx, 10) }, "the margin is 9.00 dB"},
		{"entropy missing", map[quant.Method]float64{quant.MethodMinMax: 15, quant.MethodMSE: 16, quant.MethodPercentile: 25},
			func(ctx context.Context) error { return clippingBeatsTheRest(ctx, 4) }, "not quantized with entropy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			domainState[methodsState](ctx).reports = reports(c.sqnr)
			checkStepError(t, c.step(ctx), c.wantErr)
		})
	}
}

func TestQuantizeConfigHandsOverTheHeldOutSet(t *testing.T) {
	ctx := withState(context.Background(), "held-out")
	s := ptqOf(ctx)
	if cfg := s.quantizeConfig(); cfg.Holdout != nil {
		t.Fatalf("without a held-out set the configuration has Holdout %v, want nil", cfg.Holdout)
	}
	s.heldOut = tensor.New(4, 2)
	cfg := s.quantizeConfig()
	if cfg.Holdout == nil || cfg.Holdout.X != s.heldOut {
		t.Fatalf("the configuration has Holdout %v, want the scenario's held-out set", cfg.Holdout)
	}
	if s.cfg.Holdout != nil {
		t.Fatal("quantizeConfig changed the scenario's own configuration")
	}
}
