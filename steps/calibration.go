package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("calibration", registerCalibrationSteps) }

// Seeds of the calibration and held-out samples: two different streams,
// so held-out data is never calibration data.
const (
	calibrationSeed = 101
	heldOutSeed     = 202
)

func registerCalibrationSteps(sc *godog.ScenarioContext) {
	// Data.
	sc.Step(`^a calibration set of (\d+) standard normal samples in batches of (\d+)$`, aNormalCalibrationSet)
	sc.Step(`^a calibration set of (\d+) standard normal samples of shape (\d+(?:x\d+)*) in batches of (\d+)$`, aCalibrationSetOfShape)
	sc.Step(`^a calibration set of (\d+) all-zero samples in batches of (\d+)$`, anAllZeroCalibrationSet)
	sc.Step(`^a calibration set of (\d+) samples whose features all equal one value, running evenly from (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?), in batches of (\d+)$`, anEvenCalibrationSet)
	sc.Step(`^a calibration set of (\d+) batches of (\d+) standard normal samples where sample (\d+) of batch (\d+) holds NaN$`, aCalibrationSetWithNaN)
	sc.Step(`^an empty calibration set$`, anEmptyCalibrationSet)
	sc.Step(`^a held-out set of (\d+) standard normal samples$`, aHeldOutSet)
	sc.Step(`^a calibration set of (\d+) standard normal samples in batches of (\d+), read twice$`, aNormalSetReadTwice)
	sc.Step(`^a calibration stream of batches of (\d+) samples running evenly from (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?), each batch scaled by the next of (.+)$`, aScaledStream)
	sc.Step(`^a calibration set of the first ([\d,]+) MNIST training images in batches of (\d+)$`, anMNISTCalibrationSet)

	// Options.
	sc.Step(`^calibration counts as converged when every scale moves by at most (\d+(?:\.\d+)?)% for (\d+) consecutive batches$`, convergenceRule)
	sc.Step(`^calibration stops early once converged$`, calibrationStopsEarly)
	sc.Step(`^calibration is limited to (\d+) batches$`, calibrationLimitedTo)

	// Outcomes.
	sc.Step(`^calibration saw (\d+) batch(?:es)? and (\d+) samples?$`, calibrationSaw)
	sc.Step(`^calibration observed exactly these tensors, each over (\d+) batches and (\d+) samples:$`, calibrationObservedTensors)
	sc.Step(`^every observed tensor has a finite range with its minimum below its maximum$`, everyRangeFinite)
	sc.Step(`^these tensors were observed over these ranges:$`, tensorsObservedOverRanges)
	sc.Step(`^tensor "([^"]+)" gets scale (\d+(?:\.\d+)?) to 6 significant digits and zero point (-?\d+)$`, tensorGetsQParams)
	sc.Step(`^the weights of "([^"]+)" get the scales (.+) to 6 significant digits, with zero point 0$`, weightsGetScales)
	sc.Step(`^the int8 weights of "([^"]+)" are the codes:$`, weightsAreCodes)
	sc.Step(`^every observed tensor gets exactly the scale and zero point that one batch of all (\d+) samples gives$`, sameAsOneBatch)
	sc.Step(`^every observed tensor gets a positive, finite scale$`, everyScalePositive)
	sc.Step(`^calibration converged within (\d+) batches and stayed converged to the end$`, convergedForGoodWithin)
	sc.Step(`^calibration went through all (\d+) batches$`, wentThroughAll)
	sc.Step(`^calibration stopped right after the batch at which a full calibration on the same data first converged$`, stoppedAtFirstConvergence)
	sc.Step(`^no batch of the second pass moves any scale by more than (\d+(?:\.\d+)?)%$`, secondPassStill)
	sc.Step(`^the calibration history reads:$`, historyReads)
	sc.Step(`^calibration is converged at the end, since batch (\d+)$`, convergedAtEndSince)
	sc.Step(`^calibration is not converged at the end$`, notConvergedAtEnd)
	sc.Step(`^calibration converged within (\d+) batches, for the first time$`, convergedAtSomeBatch)
	sc.Step(`^a later batch lost convergence at least (\d+) times?, moving a scale by more than (\d+(?:\.\d+)?)%$`, lostAtLeast)
	sc.Step(`^calibration saw at most (\d+) of the (\d+) batches$`, sawAtMost)
	sc.Step(`^the calibration history holds (\d+) entries, the samples seen so far growing by (\d+) per batch$`, historyEntries)
	sc.Step(`^each history entry records the largest relative change of any scale in its batch, 0 for the first$`, historyChanges)
	sc.Step(`^the history marks calibration converged after exactly the batches where the rule holds, and the result is the mark of the last batch$`, historyConvergedFlags)
}

