package steps

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/internal/testmodels"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func init() { addSteps("sensitivity", registerSensitivitySteps) }

// blobState is the blob classifier of a scenario: its calibration,
// selection and test samples (the selection samples with their labels
// unless a step removed them) and the always-zero input of each Linear
// layer. The model itself and its calibration batches live in ptqState,
// so that the quantization steps work on it.
type blobState struct {
	calib, selection, test *datasets.Dataset
	deadInputs             map[string]int
}

// sensitivityState holds the analyses a scenario ran; again is the second
// of two runs.
type sensitivityState struct {
	rep, again *ptq.SensitivityReport
}

func registerSensitivitySteps(sc *godog.ScenarioContext) {
	sc.Step(`^the blob classifier, calibrated on its (\d+) training samples in batches of (\d+)$`, theBlobClassifier)
	sc.Step(`^outlier weights of (-?\d+(?:\.\d+)? on linear\d+(?:(?:, | and )-?\d+(?:\.\d+)? on linear\d+)*)$`, outlierWeights)
	sc.Step(`^the selection samples have no labels$`, selectionWithoutLabels)

	sc.Step(`^the sensitivity of its layers is analysed on the selection samples(?: with a threshold of (-?\d+(?:\.\d+)?) points?)?$`, sensitivityAnalysed)
	sc.Step(`^the sensitivity of its layers is analysed on the selection samples once with (\d+) workers? and once with one worker per core$`, sensitivityAnalysedTwice)

	sc.Step(`^the analysis says it measured every number on the (\d+) selection samples, none of them a calibration or test sample$`, analysisNamesSelection)
	sc.Step(`^the analysis reports the layers (.+), each with its metric in both views, its drop, its recovery and its SQNR$`, analysisReportsLayers)
	sc.Step(`^no layer's drop or recovery exceeds (-?\d+(?:\.\d+)?) points?$`, noDropOrRecoveryExceeds)
	sc.Step(`^every layer's SQNR is at least (-?\d+(?:\.\d+)?) dB$`, everyLayerSQNRAtLeast)
	sc.Step(`^the all-int8 model's accuracy is within (-?\d+(?:\.\d+)?) points? of FP32's$`, allInt8Within)
	sc.Step(`^"([^"]+)" is the most sensitive layer$`, isMostSensitive)
	sc.Step(`^"([^"]+)" ranks first both by drop and by recovery, at least (-?\d+(?:\.\d+)?) points ahead of every other layer in each$`, ranksFirstInBothViews)
	sc.Step(`^the SQNR of "([^"]+)" is below (-?\d+(?:\.\d+)?) dB and that of every other layer at least (-?\d+(?:\.\d+)?) dB$`, layerSQNRBelowOthers)
	sc.Step(`^the sensitive layers, in rank order, are (.+)$`, theSensitiveLayersAre)
	sc.Step(`^the metric is the output SQNR in dB, the FP32 model scoring (-?\d+(?:\.\d+)?) dB$`, theMetricIsOutputSQNR)
	sc.Step(`^with only "([^"]+)" in int8 the output SQNR is below (-?\d+(?:\.\d+)?) dB, and with only any other layer in int8 at least (-?\d+(?:\.\d+)?) dB$`, onlyThisInt8SQNR)
	sc.Step(`^keeping only "([^"]+)" in FP32 raises the output SQNR over the all-int8 model's by at least (-?\d+(?:\.\d+)?) dB$`, keepingOnlyRaisesSQNR)
	sc.Step(`^both analyses rank the layers alike, with bit-identical numbers for every layer$`, bothAnalysesAlike)

	sc.Step(`^the Markdown report is a table with the columns (.+), one row per layer in rank order, accuracies in % to (\d+) decimals$`, markdownReport)
	sc.Step(`^the CSV report has the header "([^"]+)" and one row per layer in rank order, numbers to (\d+) decimals$`, csvReport)
	sc.Step(`^the JSON report is an object with exactly these fields, in this order:$`, jsonReportFields)
	sc.Step(`^every object in "layers" has exactly these fields, in this order:$`, jsonLayerFields)
	sc.Step(`^the JSON report reads back into the same analysis$`, jsonReadsBack)
}

