package ptq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/internal/testmodels"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fragileTasks caches the trained tasks of fragileTask by their config;
// tests only read them.
var fragileTasks sync.Map

type fragileEntry struct {
	once sync.Once
	task *testmodels.FragileTask
	err  error
}

// fragileTask returns testmodels.FragileMLP's MLP linear1, relu1, linear2,
// relu2, linear3 built to classify 8 Gaussian blobs exactly (100% on
// every set, chance is 12.5%), with outlier weights on the always-zero
// inputs of the given layers: FP32 unchanged, int8 weights Magnitude/127
// per step. An outlier of 1000 leaves the layer its bias only, so the
// model predicts one class: 12.5%. One of 100 on linear2 loses exactly
// its 2 weak classes of 8: 75%. Tests must not modify the result.
func fragileTask(t *testing.T, outliers ...testmodels.Outlier) *testmodels.FragileTask {
	t.Helper()
	cfg := testmodels.DefaultFragileConfig()
	cfg.Outliers = outliers
	v, _ := fragileTasks.LoadOrStore(fmt.Sprint(outliers), &fragileEntry{})
	e := v.(*fragileEntry)
	e.once.Do(func() { e.task, e.err = testmodels.FragileMLP(cfg) })
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.task
}

// analyze runs AnalyzeSensitivity on a task with the default config.
func analyze(t *testing.T, task *testmodels.FragileTask, eval *datasets.Dataset, opts SensitivityOptions) *SensitivityReport {
	t.Helper()
	rep, err := AnalyzeSensitivity(context.Background(), task.Model, BatchesOf(task.Train.X, 100), dataOf(eval), &opts)
	require.NoError(t, err)
	return rep
}

func TestSensitivityFindsFragileLayer(t *testing.T) {
	cases := []struct {
		name, layer string
		// minGap is how far the fragile layer's drop and recovery must lead
		// every other layer's, as a fraction of accuracy.
		minGap float64
		// maxSQNR bounds the fragile layer's own SQNR, minSQNR every other
		// layer's, in dB.
		maxSQNR, minSQNR float64
	}{
		{"first layer", "linear1", 0.875, 1, 38},
		{"hidden layer", "linear2", 0.875, 1, 38},
		{"output layer", "linear3", 0.875, 1, 38},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := fragileTask(t, testmodels.Outlier{Layer: c.layer, Magnitude: 1000})
			rep := analyze(t, task, task.Select, SensitivityOptions{Threshold: 0.05})
			if rep.Metric != MetricAccuracy || rep.FP32 != 1 || rep.AllInt8 != 0.125 || rep.Samples != task.Select.Len() || rep.Selection != task.Select.Name {
				t.Fatalf("metric %q, FP32 %.3f, all int8 %.3f, %d samples of %q: want accuracy 1 and 0.125 on the %d samples of %q",
					rep.Metric, rep.FP32, rep.AllInt8, rep.Samples, rep.Selection, task.Select.Len(), task.Select.Name)
			}
			if got := rep.Ranking(); got[0] != c.layer || len(got) != 3 {
				t.Fatalf("ranking %q, want %q first of 3\n%s", got, c.layer, rep.Markdown())
			}
			top := rep.Layers[0]
			for _, l := range rep.Layers[1:] {
				if top.Drop-l.Drop < c.minGap-1e-12 || top.Recovery-l.Recovery < c.minGap-1e-12 {
					t.Errorf("%s (drop %.3f, recovery %.3f) leads %s (drop %.3f, recovery %.3f) by less than %g",
						top.Layer, top.Drop, top.Recovery, l.Layer, l.Drop, l.Recovery, c.minGap)
				}
				if l.SQNR < c.minSQNR {
					t.Errorf("%s: SQNR %.2f dB with only it in int8, want >= %g: the fragile layer's error leaks into it", l.Layer, l.SQNR, c.minSQNR)
				}
			}
			if top.SQNR > c.maxSQNR {
				t.Errorf("%s: SQNR %.2f dB, want <= %g", top.Layer, top.SQNR, c.maxSQNR)
			}
			if !slices.Equal(rep.Sensitive, []string{c.layer}) {
				t.Errorf("sensitive = %q, want [%s]", rep.Sensitive, c.layer)
			}
		})
	}
}