// setCalibration makes d, in batches of size, the scenario's calibration
// set.
func (s *ptqState) setCalibration(d *datasets.Dataset, size int) {
	s.calib, s.calibX, s.calibBatch = ptq.BatchesOf(d.X, size), d.X, size
}

func aNormalCalibrationSet(ctx context.Context, n, size int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	s.setCalibration(datasets.Gaussian(n, s.model.InputShape(), 0, 1, seeded(calibrationSeed)), size)
	return nil
}

func aCalibrationSetOfShape(ctx context.Context, n int, shape string, size int) error {
	dims, err := parseShape(shape)
	if err != nil {
		return err
	}
	ptqOf(ctx).setCalibration(datasets.Gaussian(n, dims, 0, 1, seeded(calibrationSeed)), size)
	return nil
}

func anAllZeroCalibrationSet(ctx context.Context, n, size int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	s.setCalibration(datasets.Constant(n, s.model.InputShape(), 0), size)
	return nil
}

func anEvenCalibrationSet(ctx context.Context, n int, lo, hi float64, size int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("values running from %g to %g need at least 2 samples, got %d", lo, hi, n)
	}
	x := tensor.New(append([]int{n}, s.model.InputShape()...)...)
	row := x.RowLen()
	for i := range n {
		v := float32(lo + (hi-lo)*float64(i)/float64(n-1))
		for j := range row {
			x.Data()[i*row+j] = v
		}
	}
	s.setCalibration(&datasets.Dataset{Name: "evenly spaced", X: x}, size)
	return nil
}

func aCalibrationSetWithNaN(ctx context.Context, batches, size, sample, batch int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	if batch >= batches || sample >= size {
		return fmt.Errorf("sample %d of batch %d is outside %d batches of %d", sample, batch, batches, size)
	}
	d := datasets.Gaussian(batches*size, s.model.InputShape(), 0, 1, seeded(calibrationSeed))
	row := d.X.RowLen()
	d.X.Data()[(batch*size+sample)*row] = float32(math.NaN())
	s.setCalibration(d, size)
	return nil
}

func anEmptyCalibrationSet(ctx context.Context) error {
	s := ptqOf(ctx)
	s.calib, s.calibX, s.calibBatch = func(func(*tensor.Tensor, error) bool) {}, nil, 0
	return nil
}

func aNormalSetReadTwice(ctx context.Context, n, size int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	if n%size != 0 {
		return fmt.Errorf("%d samples do not split into whole batches of %d: the second pass would not repeat the first batch by batch", n, size)
	}
	d := datasets.Gaussian(n, s.model.InputShape(), 0, 1, seeded(calibrationSeed))
	x := tensor.New(append([]int{2 * n}, s.model.InputShape()...)...)
	copy(x.Data(), d.X.Data())
	copy(x.Data()[len(d.X.Data()):], d.X.Data())
	s.setCalibration(&datasets.Dataset{Name: "standard normal, read twice", X: x}, size)
	return nil
}