// The blob classifier of features/sensitivity_analysis.feature and
// features/per_layer_fallback.feature, whose descriptions state these
// numbers; the rest are testmodels.DefaultFragileConfig's.
const (
	blobSeed        = 7
	blobTrain       = 800
	blobSelect      = 400
	blobTest        = 400
	blobEvalBatch   = 100
	blobMaxOutliers = 3
)

// blobEntry is the blob classifier, built once per process: it is never
// modified, and every scenario gets its own copy (blobTask).
type blobEntry struct {
	once sync.Once
	task *testmodels.FragileTask
	err  error
}

// blob is the blob classifier of the run's seed offset.
var blob blobEntry

// blobTask returns the blob classifier without outliers. Its model and
// data are copies the caller may change. Building it also checks that no
// sample is in two of its sets: the features promise that choices are
// judged on samples they were not made on.
func blobTask() (*testmodels.FragileTask, error) {
	blob.once.Do(func() {
		cfg := testmodels.DefaultFragileConfig()
		cfg.Seed, cfg.Train, cfg.Select, cfg.Test = seeded(blobSeed), blobTrain, blobSelect, blobTest
		blob.task, blob.err = testmodels.FragileMLP(cfg)
		if blob.err == nil {
			blob.err = disjoint(blob.task.Train, blob.task.Select, blob.task.Test)
		}
	})
	if blob.err != nil {
		return nil, blob.err
	}
	t := blob.task
	return &testmodels.FragileTask{Model: t.Model.Clone(), Train: t.Train.Clone(), Select: t.Select.Clone(), Test: t.Test.Clone(),
		DeadInputs: t.DeadInputs}, nil
}

// disjoint returns an error naming the first sample found in two of the
// sets, compared bit for bit.
func disjoint(sets ...*datasets.Dataset) error {
	seen := map[string]string{}
	for _, d := range sets {
		n := d.Len()
		if n == 0 {
			continue
		}
		row := d.X.Len() / n
		data := d.X.Data()
		for i := range n {
			key := string(tensorBytes(data[i*row : (i+1)*row]))
			if other, ok := seen[key]; ok {
				return fmt.Errorf("sample %d of %s is also in %s: the sets are not disjoint", i, d.Name, other)
			}
			seen[key] = d.Name
		}
	}
	return nil
}

// tensorBytes returns the bits of v, little-endian.
func tensorBytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		u := math.Float32bits(x)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

// theBlobClassifier makes the blob classifier the scenario's model, for
// the quantization steps (ptqState) and the training steps (modelState,
// dataState) alike: calibrated on its training samples in batches of
// batch, its held-out set (for the quantization steps) the test samples.
func theBlobClassifier(ctx context.Context, samples, batch int) error {
	if samples != blobTrain {
		return fmt.Errorf("the blob classifier has %d training samples, not %d", blobTrain, samples)
	}
	if batch < 1 {
		return fmt.Errorf("batches of %d samples: want at least 1", batch)
	}
	task, err := blobTask()
	if err != nil {
		return err
	}
	s := ptqOf(ctx)
	s.model = task.Model
	s.calib, s.calibX, s.calibBatch = ptq.BatchesOf(task.Train.X, batch), task.Train.X, batch
	s.heldOut = task.Test.X
	ms, ds := domainState[modelState](ctx), domainState[dataState](ctx)
	ms.model = task.Model
	ds.train, ds.test = task.Train, task.Test
	b := domainState[blobState](ctx)
	b.calib, b.selection, b.test, b.deadInputs = task.Train, task.Select, task.Test, task.DeadInputs
	return nil
}

var outlierPhrase = regexp.MustCompile(`^(-?\d+(?:\.\d+)?) on (linear\d+)$`)

