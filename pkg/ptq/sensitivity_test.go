package ptq

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// fragileTask trains a three-layer MLP on Gaussian blobs whose last feature
// is always 0, then gives layer "linear1" a column of huge weights on that
// feature: the FP32 function is unchanged, but the weights' range, and so
// their int8 step, becomes 1000 times too coarse.
func fragileTask(t *testing.T) (*nn.Graph, *datasets.Dataset, *datasets.Dataset) {
	t.Helper()
	const feats = 9
	d, err := datasets.Blobs(datasets.BlobsConfig{Samples: 1200, Features: feats, Classes: 4, Spread: 0.6, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	x := d.X.Data()
	for i := 0; i < d.Len(); i++ {
		x[i*feats+feats-1] = 0
	}
	train, _ := d.Subset(0, 800)
	eval, _ := d.Subset(800, 1200)
	rng := rand.New(rand.NewPCG(3, 4))
	g, err := nn.Sequential([]int{feats}, nn.NewLinear(feats, 32, rng), nn.NewReLU(),
		nn.NewLinear(32, 32, rng), nn.NewReLU(), nn.NewLinear(32, 4, rng))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nn.Fit(g, train.X, train.Labels, nn.TrainConfig{Epochs: 15, BatchSize: 32, Seed: 1, Optimizer: nn.NewAdam(0.01)}); err != nil {
		t.Fatal(err)
	}
	n, _ := g.Node("linear1")
	w := n.Layer.(*nn.Linear).Weight.Value
	for o := range w.Dim(0) {
		w.Set(1000, o, feats-1)
	}
	return g, train, eval
}

func TestSensitivityFindsFragileLayer(t *testing.T) {
	g, train, eval := fragileTask(t)
	rep, err := AnalyzeSensitivity(context.Background(), g, train.Source(100), eval, SensitivityOptions{Config: DefaultConfig(), Threshold: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Markdown())
	if rep.Metric != MetricAccuracy {
		t.Fatalf("metric %q, want accuracy", rep.Metric)
	}
	if rep.FP32 < 0.9 {
		t.Fatalf("FP32 accuracy %.3f: the task did not train", rep.FP32)
	}
	if got := rep.Ranking()[0]; got != "linear1" {
		t.Errorf("most sensitive %q, want linear1", got)
	}
	top := rep.Layers[0]
	if top.Drop < 0.3 || top.Recovery < 0.3 {
		t.Errorf("fragile layer drop %.3f recovery %.3f, want both >= 0.3", top.Drop, top.Recovery)
	}
	if len(rep.Sensitive) != 1 || rep.Sensitive[0] != "linear1" {
		t.Errorf("sensitive = %v, want [linear1]", rep.Sensitive)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil || decoded["schema"] != SensitivitySchema {
		t.Fatalf("json schema: %v %v", err, decoded["schema"])
	}
	buf.Reset()
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 1+len(rep.Layers) {
		t.Errorf("csv has %d lines, want %d", lines, 1+len(rep.Layers))
	}

	again, err := AnalyzeSensitivity(context.Background(), g, train.Source(100), eval, SensitivityOptions{Config: DefaultConfig(), Threshold: 0.05, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rep.Layers {
		a, b := rep.Layers[i], again.Layers[i]
		if a.Layer != b.Layer || a.OnlyThisInt8 != b.OnlyThisInt8 || a.OnlyThisFP32 != b.OnlyThisFP32 || a.SQNR != b.SQNR {
			t.Errorf("run with 1 worker differs at rank %d: %+v vs %+v", i, a, b)
		}
	}
}

func TestFallbackMeetsBudget(t *testing.T) {
	g, train, eval := fragileTask(t)
	m, rep, err := QuantizeWithBudget(context.Background(), g, train.Source(100), eval, FallbackOptions{Config: DefaultConfig(), MaxDrop: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if !rep.Met || len(rep.Reverted) == 0 || rep.Reverted[0].Layer != "linear1" {
		t.Fatalf("fallback %+v: want linear1 reverted first and the budget met", rep)
	}
	if rep.Final < rep.AllInt8 {
		t.Errorf("final %.3f below all-int8 %.3f", rep.Final, rep.AllInt8)
	}
	acc, err := Accuracy(m, eval.X, eval.Labels, 64)
	if err != nil || acc != rep.Final {
		t.Errorf("returned model accuracy %.4f (err %v), report says %.4f", acc, err, rep.Final)
	}
	if np, _ := m.Plan().Node("linear1"); np.Role != FP32 {
		t.Errorf("linear1 role %v, want fp32", np.Role)
	}
}