// aScaledStream is a stream of equal batches of evenly spaced values
// (every feature of a sample holding the same value), batch k multiplied
// by the k-th amplitude: on a model without bias every activation range,
// and so every scale, follows the largest amplitude so far exactly.
func aScaledStream(ctx context.Context, size int, lo, hi float64, list string) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	amps, err := parseFloats(list)
	if err != nil {
		return err
	}
	if size < 2 || len(amps) == 0 {
		return fmt.Errorf("a stream needs batches of at least 2 samples and at least one amplitude, got %d and %v", size, amps)
	}
	row := 1
	for _, d := range s.model.InputShape() {
		row *= d
	}
	x := tensor.New(append([]int{size * len(amps)}, s.model.InputShape()...)...)
	for k, a := range amps {
		for i := range size {
			v := float32(a * (lo + (hi-lo)*float64(i)/float64(size-1)))
			for j := range row {
				x.Data()[(k*size+i)*row+j] = v
			}
		}
	}
	s.setCalibration(&datasets.Dataset{Name: "scaled evenly spaced batches", X: x}, size)
	return nil
}

// anMNISTCalibrationSet calibrates the scenario's trained MNIST model
// (modelState) on the first training images.
func anMNISTCalibrationSet(ctx context.Context, count string, size int) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	s := ptqOf(ctx)
	if s.model == nil {
		s.model = domainState[modelState](ctx).model
	}
	if err := s.needModel(); err != nil {
		return err
	}
	train, _, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	d, err := mnistFirst(train, n, false)
	if err != nil {
		return err
	}
	s.setCalibration(d, size)
	return nil
}

func aHeldOutSet(ctx context.Context, n int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	s.heldOut = datasets.Gaussian(n, s.model.InputShape(), 0, 1, seeded(heldOutSeed)).X
	return nil
}

func convergenceRule(ctx context.Context, pct float64, patience int) error {
	s := ptqOf(ctx)
	s.cfg.Calibration.Tolerance, s.cfg.Calibration.Patience = pct/100, patience
	return nil
}

func calibrationStopsEarly(ctx context.Context) error {
	ptqOf(ctx).cfg.Calibration.EarlyStop = true
	return nil
}

func calibrationLimitedTo(ctx context.Context, n int) error {
	ptqOf(ctx).cfg.Calibration.MaxBatches = n
	return nil
}

// calibrated returns the state of a scenario whose calibration succeeded.
func calibrated(ctx context.Context) (*ptqState, error) {
	s := ptqOf(ctx)
	if err := stateFrom(ctx).lastErr(); err != nil {
		return nil, fmt.Errorf("calibration was refused: %w", err)
	}
	if s.prepared == nil {
		return nil, errors.New("the model was not calibrated: a When step must calibrate it")
	}
	return s, nil
}

func calibrationSaw(ctx context.Context, batches, samples int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if b, n := s.prepared.Batches(), s.prepared.Samples(); b != batches || n != samples {
		return fmt.Errorf("calibration saw %d batches and %d samples, want %d and %d", b, n, batches, samples)
	}
	return nil
}

func calibrationObservedTensors(ctx context.Context, batches, samples int, table *godog.Table) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "tensor", "needed by")
	if err != nil {
		return err
	}
	obs := s.prepared.Observed()
	var got, want []string
	for _, o := range obs {
		got = append(got, o.Tensor+" <- "+o.Owner)
	}
	for _, r := range rows {
		want = append(want, r["tensor"]+" <- "+r["needed by"])
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("observed tensors (tensor <- needed by) are %q, want %q", got, want)
	}
	for _, o := range obs {
		st, _ := s.prepared.Stats(o.Tensor)
		if st.Batches != batches || st.Samples != int64(samples) {
			return fmt.Errorf("tensor %q was observed over %d batches and %d samples, want %d and %d",
				o.Tensor, st.Batches, st.Samples, batches, samples)
		}
	}
	return nil
}

func everyRangeFinite(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	observed := s.prepared.Observed()
	if len(observed) == 0 {
		return errors.New("calibration observed no tensor: the step checks nothing")
	}
	for _, o := range observed {
		st, _ := s.prepared.Stats(o.Tensor)
		if math.IsNaN(float64(st.Min)) || math.IsInf(float64(st.Min), 0) || math.IsInf(float64(st.Max), 0) || !(st.Min < st.Max) {
			return fmt.Errorf("tensor %q has range [%g, %g]", o.Tensor, st.Min, st.Max)
		}
	}
	return nil
}