// outlierWeights reads "1000 on linear1 and 100 on linear2" and puts each
// outlier on the always-zero input of its layer of the scenario's blob
// classifier.
func outlierWeights(ctx context.Context, list string) error {
	b := domainState[blobState](ctx)
	if b.deadInputs == nil {
		return errors.New("outlier weights need the blob classifier: a Given step must build it first")
	}
	parts := parseNames(list)
	if len(parts) == 0 || len(parts) > blobMaxOutliers {
		return fmt.Errorf("%d outliers in %q, want 1 to %d", len(parts), list, blobMaxOutliers)
	}
	for _, part := range parts {
		m := outlierPhrase.FindStringSubmatch(part)
		if m == nil {
			return fmt.Errorf(`outlier %q: write "<magnitude> on <layer>", for example "1000 on linear1"`, part)
		}
		v, err := strconv.ParseFloat(m[1], 32)
		if err != nil {
			return err
		}
		in, ok := b.deadInputs[m[2]]
		if !ok {
			return fmt.Errorf("outlier on %q: the blob classifier's Linear layers are linear1 to linear3", m[2])
		}
		if err := testmodels.AddWeightOutliers(ptqOf(ctx).model, m[2], in, float32(v)); err != nil {
			return err
		}
	}
	return nil
}

// selectionSamples returns the scenario's selection samples of the blob
// classifier.
func selectionSamples(ctx context.Context) (*datasets.Dataset, error) {
	b := domainState[blobState](ctx)
	if b.selection == nil {
		return nil, errors.New("the scenario has no selection samples: a Given step must build the blob classifier")
	}
	return b.selection, nil
}

// testSamples returns the scenario's labelled test samples of the blob
// classifier, on which the choices made on the selection samples are
// judged.
func testSamples(ctx context.Context) (*datasets.Dataset, error) {
	b := domainState[blobState](ctx)
	if b.test == nil {
		return nil, errors.New("the scenario has no test samples: a Given step must build the blob classifier")
	}
	return b.test, nil
}

// dataOf returns d as ptq evaluation data, with its name.
func dataOf(d *datasets.Dataset) ptq.Data { return ptq.Data{X: d.X, Labels: d.Labels, Name: d.Name} }

func selectionWithoutLabels(ctx context.Context) error {
	d, err := selectionSamples(ctx)
	if err != nil {
		return err
	}
	domainState[blobState](ctx).selection = &datasets.Dataset{Name: d.Name + " without labels", X: d.X}
	return nil
}

// analyse runs the sensitivity analysis of the scenario's model on its
// selection samples.
func analyse(ctx context.Context, threshold float64, workers int) (*ptq.SensitivityReport, error) {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return nil, err
	}
	sel, err := selectionSamples(ctx)
	if err != nil {
		return nil, err
	}
	return ptq.AnalyzeSensitivity(ctx, s.model, s.calib, dataOf(sel), &ptq.SensitivityOptions{Config: s.cfg, Threshold: threshold, Workers: workers, BatchSize: blobEvalBatch})
}

func sensitivityAnalysed(ctx context.Context, points string) error {
	threshold := 0.0
	if points != "" {
		v, err := strconv.ParseFloat(points, 64)
		if err != nil {
			return err
		}
		threshold = v / 100
	}
	rep, err := analyse(ctx, threshold, 0)
	if err != nil {
		return err
	}
	domainState[sensitivityState](ctx).rep = rep
	return nil
}

func sensitivityAnalysedTwice(ctx context.Context, workers int) error {
	a, err := analyse(ctx, 0, workers)
	if err != nil {
		return err
	}
	b, err := analyse(ctx, 0, runtime.NumCPU())
	if err != nil {
		return err
	}
	ss := domainState[sensitivityState](ctx)
	ss.rep, ss.again = a, b
	return nil
}

// analysisNamesSelection checks that the analysis names the selection
// samples as the data it measured on, and that those share no sample with
// the calibration and test samples.
func analysisNamesSelection(ctx context.Context, n int) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	b := domainState[blobState](ctx)
	if b.selection == nil || b.calib == nil || b.test == nil {
		return errors.New("the scenario has no blob classifier data")
	}
	if rep.Selection != b.selection.Name || rep.Samples != n || b.selection.Len() != n {
		return fmt.Errorf("the analysis says it measured on %d samples of %q; the selection samples are %d of %q, want %d",
			rep.Samples, rep.Selection, b.selection.Len(), b.selection.Name, n)
	}
	if md := rep.Markdown(); !strings.Contains(md, b.selection.Name) {
		return fmt.Errorf("the Markdown report does not name the selection samples %q:\n%s", b.selection.Name, md)
	}
	return disjoint(b.calib, b.selection, b.test)
}