func TestSensitivityThreshold(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000}, testmodels.Outlier{Layer: "linear2", Magnitude: 100})
	cases := []struct {
		name      string
		threshold float64
		want      []string
	}{
		{"zero marks none", 0, []string{}},
		{"below both", 0.05, []string{"linear1", "linear2"}},
		{"between", 0.4, []string{"linear1"}},
		{"above both", 0.9, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := analyze(t, task, task.Select, SensitivityOptions{Threshold: c.threshold})
			if !slices.Equal(rep.Sensitive, c.want) {
				t.Fatalf("threshold %g: sensitive %q, want %q\n%s", c.threshold, rep.Sensitive, c.want, rep.Markdown())
			}
		})
	}
}

func TestSensitivityWithoutLabels(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000})
	eval := &datasets.Dataset{Name: "unlabelled", X: task.Select.X}
	rep := analyze(t, task, eval, SensitivityOptions{})
	if rep.Metric != MetricSQNR || rep.FP32 != 200 {
		t.Fatalf("metric %q with FP32 %v, want %q with 200 dB", rep.Metric, rep.FP32, MetricSQNR)
	}
	if rep.Ranking()[0] != "linear1" {
		t.Fatalf("ranking %q, want linear1 first", rep.Ranking())
	}
	const fragileMax, othersMin = 1.0, 38.0 // dB
	for _, l := range rep.Layers {
		if (l.Layer == "linear1") != (l.OnlyThisInt8 < fragileMax) || (l.Layer != "linear1" && l.OnlyThisInt8 < othersMin) {
			t.Errorf("%s: output SQNR %.2f dB with only it in int8; want < %g for linear1, >= %g for the others", l.Layer, l.OnlyThisInt8, fragileMax, othersMin)
		}
	}
}

// TestSensitivityWorkersAndMethods runs every calibration method with
// several worker counts: under -race it checks that variants converted
// at once from one calibration do not race, and that the numbers do not
// depend on the number of workers.
func TestSensitivityWorkersAndMethods(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000}, testmodels.Outlier{Layer: "linear2", Magnitude: 100})
	for _, method := range quant.Methods() {
		t.Run(method.String(), func(t *testing.T) {
			var first *SensitivityReport
			for _, workers := range []int{1, 3} {
				cfg := Config{}
				cfg.Method = method
				// Two calibration batches: the entropy observer's qparams,
				// recomputed after every batch, dominate the time.
				rep, err := AnalyzeSensitivity(context.Background(), task.Model, BatchesOf(task.Train.X, 400), dataOf(task.Select), &SensitivityOptions{Config: cfg, Workers: workers, Threshold: 0.05})
				require.NoError(t, err)
				if rep.Ranking()[0] != "linear1" {
					t.Errorf("%d workers: ranking %q, want linear1 first", workers, rep.Ranking())
				}
				rep.Seconds = 0
				if first == nil {
					first = rep
					continue
				}
				if !reflect.DeepEqual(first, rep) {
					t.Errorf("%d workers give\n%s\n1 worker gives\n%s", workers, rep.Markdown(), first.Markdown())
				}
			}
		})
	}
}

func TestSensitivityReportFormats(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000}, testmodels.Outlier{Layer: "linear2", Magnitude: 100})
	rep := analyze(t, task, task.Select, SensitivityOptions{Threshold: 0.05})
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(buf.Bytes(), &top))
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"all_int8", "fp32", "layers", "metric", "samples", "schema", "seconds", "selection", "sensitive", "threshold"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("JSON fields %q, want %q (as documented on SensitivityReport)", keys, wantKeys)
	}
	if string(top["schema"]) != `"`+SensitivitySchema+`"` {
		t.Errorf("schema %s, want %q", top["schema"], SensitivitySchema)
	}
	var back SensitivityReport
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON does not read back (%v):\n%+v\n%+v", err, back, *rep)
	}

	buf.Reset()
	require.NoError(t, rep.WriteCSV(&buf))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+len(rep.Layers) || lines[0] != strings.Join(csvHeader, ",") {
		t.Errorf("CSV:\n%s\nwant the header and %d rows", buf.String(), len(rep.Layers))
	}
	if !strings.HasPrefix(lines[1], "1,linear1,Linear,0.125000,") {
		t.Errorf("CSV row 1 is %q, want linear1 with 0.125000 only-this-int8 accuracy", lines[1])
	}
	md := rep.Markdown()
	if want := fmt.Sprintf("on %d selection samples (%s)", task.Select.Len(), task.Select.Name); !strings.Contains(md, want) {
		t.Errorf("Markdown does not say %q:\n%s", want, md)
	}
	if n := strings.Count(md, "\n| "); n != 1+len(rep.Layers) {
		t.Errorf("Markdown has %d table rows, want %d:\n%s", n, 1+len(rep.Layers), md)
	}
}

