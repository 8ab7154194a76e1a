package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/cucumber/godog"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// Each test below feeds a Then step the fault it guards against and
// expects the step to fail: checks that cannot fail check nothing.

func TestFP32UnchangedNeedsASuccessfulQuantization(t *testing.T) {
	cases := []struct {
		name    string
		refused error
		wantErr string
	}{
		{"quantization refused", errors.New("ptq: no calibration data"), "the quantization was refused"},
		{"nothing quantized", nil, "the scenario has no quantized model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			if err := aModelWithLayerList(ctx, "2", "Linear 2->1"); err != nil {
				t.Fatal(err)
			}
			s := ptqOf(ctx)
			s.before = snapshotParams(s.model)
			stateFrom(ctx).setErr(c.refused)
			checkStepError(t, fp32Unchanged(ctx), c.wantErr)
		})
	}
}

func TestEveryStepFailsOnAnEmptySet(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(ctx context.Context)
		step    func(ctx context.Context) error
		wantErr string
	}{
		{"every other layer int8, no layer", func(ctx context.Context) {
			s := ptqOf(ctx)
			s.quantized, s.report = &ptq.Model{}, &ptq.Report{}
		}, everyOtherInt8, "no other Conv2D or Linear layer"},
		{"every other layer int8, only kept layers", func(ctx context.Context) {
			s := ptqOf(ctx)
			s.quantized = &ptq.Model{}
			s.report = &ptq.Report{Layers: []ptq.LayerReport{{Name: "fc", Kind: "Linear", Overrides: []string{"fc"}}, {Name: "relu", Kind: "ReLU"}}}
		}, everyOtherInt8, "no other Conv2D or Linear layer"},
		{"every layer's SQNR, no layer", func(ctx context.Context) {
			domainState[sensitivityState](ctx).rep = &ptq.SensitivityReport{}
		}, func(ctx context.Context) error { return everyLayerSQNRAtLeast(ctx, 30) }, "the analysis has no layer"},
		{"every layer's SQNR, one layer above", func(ctx context.Context) {
			domainState[sensitivityState](ctx).rep = &ptq.SensitivityReport{Layers: []ptq.LayerSensitivity{{Layer: "fc", SQNR: 31}}}
		}, func(ctx context.Context) error { return everyLayerSQNRAtLeast(ctx, 30) }, ""},
		{"every observed range finite, nothing calibrated", func(context.Context) {}, everyRangeFinite, "not calibrated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			c.setup(ctx)
			checkStepError(t, c.step(ctx), c.wantErr)
		})
	}
}

func TestEveryRangeFiniteFailsWhenNothingIsObserved(t *testing.T) {
	// A model without a quantizable layer observes no tensor.
	ctx := withState(context.Background(), "nothing observed")
	if err := aModelWithLayerList(ctx, "2", "ReLU"); err != nil {
		t.Fatal(err)
	}
	cfg := ptq.Config{}
	p, err := ptq.Prepare(ptqOf(ctx).model, &cfg)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if n := len(p.Observed()); n != 0 {
		t.Fatalf("the model observes %d tensors, want none for this test", n)
	}
	ptqOf(ctx).prepared = p
	checkStepError(t, everyRangeFinite(ctx), "calibration observed no tensor")
}

func TestFirstRowOfAnEmptyTable(t *testing.T) {
	cases := []struct {
		name string
		rows [][]string
		want []string
	}{
		{"empty", nil, nil},
		{"one row", [][]string{{"a", "b"}}, []string{"a", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := firstRow(c.rows); len(got) != len(c.want) {
				t.Fatalf("firstRow = %q, want %q", got, c.want)
			}
		})
	}
}

// TestThresholdsTakeSignedNumbers runs steps with negative thresholds
// through godog and expects each to find its definition (it may fail for
// want of a model, but it must not be undefined).
func TestThresholdsTakeSignedNumbers(t *testing.T) {
	steps := []string{
		"the int8 model's accuracy is less than -0.5 points below the FP32 model's",
		"on the held-out set the quantized output has an SQNR of at least -3 dB against FP32",
		"the quantized model's accuracy on the test samples is at most -1 points below FP32's",
		"every layer's SQNR is at least -2.5 dB",
		"on the values within 4 standard deviations it beats MinMax by at least -1 dB",
	}
	text := "Feature: signed\n"
	for i, st := range steps {
		text += fmt.Sprintf("  Scenario: s%d\n    Then %s\n", i, st)
	}
	var out bytes.Buffer
	var h Harness
	godog.TestSuite{Name: "signed", ScenarioInitializer: h.InitializeScenario, Options: &godog.Options{
		Format: "cucumber", Output: &out, Concurrency: 1, NoColors: true,
		FeatureContents: []godog.Feature{{Name: "signed.feature", Contents: []byte(text)}},
	}}.Run()
	var feats []struct {
		Elements []struct {
			Steps []struct {
				Name   string `json:"name"`
				Result struct {
					Status string `json:"status"`
				} `json:"result"`
			} `json:"steps"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(out.Bytes(), &feats); err != nil {
		t.Fatalf("cucumber output: %v\n%s", err, out.String())
	}
	seen := 0
	for _, f := range feats {
		for _, e := range f.Elements {
			for _, st := range e.Steps {
				seen++
				if st.Result.Status == "undefined" {
					t.Errorf("no step definition matches %q", st.Name)
				}
			}
		}
	}
	if seen != len(steps) {
		t.Fatalf("godog ran %d steps, want %d", seen, len(steps))
	}
}

func TestE2EDropTakesANegativeThreshold(t *testing.T) {
	cases := []struct {
		name       string
		fp32, int8 float64
		wantErr    string
	}{
		{"int8 gains a point", 0.90, 0.91, ""},
		{"int8 gains less", 0.90, 0.902, "-0.20 points below, want less than -0.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			es := domainState[e2eState](ctx)
			es.images, es.fp32, es.int8 = 2000, c.fp32, c.int8
			checkStepError(t, int8DropLessThan(ctx, -0.5), c.wantErr)
		})
	}
}