// theAnalysis returns the scenario's sensitivity report.
func theAnalysis(ctx context.Context) (*ptq.SensitivityReport, error) {
	rep := domainState[sensitivityState](ctx).rep
	if rep == nil {
		return nil, errors.New("no sensitivity analysis ran: a When step must analyse the model")
	}
	return rep, nil
}

// analysisLayer returns the row of one layer.
func analysisLayer(rep *ptq.SensitivityReport, name string) (ptq.LayerSensitivity, error) {
	for _, l := range rep.Layers {
		if l.Layer == name {
			return l, nil
		}
	}
	return ptq.LayerSensitivity{}, fmt.Errorf("the analysis has no layer %q; it has %q", name, rep.Ranking())
}

// metricNames words the metrics of a sensitivity analysis.
var metricNames = map[ptq.Metric]string{ptq.MetricAccuracy: "accuracy", ptq.MetricSQNR: "the output SQNR"}

// analysisOf returns the scenario's sensitivity report, which must have
// measured metric.
func analysisOf(ctx context.Context, metric ptq.Metric) (*ptq.SensitivityReport, error) {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return nil, err
	}
	if rep.Metric != metric {
		return nil, fmt.Errorf("the analysis measured %s, not %s", rep.Metric, metricNames[metric])
	}
	return rep, nil
}

// sameFloat compares derived quantities computed in float64.
func sameFloat(a, b float64) bool { return math.Abs(a-b) <= 1e-12*max(1, math.Abs(a), math.Abs(b)) }

func analysisReportsLayers(ctx context.Context, list string) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	want := parseNames(list)
	got := rep.Ranking()
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		return fmt.Errorf("the analysis reports the layers %q, want %q", got, want)
	}
	hi := 200.0
	if rep.Metric == ptq.MetricAccuracy {
		hi = 1
	}
	for _, l := range rep.Layers {
		for _, v := range []float64{l.OnlyThisInt8, l.OnlyThisFP32} {
			if !(v >= 0 && v <= hi) {
				return fmt.Errorf("layer %q: a metric of %v is outside [0, %v]", l.Layer, v, hi)
			}
		}
		if !sameFloat(l.Drop, rep.FP32-l.OnlyThisInt8) || !sameFloat(l.Recovery, l.OnlyThisFP32-rep.AllInt8) {
			return fmt.Errorf("layer %q: drop %v and recovery %v do not follow from FP32 %v, all-int8 %v and its views %v and %v",
				l.Layer, l.Drop, l.Recovery, rep.FP32, rep.AllInt8, l.OnlyThisInt8, l.OnlyThisFP32)
		}
		if l.Kind == "" || math.IsNaN(l.SQNR) || l.SQNR > 200 {
			return fmt.Errorf("layer %q: kind %q and SQNR %v", l.Layer, l.Kind, l.SQNR)
		}
	}
	return nil
}

func noDropOrRecoveryExceeds(ctx context.Context, points float64) error {
	rep, err := analysisOf(ctx, ptq.MetricAccuracy)
	if err != nil {
		return err
	}
	var bad []string
	worst, worstName := math.Inf(-1), ""
	for _, l := range rep.Layers {
		if v := 100 * max(l.Drop, l.Recovery); !(v <= worst) {
			worst, worstName = v, l.Layer
		}
		if l.Drop > points/100+1e-9 || l.Recovery > points/100+1e-9 {
			bad = append(bad, fmt.Sprintf("%s: drop %.2f, recovery %.2f points", l.Layer, 100*l.Drop, 100*l.Recovery))
		}
	}
	fail := func() error { return fmt.Errorf("above %g points: %s", points, strings.Join(bad, "; ")) }
	if worstName != "" {
		c := criterion{measured: "largest drop or recovery (" + worstName + ")", unit: "points", direction: atMost, threshold: points, value: worst, slack: 1e-7}
		if err := check(ctx, c, fail); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fail()
	}
	return nil
}