// dataOf returns the samples, labels and name of d as evaluation Data.
func dataOf(d *datasets.Dataset) Data { return Data{X: d.X, Labels: d.Labels, Name: d.Name} }

func TestSensitivityRefuses(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000})
	cases := []struct {
		name      string
		eval      Data
		threshold float64
		want      error
	}{
		{"negative threshold", dataOf(task.Select), -0.1, ErrInvalidConfig},
		{"NaN threshold", dataOf(task.Select), math.NaN(), ErrInvalidConfig},
		{"infinite threshold", dataOf(task.Select), math.Inf(1), ErrInvalidConfig},
		{"no evaluation data", Data{}, 0.05, ErrNoEvaluationData},
		{"empty evaluation data", Data{X: tensor.New(0, 4)}, 0.05, ErrNoEvaluationData},
		{"labels and samples disagree", Data{X: task.Select.X, Labels: []int{1}}, 0.05, ErrShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := AnalyzeSensitivity(context.Background(), task.Model, BatchesOf(task.Train.X, 100), c.eval, &SensitivityOptions{Threshold: c.threshold})
			require.ErrorIs(t, err, c.want)
			assert.Nil(t, rep)
		})
	}
}

func TestFallbackMeetsBudget(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000}, testmodels.Outlier{Layer: "linear2", Magnitude: 100})
	cases := []struct {
		name     string
		budget   float64
		reverted []string
		// final is the accuracy of the returned model, the same on the
		// selection and the test samples: the model is built so that
		// every sample of a class fares alike.
		final float64
	}{
		{"all-int8 fits", 0.9, nil, 0.125},
		{"one layer", 0.35, []string{"linear1"}, 0.75},
		{"two layers", 0.01, []string{"linear1", "linear2"}, 1},
		{"zero budget", 0, []string{"linear1", "linear2"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rep, err := QuantizeWithBudget(context.Background(), task.Model, BatchesOf(task.Train.X, 100), dataOf(task.Select), &SensitivityOptions{MaxDrop: c.budget})
			require.NoError(t, err)
			var got []string
			for _, s := range rep.Reverted {
				got = append(got, s.Layer)
			}
			if !slices.Equal(got, c.reverted) || !rep.Met || rep.FP32-rep.Final > c.budget {
				t.Fatalf("reverted %q, want %q, and the budget met:\n%s", got, c.reverted, rep)
			}
			if want := fmt.Sprintf("on %d selection samples (%s)", task.Select.Len(), task.Select.Name); rep.Selection != task.Select.Name ||
				rep.Samples != task.Select.Len() || !strings.Contains(rep.String(), want) {
				t.Errorf("the report names %d samples of %q, want the %d selection samples of %q, and its text %q:\n%s",
					rep.Samples, rep.Selection, task.Select.Len(), task.Select.Name, want, rep)
			}
			acc, err := Accuracy(m, dataOf(task.Select), 64)
			if err != nil || acc != rep.Final || acc != c.final {
				t.Errorf("returned model accuracy %.4f on the selection samples (err %v), report says %.4f, want %.4f", acc, err, rep.Final, c.final)
			}
			test, err := Accuracy(m, dataOf(task.Test), 64)
			if err != nil || test != c.final {
				t.Errorf("returned model accuracy %.4f on the test samples (err %v), want %.4f", test, err, c.final)
			}
			for _, name := range got {
				if np, _ := m.Plan().Node(name); np.Role != FP32 {
					t.Errorf("%s role %v, want fp32", name, np.Role)
				}
			}
		})
	}
}

func TestFallbackRefuses(t *testing.T) {
	task := fragileTask(t, testmodels.Outlier{Layer: "linear1", Magnitude: 1000})
	cases := []struct {
		name   string
		budget float64
		eval   Data
		want   error
	}{
		{"negative budget", -0.01, dataOf(task.Select), ErrInvalidConfig},
		{"NaN budget", math.NaN(), dataOf(task.Select), ErrInvalidConfig},
		{"infinite budget", math.Inf(1), dataOf(task.Select), ErrInvalidConfig},
		{"no evaluation data", 0.01, Data{}, ErrNoEvaluationData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, rep, err := QuantizeWithBudget(context.Background(), task.Model, BatchesOf(task.Train.X, 100), c.eval, &SensitivityOptions{MaxDrop: c.budget})
			require.ErrorIs(t, err, c.want)
			assert.Nil(t, m)
			assert.Nil(t, rep)
		})
	}
}