func tensorsObservedOverRanges(ctx context.Context, table *godog.Table) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "tensor", "min", "max")
	if err != nil {
		return err
	}
	for _, r := range rows {
		st, ok := s.prepared.Stats(r["tensor"])
		if !ok {
			return fmt.Errorf("tensor %q was not observed", r["tensor"])
		}
		lo, err1 := strconv.ParseFloat(r["min"], 64)
		hi, err2 := strconv.ParseFloat(r["max"], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("tensor %q: range [%s, %s] is not numbers", r["tensor"], r["min"], r["max"])
		}
		// The written range is exact; float32 rounding of the data is all
		// the tolerance allowed.
		if math.Abs(float64(st.Min)-lo) > 1e-6*max(1, math.Abs(lo)) || math.Abs(float64(st.Max)-hi) > 1e-6*max(1, math.Abs(hi)) {
			return fmt.Errorf("tensor %q was observed over [%g, %g], want [%g, %g]", r["tensor"], st.Min, st.Max, lo, hi)
		}
	}
	return nil
}

// sameTo6Digits reports whether got equals want to 6 significant digits.
func sameTo6Digits(got, want float64) bool {
	return math.Abs(got-want) <= 5e-6*math.Abs(want)
}

func tensorGetsQParams(ctx context.Context, name string, scale float64, zp int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	qp, err := s.prepared.QParams(name)
	if err != nil {
		return err
	}
	if !sameTo6Digits(float64(qp.Scale[0]), scale) || qp.ZeroPoint[0] != int32(zp) {
		return fmt.Errorf("tensor %q gets scale %.7g and zero point %d, want %g and %d", name, qp.Scale[0], qp.ZeroPoint[0], scale, zp)
	}
	return nil
}

// quantizedWeights returns the int8 weights of one layer of the quantized
// model.
func quantizedWeights(ctx context.Context, name string) (*quant.QTensor, error) {
	s, err := quantizedModel(ctx)
	if err != nil {
		return nil, err
	}
	w, ok := s.quantized.Weights(name)
	if !ok {
		return nil, fmt.Errorf("layer %q has no quantized weights", name)
	}
	return w, nil
}

func weightsGetScales(ctx context.Context, name, list string) error {
	want, err := parseFloats(strings.ReplaceAll(list, " and ", ", "))
	if err != nil {
		return err
	}
	w, err := quantizedWeights(ctx, name)
	if err != nil {
		return err
	}
	p := w.Params()
	if len(p.Scale) != len(want) {
		return fmt.Errorf("layer %q has %d weight scales %v, want %d", name, len(p.Scale), p.Scale, len(want))
	}
	for i, sc := range p.Scale {
		if !sameTo6Digits(float64(sc), want[i]) || p.ZeroPoint[i] != 0 {
			return fmt.Errorf("layer %q channel %d: scale %.7g, zero point %d; want %g and 0", name, i, sc, p.ZeroPoint[i], want[i])
		}
	}
	return nil
}

func weightsAreCodes(ctx context.Context, name string, table *godog.Table) error {
	w, err := quantizedWeights(ctx, name)
	if err != nil {
		return err
	}
	var want []int32
	for _, r := range table.Rows {
		for _, c := range r.Cells {
			for f := range strings.SplitSeq(c.Value, ",") {
				v, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return fmt.Errorf("code %q is not an integer", f)
				}
				want = append(want, int32(v))
			}
		}
	}
	got := make([]int32, w.Len())
	for i := range got {
		got[i] = w.At(i)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("layer %q holds the codes %v, want %v", name, got, want)
	}
	return nil
}

func sameAsOneBatch(ctx context.Context, n int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if s.calibX == nil || s.calibX.Dim(0) != n {
		return fmt.Errorf("the calibration set does not hold %d samples", n)
	}
	ref, err := ptq.Prepare(s.model, &s.cfg)
	if err != nil {
		return err
	}
	if err := ref.Observe(s.calibX); err != nil {
		return err
	}
	for _, o := range s.prepared.Observed() {
		got, err := s.prepared.QParams(o.Tensor)
		if err != nil {
			return err
		}
		want, err := ref.QParams(o.Tensor)
		if err != nil {
			return err
		}
		if !sameBits(got.Scale, want.Scale) || !slices.Equal(got.ZeroPoint, want.ZeroPoint) {
			return fmt.Errorf("tensor %q: batches of %d give scale %.9g and zero point %d, one batch of %d gives %.9g and %d",
				o.Tensor, s.calibBatch, got.Scale[0], got.ZeroPoint[0], n, want.Scale[0], want.ZeroPoint[0])
		}
	}
	return nil
}