func everyLayerSQNRAtLeast(ctx context.Context, db float64) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	var worst *ptq.LayerSensitivity
	for i, l := range rep.Layers {
		if worst == nil || !(l.SQNR >= worst.SQNR) {
			worst = &rep.Layers[i]
		}
	}
	if worst == nil {
		return errors.New("the analysis has no layer: the step checks nothing")
	}
	c := criterion{measured: "lowest layer SQNR (" + worst.Layer + ")", unit: "dB", direction: atLeast, threshold: db, value: worst.SQNR}
	return check(ctx, c, func() error {
		return fmt.Errorf("layer %q has an SQNR of %.2f dB, want at least %g dB", worst.Layer, worst.SQNR, db)
	})
}

func allInt8Within(ctx context.Context, points float64) error {
	rep, err := analysisOf(ctx, ptq.MetricAccuracy)
	if err != nil {
		return err
	}
	d := math.Abs(rep.AllInt8 - rep.FP32)
	c := criterion{measured: "all-int8 accuracy difference to FP32", unit: "points", direction: within, threshold: points, value: 100 * d, slack: 1e-7}
	return check(ctx, c, func() error {
		return fmt.Errorf("the all-int8 model's accuracy is %.2f%%, FP32's %.2f%%: %.2f points apart, want at most %g",
			100*rep.AllInt8, 100*rep.FP32, 100*d, points)
	})
}

func isMostSensitive(ctx context.Context, name string) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	if r := rep.Ranking(); len(r) == 0 || r[0] != name {
		return fmt.Errorf("the layers rank %q, want %q first\n%s", r, name, rep.Markdown())
	}
	return nil
}

func ranksFirstInBothViews(ctx context.Context, name string, points float64) error {
	rep, err := analysisOf(ctx, ptq.MetricAccuracy)
	if err != nil {
		return err
	}
	top, err := analysisLayer(rep, name)
	if err != nil {
		return err
	}
	var next *ptq.LayerSensitivity
	lead := math.Inf(1)
	for i, l := range rep.Layers {
		if l.Layer == name {
			continue
		}
		if v := 100 * min(top.Drop-l.Drop, top.Recovery-l.Recovery); !(v >= lead) {
			lead, next = v, &rep.Layers[i]
		}
	}
	if next == nil {
		return nil
	}
	c := criterion{measured: fmt.Sprintf("lead of %q over the next layer (%s) in drop and recovery", name, next.Layer), unit: "points", direction: atLeast, threshold: points, value: lead}
	return check(ctx, c, func() error {
		return fmt.Errorf("%q (drop %.2f, recovery %.2f points) is not %g points ahead of %q (drop %.2f, recovery %.2f points)",
			name, 100*top.Drop, 100*top.Recovery, points, next.Layer, 100*next.Drop, 100*next.Recovery)
	})
}

// oneBelowOthersAtLeast checks that, of every layer's value in dB, that of
// the layer name is below below and every other at least others. what
// words a layer's value, as in "%q has an SQNR of %.2f dB".
func oneBelowOthersAtLeast(ctx context.Context, rep *ptq.SensitivityReport, name string, below, others float64,
	value func(ptq.LayerSensitivity) float64, what, label string) error {
	top, err := analysisLayer(rep, name)
	if err != nil {
		return err
	}
	v := value(top)
	c := criterion{measured: fmt.Sprintf(label, name), unit: "dB", direction: lessThan, threshold: below, value: v}
	if err := check(ctx, c, func() error { return fmt.Errorf(what+", want below %g dB", name, v, below) }); err != nil {
		return err
	}
	var worst *ptq.LayerSensitivity
	for i, l := range rep.Layers {
		if l.Layer != name && (worst == nil || !(value(l) >= value(*worst))) {
			worst = &rep.Layers[i]
		}
	}
	if worst == nil {
		return nil
	}
	w := value(*worst)
	c = criterion{measured: "lowest of the others: " + fmt.Sprintf(label, worst.Layer), unit: "dB", direction: atLeast, threshold: others, value: w}
	return check(ctx, c, func() error { return fmt.Errorf(what+", want at least %g dB", worst.Layer, w, others) })
}

