package ptq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// CalibrationStep records one calibration batch.
type CalibrationStep struct {
	// Batch is the 0-based batch index; Samples the samples seen so far.
	Batch   int `json:"batch"`
	Samples int `json:"samples"`
	// MaxScaleChange is the largest relative change of any activation scale
	// caused by this batch (0 for the first batch; +Inf, written as null in
	// JSON, when a tensor got its first scale after the first batch), and
	// Worst the tensor it happened on ("" when no scale moved).
	MaxScaleChange float64 `json:"max_scale_change"`
	Worst          string  `json:"worst_tensor"`
	// Converged reports whether the convergence rule holds after this
	// batch: this batch and the Patience-1 batches before it, none of them
	// the first, each moved every activation scale by at most Tolerance
	// (see the package documentation, Convergence). A later batch that
	// moves a scale by more clears it again.
	Converged bool `json:"converged"`
	// Event names a change of Converged at this batch: EventConverged the
	// first time the rule holds, EventLost when a batch breaks it,
	// EventRegained when it holds again after a loss; "" otherwise.
	Event ConvergenceEvent `json:"event,omitempty"`
}

// ConvergenceEvent names the batch at which calibration's convergence
// changed (CalibrationStep.Event).
type ConvergenceEvent string

// The convergence events of a calibration history.
const (
	// EventConverged marks the first batch after which the rule holds.
	EventConverged ConvergenceEvent = "converged"
	// EventLost marks a batch that moved a scale by more than the
	// tolerance after the rule held.
	EventLost ConvergenceEvent = "lost"
	// EventRegained marks the batch after which the rule holds again,
	// Patience calm batches after a loss.
	EventRegained ConvergenceEvent = "regained"
)

// calibrationStepJSON is the JSON form of a CalibrationStep: its fields in
// order, with a nil MaxScaleChange for +Inf.
type calibrationStepJSON struct {
	Batch          int              `json:"batch"`
	Samples        int              `json:"samples"`
	MaxScaleChange *float64         `json:"max_scale_change"`
	Worst          string           `json:"worst_tensor"`
	Converged      bool             `json:"converged"`
	Event          ConvergenceEvent `json:"event,omitempty"`
}