func everyScalePositive(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	for _, o := range s.prepared.Observed() {
		qp, err := s.prepared.QParams(o.Tensor)
		if err != nil {
			return err
		}
		if sc := float64(qp.Scale[0]); !(sc > 0) || math.IsInf(sc, 0) {
			return fmt.Errorf("tensor %q gets scale %g", o.Tensor, sc)
		}
	}
	return nil
}

func historyString(h []ptq.CalibrationStep) string {
	var b strings.Builder
	for _, st := range h {
		fmt.Fprintf(&b, "[batch %d: %.3g%% on %q, converged %v %s] ", st.Batch, 100*st.MaxScaleChange, st.Worst, st.Converged, st.Event)
	}
	return b.String()
}

func convergedForGoodWithin(ctx context.Context, n int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	ok, since := s.prepared.Converged()
	if !ok {
		return fmt.Errorf("calibration is not converged at the end of %d batches (history: %s)", s.prepared.Batches(), historyString(s.prepared.History()))
	}
	c := criterion{measured: "batches up to the one since which calibration has stayed converged", unit: "batches", direction: atMost, threshold: float64(n), value: float64(since + 1)}
	return check(ctx, c, func() error {
		return fmt.Errorf("calibration has stayed converged since its batch %d (from 0), later than within %d batches (history: %s)", since, n, historyString(s.prepared.History()))
	})
}

func wentThroughAll(ctx context.Context, n int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if b := s.prepared.Batches(); b != n {
		return fmt.Errorf("calibration saw %d batches, want all %d %s", b, n, historyString(s.prepared.History()))
	}
	return nil
}

// fullRun calibrates a fresh copy of the scenario's model on its whole
// calibration stream, without early stop or batch limit.
func fullRun(ctx context.Context, s *ptqState) (*ptq.Prepared, error) {
	cfg := s.cfg
	cfg.Calibration.EarlyStop, cfg.Calibration.MaxBatches = false, 0
	pr, err := ptq.Prepare(s.model, &cfg)
	if err != nil {
		return nil, err
	}
	return pr, pr.Run(ctx, s.calib)
}

func stoppedAtFirstConvergence(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	full, err := fullRun(ctx, s)
	if err != nil {
		return err
	}
	first := full.FirstConverged()
	if first < 0 {
		return fmt.Errorf("a full calibration on the same data never converged in %d batches: early stop has nothing to stop at (history: %s)",
			full.Batches(), historyString(full.History()))
	}
	if b := s.prepared.Batches(); b != first+1 || s.prepared.FirstConverged() != first {
		return fmt.Errorf("calibration with early stop read %d batches and first converged at batch %d; a full calibration first converged at batch %d, so it should have read %d",
			b, s.prepared.FirstConverged(), first, first+1)
	}
	if ok, at := s.prepared.Converged(); !ok || at != first {
		return fmt.Errorf("calibration stopped early reports converged %v since batch %d, want converged since batch %d", ok, at, first)
	}
	return nil
}

func secondPassStill(ctx context.Context, pct float64) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	h := s.prepared.History()
	if len(h)%2 != 0 || len(h) == 0 {
		return fmt.Errorf("calibration saw %d batches, not two passes of equal length", len(h))
	}
	worst, at := 0.0, -1
	for _, st := range h[len(h)/2:] {
		if at < 0 || st.MaxScaleChange > worst {
			worst, at = st.MaxScaleChange, st.Batch
		}
	}
	c := criterion{measured: "largest scale change of a batch in the second pass", unit: "%", direction: atMost, threshold: pct, value: 100 * worst}
	return check(ctx, c, func() error {
		return fmt.Errorf("batch %d of the second pass moved a scale by %.3g%%, more than %g%%", at, 100*worst, pct)
	})
}