func layerSQNRBelowOthers(ctx context.Context, name string, below, others float64) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	return oneBelowOthersAtLeast(ctx, rep, name, below, others,
		func(l ptq.LayerSensitivity) float64 { return l.SQNR }, "%q has an SQNR of %.2f dB", "SQNR of %q")
}

// namesOrNone reads a list of names, "none" being the empty list.
func namesOrNone(list string) []string {
	if strings.TrimSpace(list) == "none" {
		return []string{}
	}
	return parseNames(list)
}

func theSensitiveLayersAre(ctx context.Context, list string) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	want := namesOrNone(list)
	if !slices.Equal(rep.Sensitive, want) {
		return fmt.Errorf("the sensitive layers are %q, want %q\n%s", rep.Sensitive, want, rep.Markdown())
	}
	for _, l := range rep.Layers {
		if l.Sensitive != slices.Contains(want, l.Layer) {
			return fmt.Errorf("layer %q is marked sensitive: %v", l.Layer, l.Sensitive)
		}
	}
	return nil
}

func theMetricIsOutputSQNR(ctx context.Context, db float64) error {
	rep, err := analysisOf(ctx, ptq.MetricSQNR)
	if err != nil {
		return err
	}
	if rep.FP32 != db {
		return fmt.Errorf("the FP32 model scores %v dB, want %g dB", rep.FP32, db)
	}
	return nil
}

func onlyThisInt8SQNR(ctx context.Context, name string, below, others float64) error {
	rep, err := analysisOf(ctx, ptq.MetricSQNR)
	if err != nil {
		return err
	}
	return oneBelowOthersAtLeast(ctx, rep, name, below, others,
		func(l ptq.LayerSensitivity) float64 { return l.OnlyThisInt8 }, "with only %q in int8 the output SQNR is %.2f dB", "output SQNR with only %q in int8")
}

func keepingOnlyRaisesSQNR(ctx context.Context, name string, db float64) error {
	rep, err := analysisOf(ctx, ptq.MetricSQNR)
	if err != nil {
		return err
	}
	l, err := analysisLayer(rep, name)
	if err != nil {
		return err
	}
	c := criterion{measured: fmt.Sprintf("output SQNR gain from keeping only %q in FP32", name), unit: "dB", direction: atLeast, threshold: db, value: l.Recovery}
	return check(ctx, c, func() error {
		return fmt.Errorf("keeping only %q in FP32 gives %.2f dB against %.2f dB all-int8: %.2f dB more, want at least %g",
			name, l.OnlyThisFP32, rep.AllInt8, l.Recovery, db)
	})
}

func bothAnalysesAlike(ctx context.Context) error {
	ss := domainState[sensitivityState](ctx)
	a, b := ss.rep, ss.again
	if a == nil || b == nil {
		return errors.New("the model was not analysed twice")
	}
	if !slices.Equal(a.Ranking(), b.Ranking()) || !slices.Equal(a.Sensitive, b.Sensitive) {
		return fmt.Errorf("the analyses rank %q and %q", a.Ranking(), b.Ranking())
	}
	bits := func(vs ...float64) []uint64 {
		out := make([]uint64, len(vs))
		for i, v := range vs {
			out[i] = math.Float64bits(v)
		}
		return out
	}
	if !slices.Equal(bits(a.FP32, a.AllInt8), bits(b.FP32, b.AllInt8)) {
		return fmt.Errorf("FP32 and all-int8 metrics %v, %v and %v, %v differ", a.FP32, a.AllInt8, b.FP32, b.AllInt8)
	}
	for i, x := range a.Layers {
		y := b.Layers[i]
		if !slices.Equal(bits(x.OnlyThisInt8, x.OnlyThisFP32, x.Drop, x.Recovery, x.SQNR), bits(y.OnlyThisInt8, y.OnlyThisFP32, y.Drop, y.Recovery, y.SQNR)) ||
			x.Kind != y.Kind || x.Sensitive != y.Sensitive {
			return fmt.Errorf("layer %q differs between the analyses: %+v and %+v", x.Layer, x, y)
		}
	}
	return nil
}

