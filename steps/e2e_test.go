package steps

import (
	"context"
	"testing"
)

// The Then steps of the end-to-end feature check measured accuracies;
// these tests feed them accuracies on both sides of their thresholds.

func TestEndToEndAccuracyChecks(t *testing.T) {
	cases := []struct {
		name       string
		images     int
		fp32, int8 float64
		check      func(context.Context) error
		wantErr    string
	}{
		{"FP32 at the floor", 10000, 0.975, 0.97, func(ctx context.Context) error { return fp32AccuracyAtLeast(ctx, "97.5") }, ""},
		{"FP32 below the floor", 10000, 0.9749, 0.97, func(ctx context.Context) error { return fp32AccuracyAtLeast(ctx, "97.5") },
			"the FP32 model classifies 97.49% of the 10000 test images correctly, want at least 97.5%"},
		{"int8 gains", 10000, 0.97, 0.975, func(ctx context.Context) error { return int8DropLessThan(ctx, 1) }, ""},
		{"int8 just under a point below", 10000, 0.98, 0.9701, func(ctx context.Context) error { return int8DropLessThan(ctx, 1) }, ""},
		{"int8 exactly a point below", 2000, 0.9, 0.89, func(ctx context.Context) error { return int8DropLessThan(ctx, 1) },
			"on 2000 test images the int8 model scores 89.00%, the FP32 model 90.00%: 1.00 points below, want less than 1"},
		{"int8 far below", 2000, 0.9, 0.5, func(ctx context.Context) error { return int8DropLessThan(ctx, 1) }, "40.00 points below"},
		{"nothing classified", 0, 0, 0, func(ctx context.Context) error { return int8DropLessThan(ctx, 1) }, "no test images were classified"},
		{"nothing classified for the floor", 0, 0, 0, func(ctx context.Context) error { return fp32AccuracyAtLeast(ctx, "50") }, "no test images were classified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			es := domainState[e2eState](ctx)
			es.images, es.fp32, es.int8 = c.images, c.fp32, c.int8
			checkStepError(t, c.check(ctx), c.wantErr)
		})
	}
}

func TestQuantizedOnMNISTNeedsAModel(t *testing.T) {
	ctx := withState(context.Background(), "no model")
	checkStepError(t, quantizedOnMNIST(ctx, "200", 100), "the scenario has no trained model")
}

func TestQuantizedDynamicallyOnMNISTNeedsAModel(t *testing.T) {
	ctx := withState(context.Background(), "no model")
	checkStepError(t, quantizedDynamicallyOnMNIST(ctx), "the scenario has no trained model")
}
