package steps

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestNearestMeanAccuracy checks the reference classifier of the blob
// scenario on samples whose answer is known by hand.
func TestNearestMeanAccuracy(t *testing.T) {
	set := func(labels []int, rows ...float32) *datasets.Dataset {
		return &datasets.Dataset{X: tensor.MustFromData(rows, len(labels), 2), Labels: labels, Classes: 2}
	}
	// Class 0 has mean (0, 0), class 1 mean (4, 0).
	train := set([]int{0, 0, 1, 1}, -1, 0, 1, 0, 3, 0, 5, 0)
	cases := []struct {
		name    string
		test    *datasets.Dataset
		want    float64
		wantErr string
	}{
		{"all nearest their own mean", set([]int{0, 1}, 0.5, 1, 3.5, -1), 1, ""},
		{"one of four past the midpoint", set([]int{0, 1, 1, 0}, 1, 0, 3, 0, 4, 0, 2.5, 0), 0.75, ""},
		{"no held-out samples", &datasets.Dataset{X: tensor.New(0, 2), Classes: 2}, 0, "no held-out samples"},
		{"features differ", &datasets.Dataset{X: tensor.New(1, 3), Labels: []int{0}, Classes: 2}, 0, "training samples have 2 features, held-out samples 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := nearestMeanAccuracy(train, c.test)
			if c.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, c.want, got, 1e-12)
		})
	}
}

// TestHeldOutBelowNearestMean runs the blob scenario's comparison on an
// untrained MLP: it is far below the nearest-class-mean classifier, so
// "at most 4 points below" fails and "at least 25 points below" holds;
// without samples or a model the step fails with a message.
func TestHeldOutBelowNearestMean(t *testing.T) {
	all, err := datasets.Blobs(datasets.BlobsConfig{Samples: 600, Features: 8, Classes: 4, Spread: 1, Seed: 7})
	require.NoError(t, err)
	train, err := all.Subset(0, 400)
	require.NoError(t, err)
	test, err := all.Subset(400, 600)
	require.NoError(t, err)
	// An untrained MLP whose last layer gives every sample class 0: its
	// accuracy is the share of class 0, 25%.
	r := rand.New(rand.NewPCG(1, 2))
	out := nn.NewLinear(16, 4, r)
	for i := range out.Weight.Value.Data() {
		out.Weight.Value.Data()[i] = 0
	}
	out.Bias.Value.Data()[0] = 1
	g, err := nn.Sequential([]int{8}, nn.NewLinear(8, 16, r), nn.NewReLU(), out)
	require.NoError(t, err)

	cases := []struct {
		name    string
		noData  bool
		noModel bool
		bound   string
		points  float64
		wantErr string
	}{
		{"far below, at least 25 points", false, false, atLeast, 25, ""},
		{"far below, at most 4 points", false, false, atMost, 4, "points below, want at most 4"},
		{"no samples", true, false, atMost, 4, "no training and held-out samples"},
		{"no model", false, true, atMost, 4, "no model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			if !c.noData {
				ds := domainState[dataState](ctx)
				ds.train, ds.test = train, test
			}
			if !c.noModel {
				domainState[modelState](ctx).model = g
			}
			checkStepError(t, heldOutBelowNearestMean(ctx, c.bound, c.points), c.wantErr)
		})
	}
}