// yesNo reads "yes" or "no".
func yesNo(v string) (bool, error) {
	switch v {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither yes nor no", v)
}

// changeSlack is how far a recorded scale change may be from the one a
// history table states, in %: float32 scales and amplitudes round to
// about 1e-7 of their value.
const changeSlack = 1e-3

func historyReads(ctx context.Context, table *godog.Table) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "batch", "largest scale change", "converged", "event")
	if err != nil {
		return err
	}
	h := s.prepared.History()
	if len(h) != len(rows) {
		return fmt.Errorf("the history holds %d batches, the table %d (history: %s)", len(h), len(rows), historyString(h))
	}
	for i, r := range rows {
		st := h[i]
		pct, err := parsePercent(strings.TrimSuffix(strings.TrimSpace(r["largest scale change"]), "%"))
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		conv, err := yesNo(r["converged"])
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		if r["batch"] != strconv.Itoa(st.Batch) {
			return fmt.Errorf("row %d is batch %s, the history's entry %d is batch %d", i+1, r["batch"], i, st.Batch)
		}
		if math.Abs(100*st.MaxScaleChange-100*pct) > changeSlack {
			return fmt.Errorf("batch %d moved a scale by %.6g%%, the table says %g%% (history: %s)", st.Batch, 100*st.MaxScaleChange, 100*pct, historyString(h))
		}
		if st.Converged != conv || string(st.Event) != r["event"] {
			return fmt.Errorf("batch %d: converged %v, event %q; the table says %s, %q (history: %s)",
				st.Batch, st.Converged, st.Event, r["converged"], r["event"], historyString(h))
		}
	}
	return nil
}

func convergedAtEndSince(ctx context.Context, batch int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if ok, at := s.prepared.Converged(); !ok || at != batch {
		return fmt.Errorf("calibration reports converged %v since batch %d at the end, want converged since batch %d", ok, at, batch)
	}
	return nil
}

func notConvergedAtEnd(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if ok, at := s.prepared.Converged(); ok || at != -1 {
		return fmt.Errorf("calibration reports converged since batch %d at the end of %d batches, want not converged (history: %s)",
			at, s.prepared.Batches(), historyString(s.prepared.History()))
	}
	return nil
}

func convergedAtSomeBatch(ctx context.Context, n int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	first := s.prepared.FirstConverged()
	if first < 0 {
		return fmt.Errorf("calibration never converged in %d batches (history: %s)", s.prepared.Batches(), historyString(s.prepared.History()))
	}
	c := criterion{measured: "batches up to the first convergence", unit: "batches", direction: atMost, threshold: float64(n), value: float64(first + 1)}
	return check(ctx, c, func() error {
		return fmt.Errorf("calibration first converged after %d batches, want within %d", first+1, n)
	})
}

func lostAtLeast(ctx context.Context, times int, pct float64) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	lost, smallest := 0, math.Inf(1)
	for _, st := range s.prepared.History() {
		if st.Event == ptq.EventLost {
			lost++
			smallest = min(smallest, st.MaxScaleChange)
		}
	}
	cs := []criterion{{measured: "times a later batch lost convergence", unit: "times", direction: atLeast, threshold: float64(times), value: float64(lost)}}
	if lost > 0 {
		cs = append(cs, criterion{measured: "smallest scale change of a batch that lost convergence", unit: "%", direction: greaterThan, threshold: pct, value: 100 * smallest})
	}
	return checkAll(ctx, func() error {
		return fmt.Errorf("convergence was lost %d times (the smallest losing move %.3g%%), want at least %d by more than %g%% (history: %s)",
			lost, 100*smallest, times, pct, historyString(s.prepared.History()))
	}, cs...)
}