// cellNumber reads a number from a report cell such as "63.25%" or "1.0".
func cellNumber(cell string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(cell), "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("cell %q is not a number", cell)
	}
	return v, nil
}

// splitRow splits a Markdown table row "| a | b |" into trimmed cells.
func splitRow(line string) []string {
	cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func markdownReport(ctx context.Context, columns string, decimals int) error {
	rep, err := analysisOf(ctx, ptq.MetricAccuracy)
	if err != nil {
		return err
	}
	md := rep.Markdown()
	var rows [][]string
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "|") {
			rows = append(rows, splitRow(line))
		}
	}
	want := parseNames(columns)
	if len(rows) < 2 || !slices.Equal(rows[0], want) {
		return fmt.Errorf("the Markdown table's header is %q, want %q:\n%s", firstRow(rows), want, md)
	}
	rows = rows[2:] // header and alignment row
	if len(rows) != len(rep.Layers) {
		return fmt.Errorf("the Markdown table has %d rows, the analysis %d layers:\n%s", len(rows), len(rep.Layers), md)
	}
	tol := 0.5*math.Pow(10, -float64(decimals)) + 1e-9
	for i, l := range rep.Layers {
		r := rows[i]
		if len(r) != len(want) || r[0] != strconv.Itoa(i+1) || r[1] != l.Layer || r[2] != l.Kind {
			return fmt.Errorf("row %d reads %q, want rank %d, layer %q, kind %q", i+1, r, i+1, l.Layer, l.Kind)
		}
		for j, v := range []float64{l.OnlyThisInt8, l.OnlyThisFP32, l.Drop, l.Recovery} {
			got, err := cellNumber(r[3+j])
			if err != nil {
				return fmt.Errorf("row %d: %w", i+1, err)
			}
			if !strings.HasSuffix(r[3+j], "%") || math.Abs(got-100*v) > tol || len(r[3+j]) != len(strconv.FormatFloat(got, 'f', decimals, 64))+1 {
				return fmt.Errorf("row %d, column %q reads %q for %.6f%%", i+1, want[3+j], r[3+j], 100*v)
			}
		}
		if sq, err := cellNumber(r[7]); err != nil || math.Abs(sq-l.SQNR) > 0.05+1e-9 {
			return fmt.Errorf("row %d: SQNR cell %q for %.3f dB", i+1, r[7], l.SQNR)
		}
		if (r[8] == "yes") != l.Sensitive {
			return fmt.Errorf("row %d: sensitive cell %q for %v", i+1, r[8], l.Sensitive)
		}
	}
	return nil
}

func csvReport(ctx context.Context, header string, decimals int) error {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		return err
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		return fmt.Errorf("the CSV report does not parse: %w", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != header {
		return fmt.Errorf("the CSV header is %q, want %q", firstRow(recs), header)
	}
	if len(recs)-1 != len(rep.Layers) {
		return fmt.Errorf("the CSV report has %d rows, the analysis %d layers", len(recs)-1, len(rep.Layers))
	}
	tol := 0.5*math.Pow(10, -float64(decimals)) + 1e-12
	for i, l := range rep.Layers {
		r := recs[i+1]
		if r[0] != strconv.Itoa(i+1) || r[1] != l.Layer || r[2] != l.Kind || r[8] != strconv.FormatBool(l.Sensitive) {
			return fmt.Errorf("CSV row %d reads %q for %+v", i+1, r, l)
		}
		for j, v := range []float64{l.OnlyThisInt8, l.OnlyThisFP32, l.Drop, l.Recovery, l.SQNR} {
			got, err := cellNumber(r[3+j])
			if err != nil || math.Abs(got-v) > tol || !strings.Contains(r[3+j], ".") || len(r[3+j])-strings.Index(r[3+j], ".")-1 != decimals {
				return fmt.Errorf("CSV row %d, column %q reads %q for %v", i+1, recs[0][3+j], r[3+j], v)
			}
		}
	}
	return nil
}

// jsonField is one field of a JSON object, in document order.
type jsonField struct {
	name string
	raw  json.RawMessage
}

// orderedFields reads a JSON object's fields in the order they appear.
func orderedFields(raw []byte) ([]jsonField, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %.60s", raw)
	}
	var fields []jsonField
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields = append(fields, jsonField{t.(string), v})
	}
	return fields, nil
}