// MarshalJSON writes an infinite MaxScaleChange as null, which JSON can
// hold and encoding/json's float encoder refuses.
func (s CalibrationStep) MarshalJSON() ([]byte, error) {
	v := calibrationStepJSON{Batch: s.Batch, Samples: s.Samples, Worst: s.Worst, Converged: s.Converged, Event: s.Event}
	if !math.IsInf(s.MaxScaleChange, 0) && !math.IsNaN(s.MaxScaleChange) {
		v.MaxScaleChange = &s.MaxScaleChange
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads null as an infinite MaxScaleChange.
func (s *CalibrationStep) UnmarshalJSON(b []byte) error {
	var v calibrationStepJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = CalibrationStep{Batch: v.Batch, Samples: v.Samples, Worst: v.Worst, Converged: v.Converged, Event: v.Event,
		MaxScaleChange: math.Inf(1)}
	if v.MaxScaleChange != nil {
		s.MaxScaleChange = *v.MaxScaleChange
	}
	return nil
}

// Calibrator runs the FP32 model on calibration batches and feeds every
// activation the plan needs into its observer.
type Calibrator struct {
	graph  *nn.Graph
	plan   *Plan
	opts   CalibrationOptions
	points []Observed
	// tracked are the plan's own tensors, whose scales convergence follows;
	// points may hold more (a sensitivity analysis observes every node).
	tracked   []Observed
	observers map[string]quant.Observer
	batches   int
	samples   int
	scales    map[string]float32
	conv      convergence
	history   []CalibrationStep
}

// NewCalibrator attaches one observer, of the method and spec the plan
// resolved, to every tensor the plan needs calibrated. Zero fields of opts
// mean their defaults (see CalibrationOptions).
func NewCalibrator(g *nn.Graph, p *Plan, opts CalibrationOptions) (*Calibrator, error) {
	return newCalibrator(g, p, opts, p.ObservedTensors())
}

// newCalibrator observes the given points, which may be more than p needs.
func newCalibrator(g *nn.Graph, p *Plan, opts CalibrationOptions, points []Observed) (*Calibrator, error) {
	if g == nil {
		return nil, fmt.Errorf("ptq: calibrator: %w", ErrNilModel)
	}
	if p == nil {
		return nil, fmt.Errorf("ptq: calibrator: nil plan: %w", ErrInvalidConfig)
	}
	c := &Calibrator{graph: g, plan: p, opts: opts.withDefaults(), points: points, tracked: p.ObservedTensors(),
		observers: map[string]quant.Observer{}, scales: map[string]float32{}}
	c.conv = newConvergence(c.opts.Tolerance, c.opts.Patience)
	for _, o := range c.points {
		obs, err := quant.NewObserver(o.Method, o.Spec)
		if err != nil {
			kind := "input"
			if np, ok := p.Node(o.Owner); ok {
				kind = np.Kind
			}
			return nil, &NodeError{Node: o.Owner, Kind: kind, Err: fmt.Errorf("activation observer for %q: %w", o.Tensor, err)}
		}
		c.observers[o.Tensor] = obs
	}
	return c, nil
}

// Observed returns the tensors being calibrated, in topological order.
func (c *Calibrator) Observed() []Observed {
	if c == nil {
		return nil
	}
	return slices.Clone(c.points)
}

// Batches returns the number of batches observed.
func (c *Calibrator) Batches() int {
	if c == nil {
		return 0
	}
	return c.batches
}

// Samples returns the number of samples observed.
func (c *Calibrator) Samples() int {
	if c == nil {
		return 0
	}
	return c.samples
}

// History returns one step per observed batch.
func (c *Calibrator) History() []CalibrationStep {
	if c == nil {
		return nil
	}
	return slices.Clone(c.history)
}

// Converged reports whether calibration is converged at the end of the
// batches seen so far, and the batch from which that has held without a
// break (the last EventConverged or EventRegained of the history), or
// false and -1. A calibration that converged and then lost it is not
// converged, unless Patience calm batches regained it. See
// FirstConverged for the batch early stop stops at.
func (c *Calibrator) Converged() (bool, int) {
	if c == nil {
		return false, -1
	}
	return c.conv.since >= 0, c.conv.since
}

// FirstConverged returns the batch at which the convergence rule held for
// the first time, whether or not a later batch broke it, or -1. With
// CalibrationOptions.EarlyStop, calibration stops after that batch.
func (c *Calibrator) FirstConverged() int {
	if c == nil {
		return -1
	}
	return c.conv.first
}

// Stats returns what the observer of one tensor has seen.
func (c *Calibrator) Stats(tensorName string) (quant.Stats, bool) {
	if c == nil {
		return quant.Stats{}, false
	}
	o, ok := c.observers[tensorName]
	if !ok {
		return quant.Stats{}, false
	}
	return o.Stats(), true
}

// QParams returns the qparams calibration chose for one tensor, or an error
// wrapping ErrNotCalibrated naming the tensor if no batch reached it.
func (c *Calibrator) QParams(tensorName string) (quant.QParams, error) {
	if c == nil {
		return quant.QParams{}, errNilModel("calibrator")
	}
	o, ok := c.observers[tensorName]
	if !ok {
		return quant.QParams{}, fmt.Errorf("ptq: tensor %q is not calibrated by this plan: %w", tensorName, ErrNotCalibrated)
	}
	if c.batches == 0 {
		return quant.QParams{}, fmt.Errorf("ptq: tensor %q: %w", tensorName, ErrNoCalibrationData)
	}
	qp, err := o.QParams()
	if err != nil {
		if errors.Is(err, quant.ErrNoData) {
			return quant.QParams{}, fmt.Errorf("ptq: tensor %q was never reached by calibration data: %w", tensorName, ErrNotCalibrated)
		}
		return quant.QParams{}, fmt.Errorf("ptq: tensor %q: %w", tensorName, err)
	}
	return qp, nil
}

// checkInput returns an error naming both shapes if x is not a batch of the
// model's input, and one naming the sample and the layers reading it if x
// holds NaN or Inf.
func checkInput(x *tensor.Tensor, inputShape []int, where string, readers []string) error {
	if x == nil || x.Dims() != len(inputShape)+1 || !slices.Equal(x.Shape()[1:], inputShape) {
		var got []int
		if x != nil {
			got = x.Shape()
		}
		return fmt.Errorf("ptq: %s: data of shape %v does not fit the model input [N %v]: %w",
			where, got, shapeString(inputShape), ErrShape)
	}
	if i := firstNonFinite(x.Data()); i >= 0 {
		return fmt.Errorf("ptq: %s: sample %d holds %v, read by layer %s: %w",
			where, i/max(1, x.RowLen()), x.Data()[i], quoteList(readers), ErrNonFinite)
	}
	return nil
}

func shapeString(s []int) string {
	str := fmt.Sprint(s)
	return str[1 : len(str)-1]
}

// Observe runs one batch through the FP32 model and updates every observer.
// An error names the batch and the layer whose input or output was bad. A
// refused batch changes nothing: observers see a batch only once the whole
// batch has run and every observed tensor is finite.
func (c *Calibrator) Observe(x *tensor.Tensor) error {
	if c == nil {
		return errNilModel("calibrator")
	}
	where := fmt.Sprintf("calibration batch %d", c.batches)
	if err := checkInput(x, c.graph.InputShape(), where, c.graph.Consumers(c.graph.InputName())); err != nil {
		return err
	}
	seen := map[string]*tensor.Tensor{}
	if _, ok := c.observers[c.graph.InputName()]; ok {
		seen[c.graph.InputName()] = x
	}
	var bad error // the hook's own error, without the graph's wrapping
	_, err := c.graph.Run(x, nn.Eval, func(n *nn.Node, out *tensor.Tensor) error {
		if _, ok := c.observers[n.Name]; !ok {
			return nil
		}
		if i := firstNonFinite(out.Data()); i >= 0 {
			bad = &NodeError{Node: n.Name, Kind: n.Layer.Kind(), Err: fmt.Errorf("%s: output holds %v at sample %d: %w",
				where, out.Data()[i], i/max(1, out.RowLen()), ErrNonFinite)}
			return bad
		}
		seen[n.Name] = out
		return nil
	})
	if bad != nil {
		return bad
	}
	if err != nil {
		return fmt.Errorf("ptq: %s: %w", where, err)
	}
	for _, p := range c.points {
		t, ok := seen[p.Tensor]
		if !ok {
			continue
		}
		if err := c.observers[p.Tensor].Observe(t); err != nil {
			return &NodeError{Node: p.Owner, Kind: c.kindOf(p.Owner), Err: fmt.Errorf("%s: tensor %q: %w", where, p.Tensor, wrapNonFinite(err))}
		}
	}
	c.batches++
	c.samples += x.Dim(0)
	c.record()
	return nil
}

// kindOf returns the layer kind of a node, "input" for the model input.
func (c *Calibrator) kindOf(node string) string {
	if np, ok := c.plan.Node(node); ok {
		return np.Kind
	}
	return "input"
}

// firstNonFinite returns the index of the first NaN or Inf in v, or -1.
func firstNonFinite(v []float32) int {
	if qnn.AllFinite(v) {
		return -1
	}
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return i
		}
	}
	return -1
}