func sawAtMost(ctx context.Context, n, total int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	if s.calibX == nil || s.calibBatch == 0 || (s.calibX.Dim(0)+s.calibBatch-1)/s.calibBatch != total {
		return fmt.Errorf("the calibration set does not come in %d batches", total)
	}
	b := s.prepared.Batches()
	c := criterion{measured: "calibration batches seen", unit: "batches", direction: atMost, threshold: float64(n), value: float64(b)}
	return check(ctx, c, func() error {
		return fmt.Errorf("calibration saw %d of the %d batches, want at most %d", b, total, n)
	})
}

func historyEntries(ctx context.Context, n, per int) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	h := s.prepared.History()
	if len(h) != n {
		return fmt.Errorf("the history holds %d entries, want %d", len(h), n)
	}
	for i, st := range h {
		if st.Batch != i || st.Samples != (i+1)*per {
			return fmt.Errorf("history entry %d is batch %d after %d samples, want batch %d after %d", i, st.Batch, st.Samples, i, (i+1)*per)
		}
	}
	return nil
}

// replayChanges calibrates a fresh copy of the model batch by batch and
// returns, per batch, the largest relative change of any observed
// tensor's scale, computed here independently of the library's history.
func replayChanges(ctx context.Context, s *ptqState) ([]float64, error) {
	pr, err := ptq.Prepare(s.model, &s.cfg)
	if err != nil {
		return nil, err
	}
	prev := map[string]float32{}
	var changes []float64
	for x, err := range s.calib {
		if err != nil {
			return nil, err
		}
		if len(changes) == s.prepared.Batches() {
			break
		}
		if err := pr.Observe(x); err != nil {
			return nil, err
		}
		ch := 0.0
		for _, o := range pr.Observed() {
			qp, err := pr.QParams(o.Tensor)
			if err != nil {
				return nil, err
			}
			if old, ok := prev[o.Tensor]; ok {
				ch = max(ch, math.Abs(float64(qp.Scale[0])-float64(old))/float64(old))
			}
			prev[o.Tensor] = qp.Scale[0]
		}
		changes = append(changes, ch)
	}
	return changes, ctx.Err()
}

func historyChanges(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	want, err := replayChanges(ctx, s)
	if err != nil {
		return err
	}
	h := s.prepared.History()
	if len(h) != len(want) {
		return fmt.Errorf("the history holds %d entries, the replay %d", len(h), len(want))
	}
	for i, st := range h {
		if math.Abs(st.MaxScaleChange-want[i]) > 1e-12 {
			return fmt.Errorf("history entry %d records a largest scale change of %g, the replay finds %g", i, st.MaxScaleChange, want[i])
		}
	}
	return nil
}

// ruleFlags applies the convergence rule, as the feature states it, to
// the largest scale change of each batch: converged after a batch when it
// and the patience-1 batches before it, none the first, moved no scale by
// more than tol.
func ruleFlags(changes []float64, tol float64, patience int) []bool {
	flags := make([]bool, len(changes))
	calm := 0
	for i, c := range changes {
		if i > 0 && c <= tol {
			calm++
		} else {
			calm = 0
		}
		flags[i] = calm >= patience
	}
	return flags
}

func historyConvergedFlags(ctx context.Context) error {
	s, err := calibrated(ctx)
	if err != nil {
		return err
	}
	changes, err := replayChanges(ctx, s)
	if err != nil {
		return err
	}
	cal := s.cfg.WithDefaults().Calibration
	want := ruleFlags(changes, cal.Tolerance, cal.Patience)
	h := s.prepared.History()
	if len(h) != len(want) || len(h) == 0 {
		return fmt.Errorf("the history holds %d entries, the replay %d: nothing to compare", len(h), len(want))
	}
	for i, st := range h {
		if st.Converged != want[i] {
			return fmt.Errorf("history entry %d is marked converged=%v, the rule on the replayed changes %v gives %v", st.Batch, st.Converged, changes, want[i])
		}
	}
	last := h[len(h)-1]
	if ok, at := s.prepared.Converged(); ok != last.Converged || ok && h[at].Event != ptq.EventConverged && h[at].Event != ptq.EventRegained {
		return fmt.Errorf("calibration reports converged %v since batch %d; the last batch is marked %v (history: %s)", ok, at, last.Converged, historyString(h))
	}
	return nil
}