// jsonType names the type of a JSON value as the features do: string,
// number, integer, boolean, array of strings, array of objects, ...
func jsonType(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "invalid"
	}
	return typeName(v)
}

func typeName(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			return "integer"
		}
		return "number"
	case map[string]any:
		return "object"
	case []any:
		if len(x) == 0 {
			return "array"
		}
		elem := typeName(x[0])
		for _, e := range x[1:] {
			if typeName(e) != elem {
				return "array"
			}
		}
		if elem == "integer" {
			elem = "number"
		}
		return "array of " + elem + "s"
	case nil:
		return "null"
	}
	return "invalid"
}

// typeMatches says whether a value of type got may stand where the
// schema says want: an integer is a number too.
func typeMatches(got, want string) bool {
	return got == want || (want == "number" && got == "integer")
}

// checkFields compares an object's fields, in order, with the rows of a
// table of field, type and optionally value.
func checkFields(what string, raw []byte, rows []map[string]string) error {
	fields, err := orderedFields(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var got, want []string
	for _, f := range fields {
		got = append(got, f.name)
	}
	for _, r := range rows {
		want = append(want, r["field"])
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s has the fields %q, want %q", what, got, want)
	}
	for i, r := range rows {
		f := fields[i]
		if t := jsonType(f.raw); !typeMatches(t, r["type"]) {
			return fmt.Errorf("%s: field %q is %s (%s), want %s", what, f.name, t, f.raw, r["type"])
		}
		if r["value"] == "" {
			continue
		}
		var a, b any
		if err := json.Unmarshal([]byte(r["value"]), &b); err != nil {
			return fmt.Errorf("the table's value %q of %q is not JSON: %w", r["value"], f.name, err)
		}
		if err := json.Unmarshal(f.raw, &a); err != nil || !reflect.DeepEqual(a, b) {
			return fmt.Errorf("%s: field %q is %s, want %s", what, f.name, f.raw, r["value"])
		}
	}
	return nil
}

// reportJSON returns the analysis written as JSON.
func reportJSON(ctx context.Context) (*ptq.SensitivityReport, []byte, error) {
	rep, err := theAnalysis(ctx)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		return nil, nil, err
	}
	return rep, buf.Bytes(), nil
}

func jsonReportFields(ctx context.Context, table *godog.Table) error {
	_, raw, err := reportJSON(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "field", "type")
	if err != nil {
		return err
	}
	return checkFields("the JSON report", raw, rows)
}

func jsonLayerFields(ctx context.Context, table *godog.Table) error {
	_, raw, err := reportJSON(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "field", "type")
	if err != nil {
		return err
	}
	var doc struct {
		Layers []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	if len(doc.Layers) == 0 {
		return errors.New(`the JSON report's "layers" is empty`)
	}
	for i, l := range doc.Layers {
		if err := checkFields(fmt.Sprintf("layers[%d]", i), l, rows); err != nil {
			return err
		}
	}
	return nil
}

func jsonReadsBack(ctx context.Context) error {
	rep, raw, err := reportJSON(ctx)
	if err != nil {
		return err
	}
	var back ptq.SensitivityReport
	if err := json.Unmarshal(raw, &back); err != nil {
		return fmt.Errorf("the JSON report does not read back: %w", err)
	}
	if !reflect.DeepEqual(&back, rep) {
		return fmt.Errorf("the JSON report reads back as\n%+v\nnot\n%+v", back, *rep)
	}
	return nil
}

// firstRow returns the first row of a table, or nil when it has none, for
// messages about a table that may be empty.
func firstRow(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}