// quoteList renders names as "a", "b".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// record appends the history step of the batch just observed.
func (c *Calibrator) record() {
	step := CalibrationStep{Batch: c.batches - 1, Samples: c.samples}
	for _, p := range c.tracked {
		qp, err := c.observers[p.Tensor].QParams()
		if err != nil {
			continue
		}
		s := qp.Scale[0]
		if old, ok := c.scales[p.Tensor]; ok {
			ch := math.Abs(float64(s)-float64(old)) / float64(old)
			if ch > step.MaxScaleChange {
				step.MaxScaleChange, step.Worst = ch, p.Tensor
			}
		} else if c.batches > 1 {
			step.MaxScaleChange, step.Worst = math.Inf(1), p.Tensor
		}
		c.scales[p.Tensor] = s
	}
	step.Converged, step.Event = c.conv.add(step.Batch, step.MaxScaleChange)
	c.history = append(c.history, step)
}

// Run observes every batch of src in order, stopping after MaxBatches, at
// the first convergence when EarlyStop is set, or when ctx is cancelled. A source
// that yields no batch gives ErrNoCalibrationData.
func (c *Calibrator) Run(ctx context.Context, src Batches) error {
	if c == nil {
		return errNilModel("calibrator")
	}
	if src == nil {
		return fmt.Errorf("ptq: calibration source is nil: %w", ErrNoCalibrationData)
	}
	start, i := c.batches, 0
	for x, err := range src {
		if err != nil {
			return fmt.Errorf("ptq: calibration batch %d: %w", i, err)
		}
		i++
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ptq: calibration stopped before batch %d: %w", c.batches, err)
		}
		if x == nil || x.Len() == 0 {
			continue
		}
		if err := c.Observe(x); err != nil {
			return err
		}
		if c.opts.MaxBatches > 0 && c.batches >= c.opts.MaxBatches {
			break
		}
		if c.opts.EarlyStop && c.conv.first >= 0 {
			break
		}
	}
	if c.batches == start && c.batches == 0 {
		return fmt.Errorf("ptq: the calibration source yielded no samples: %w", ErrNoCalibrationData)
	}
	return nil
}

// convergence follows the convergence rule over a calibration's batches:
// it holds after a batch when that batch and the patience-1 before it,
// none of them the first batch, each moved every scale by at most tol.
type convergence struct {
	tol      float64
	patience int
	batches  int // batches added so far
	calm     int // consecutive calm batches ending at the last one
	first    int // batch at which the rule first held, or -1
	since    int // batch from which the rule has held to now, or -1
}

// newConvergence returns the rule for a tolerance and a patience (at
// least 1).
func newConvergence(tol float64, patience int) convergence {
	return convergence{tol: tol, patience: max(1, patience), first: -1, since: -1}
}

// add takes the largest scale change of the next batch, whose index is
// batch, and returns whether the rule holds after it and the event, if
// any, that batch is. The first batch is never calm: it has nothing to
// change from. A NaN change is not calm.
func (v *convergence) add(batch int, change float64) (bool, ConvergenceEvent) {
	v.batches++
	if v.batches > 1 && change <= v.tol {
		v.calm++
	} else {
		v.calm = 0
	}
	holds := v.calm >= v.patience
	var ev ConvergenceEvent
	switch {
	case holds && v.since < 0 && v.first < 0:
		v.first, v.since, ev = batch, batch, EventConverged
	case holds && v.since < 0:
		v.since, ev = batch, EventRegained
	case !holds && v.since >= 0:
		v.since, ev = -1, EventLost
	}
	return holds, ev
}
