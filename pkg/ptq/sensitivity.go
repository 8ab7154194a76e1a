package ptq

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// SensitivitySchema names the version of the JSON sensitivity report. It
// changes only when a field changes meaning or disappears.
const SensitivitySchema = "ptqspec.sensitivity/v1"

// LayerSensitivity is how much one quantizable layer matters. Its JSON
// fields are listed on SensitivityReport.
type LayerSensitivity struct {
	Layer string `json:"layer"`
	Kind  string `json:"kind"`
	// OnlyThisInt8 is the metric when only this layer is quantized and
	// every other layer stays FP32.
	OnlyThisInt8 float64 `json:"only_this_int8"`
	// OnlyThisFP32 is the metric when only this layer stays FP32 and every
	// other layer is quantized.
	OnlyThisFP32 float64 `json:"only_this_fp32"`
	// Drop is FP32 metric minus OnlyThisInt8: what quantizing this layer
	// alone costs.
	Drop float64 `json:"drop"`
	// Recovery is OnlyThisFP32 minus the all-int8 metric: what keeping this
	// layer in FP32 gives back.
	Recovery float64 `json:"recovery"`
	// SQNR is the SQNR in dB of the layer's output (after the BatchNorm2D
	// and ReLU fused into it) against the FP32 model's, when only this
	// layer is quantized, on the first 256 selection samples: the error
	// this layer adds by itself, not that of the layers before it. 200 dB
	// stands for identical outputs.
	SQNR float64 `json:"sqnr_db"`
	// Sensitive is set when Drop or Recovery reaches the threshold.
	Sensitive bool `json:"sensitive"`
}

// SensitivityReport ranks the quantizable layers of a model, most
// sensitive first. Every metric in it is measured on the selection data
// the analysis was given, which Selection names: a ranking chosen on
// those samples overstates how well the choice does on them, so judge a
// choice made from it on other samples. Its JSON form (WriteJSON) is one
// object whose fields are, in this order:
//
//	schema     string   always SensitivitySchema, "ptqspec.sensitivity/v1"
//	metric     string   "accuracy" (a fraction) or "output_sqnr_db" (dB)
//	fp32       number   the FP32 model's metric (200 for output_sqnr_db)
//	all_int8   number   the metric with every layer quantized
//	threshold  number   Drop or Recovery at which a layer is sensitive
//	selection  string   the selection data's Data.Name ("" when unnamed)
//	samples    integer  selection samples
//	layers     array    one object per layer, most sensitive first (Sort)
//	sensitive  array    names (strings) of the sensitive layers, in rank order
//	seconds    number   wall-clock time of the analysis
//
// and each object of layers has the fields
//
//	layer           string   node name
//	kind            string   layer kind, such as "Linear"
//	only_this_int8  number   OnlyThisInt8
//	only_this_fp32  number   OnlyThisFP32
//	drop            number   Drop
//	recovery        number   Recovery
//	sqnr_db         number   SQNR
//	sensitive       boolean  Sensitive
//
// Metric values are in the metric's unit. The schema name changes only
// when a field changes meaning or disappears.
type SensitivityReport struct {
	Schema    string  `json:"schema"`
	Metric    Metric  `json:"metric"`
	FP32      float64 `json:"fp32"`
	AllInt8   float64 `json:"all_int8"`
	Threshold float64 `json:"threshold"`
	// Selection names the data every metric was measured on and the
	// layers ranked by: the Name of the Data given to AnalyzeSensitivity.
	Selection string             `json:"selection"`
	Samples   int                `json:"samples"`
	Layers    []LayerSensitivity `json:"layers"`
	Sensitive []string           `json:"sensitive"`
	// Seconds is the wall-clock time of the analysis; it is the only
	// field that differs between two runs on the same inputs.
	Seconds float64 `json:"seconds"`
}

// SensitivityOptions configure AnalyzeSensitivity and QuantizeWithBudget.
// The zero value, and a nil *SensitivityOptions, mean the default Config,
// no layer marked sensitive, a budget of no drop at all, GOMAXPROCS
// workers and batches of 256. The data the layers are chosen on is not an
// option but an argument of both functions, the selection data.
type SensitivityOptions struct {
	// Config is the quantization configuration every variant uses.
	Config Config
	// Threshold marks a layer sensitive when its Drop or Recovery reaches
	// it, in the metric's unit: a fraction of accuracy (0.05 is 5 points),
	// or dB of output SQNR, where the FP32 model scores the 200 dB cap so
	// that a Threshold of 200-F marks the layers that alone bring the
	// output SQNR down to F dB. 0 marks no layer; a negative, NaN or
	// infinite Threshold is refused (ErrInvalidConfig). QuantizeWithBudget
	// uses it for the sensitivity analysis it reports.
	Threshold float64
	// MaxDrop is the largest metric drop against FP32 QuantizeWithBudget
	// accepts, in the metric's unit: a fraction for accuracy (0.01 is one
	// point), dB for output SQNR (whose FP32 value is the 200 dB cap). A
	// negative, NaN or infinite budget is refused (ErrInvalidConfig).
	// AnalyzeSensitivity does not read it.
	MaxDrop float64
	// Workers bounds the variants evaluated at once; 0 means GOMAXPROCS.
	Workers int
	// BatchSize is the batch size the selection data is scored in; 0
	// means 256.
	BatchSize int
	// Progress, if non-nil, is called after each model variant (FP32, all
	// int8, each layer alone int8 and alone FP32, each fallback step) is
	// scored on the selection data, with the variants scored so far and
	// the most the call will score (QuantizeWithBudget may stop sooner).
	// Calls come one at a time, from the workers' goroutines.
	Progress func(done, total int)
}

// defaultEvalBatch is the evaluation batch size when none is given.
const defaultEvalBatch = 256

// withDefaults returns a copy of o (nil: the zero options) with the
// configuration's defaults and the batch size set, after checking the
// threshold and worker count.
func (o *SensitivityOptions) withDefaults(what string) (SensitivityOptions, error) {
	var r SensitivityOptions
	if o != nil {
		r = *o
	}
	if !(r.Threshold >= 0) || math.IsInf(r.Threshold, 1) {
		return r, fmt.Errorf("ptq: %s: threshold %v, want a finite value >= 0: %w", what, r.Threshold, ErrInvalidConfig)
	}
	if r.Workers < 0 || r.BatchSize < 0 {
		return r, fmt.Errorf("ptq: %s: %d workers and batch size %d, want values >= 0: %w", what, r.Workers, r.BatchSize, ErrInvalidConfig)
	}
	if r.BatchSize == 0 {
		r.BatchSize = defaultEvalBatch
	}
	r.Config = r.Config.WithDefaults()
	return r, nil
}

// shared holds what every variant of one model reuses: the FP32 graph, one
// calibration pass over the union of all variants' observed tensors, and
// the selection data with its FP32 reference.
type shared struct {
	graph  *nn.Graph
	cfg    Config
	cal    *Calibrator
	eval   Data
	ref    *tensor.Tensor // FP32 outputs on eval, the selection data
	fp32   float64
	bs     int
	metric Metric

	mu       sync.Mutex // guards done
	done     int
	total    int
	progress func(done, total int)
}

// scored counts one scored variant and reports it to the progress
// callback.
func (s *shared) scored() {
	if s.progress == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done++
	s.progress(s.done, max(s.done, s.total))
}

// newShared calibrates once for every plan the layer set can produce.
// Progress counts 2 variants per quantized layer, the FP32 model and the
// all-int8 one, plus extra per layer.
func newShared(ctx context.Context, g *nn.Graph, o SensitivityOptions, calib Batches, eval Data, extra int) (*shared, error) {
	cfg, bs := o.Config, o.BatchSize
	if g == nil {
		return nil, fmt.Errorf("ptq: sensitivity: %w", ErrNilModel)
	}
	if err := eval.check("sensitivity: selection data"); err != nil {
		return nil, err
	}
	g = g.Clone()
	full, err := Traverse(g, &cfg)
	if err != nil {
		return nil, err
	}
	if err := checkWeights(g, full); err != nil {
		return nil, err
	}
	// Observe every node output and the input: any variant may need any.
	var points []Observed
	points = append(points, Observed{Tensor: g.InputName(), Owner: g.InputName(), Spec: *cfg.Activations, Method: cfg.Method})
	for _, n := range full.Nodes {
		points = append(points, Observed{Tensor: n.Name, Owner: n.Name, Spec: n.Config.Activations, Method: n.Config.Method})
	}
	cal, err := newCalibrator(g, full, cfg.Calibration, points)
	if err != nil {
		return nil, err
	}
	if err := cal.Run(ctx, calib); err != nil {
		return nil, err
	}
	s := &shared{graph: g, cfg: cfg, cal: cal, eval: eval, bs: bs, progress: o.Progress}
	s.total = 2 + (2+extra)*len(full.QuantizedNodes())
	if s.ref, err = outputsInBatches(ctxForwarder{ctx, FP32Model(g)}, eval.X, bs); err != nil {
		return nil, fmt.Errorf("ptq: sensitivity: FP32 model: %w", err)
	}
	s.metric = MetricSQNR
	if eval.Labels != nil {
		s.metric = MetricAccuracy
	}
	s.fp32, err = s.score(ctx, FP32Model(g))
	return s, err
}

// variant converts the model with the given layers kept FP32.
func (s *shared) variant(keep []string) (*Model, error) {
	cfg := s.cfg
	cfg.Overrides = slices.Clone(cfg.Overrides)
	for _, k := range keep {
		cfg.Overrides = append(cfg.Overrides, Override{Name: k, KeepFP32: true})
	}
	p, err := Traverse(s.graph, &cfg)
	if err != nil {
		return nil, err
	}
	pr := &Prepared{Calibrator: s.cal, Plan: p, graph: s.graph, cfg: cfg}
	return pr.Convert()
}

// score evaluates a model with the shared metric, checking ctx before
// every batch.
func (s *shared) score(ctx context.Context, f Forwarder) (float64, error) {
	f = ctxForwarder{ctx, f}
	if s.metric == MetricAccuracy {
		v, err := Accuracy(f, s.eval, s.bs)
		if err == nil {
			s.scored()
		}
		return v, err
	}
	out, err := outputsInBatches(f, s.eval.X, s.bs)
	if err != nil {
		return 0, err
	}
	s.scored()
	return capDB(quant.SQNR(s.ref.Data(), out.Data())), nil
}

// AnalyzeSensitivity measures, for every layer the configuration quantizes,
// the metric when only that layer is int8 and when only that layer stays
// FP32, and its output SQNR when only it is int8, all on the selection
// data. The metric is accuracy when selection has labels, else the output
// SQNR against FP32. Calibration runs once, over calib; variants are
// converted and evaluated in parallel (at most opts.Workers at a time) and
// the result does not depend on the order they finish in. A nil opts
// means the defaults (see SensitivityOptions).
//
// Selection is the data the layers are ranked, and so chosen, on; the
// report names it (SensitivityReport.Selection, from Data.Name). Keep it
// apart from calib, and measure what a choice made from the ranking gives
// (keeping the sensitive layers in FP32, say) on a third, test set: on
// the selection samples themselves the choice looks better than it is.
func AnalyzeSensitivity(ctx context.Context, g *nn.Graph, calib Batches, selection Data, opts *SensitivityOptions) (*SensitivityReport, error) {
	t0 := time.Now()
	o, err := opts.withDefaults("sensitivity")
	if err != nil {
		return nil, err
	}
	s, err := newShared(ctx, g, o, calib, selection, 0)
	if err != nil {
		return nil, err
	}
	return s.analyze(ctx, o, t0)
}

func (s *shared) analyze(ctx context.Context, opts SensitivityOptions, t0 time.Time) (*SensitivityReport, error) {
	all, err := s.variant(nil)
	if err != nil {
		return nil, err
	}
	layers := all.plan.QuantizedNodes()
	rep := &SensitivityReport{Schema: SensitivitySchema, Metric: s.metric, FP32: s.fp32, Threshold: opts.Threshold,
		Selection: s.eval.Name, Samples: s.eval.Len()}
	if rep.AllInt8, err = s.score(ctx, all); err != nil {
		return nil, err
	}
	// Each layer's SQNR is measured, with only it quantized, against the
	// FP32 outputs of every node on the first selection samples.
	x, err := s.eval.X.Slice(0, min(s.eval.Len(), sqnrSamples))
	if err != nil {
		return nil, err
	}
	ref := map[string]*tensor.Tensor{}
	if _, err := s.graph.Run(x, nn.Eval, func(n *nn.Node, out *tensor.Tensor) error {
		ref[n.Name] = out
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ptq: sensitivity: FP32 model: %w", err)
	}
	rows := make([]LayerSensitivity, len(layers))
	err = workpool.ForErr(len(layers), workpool.Workers(len(layers), opts.Workers), func(_, i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return s.analyzeLayer(ctx, layers[i], layers, rep, x, ref, &rows[i])
	})
	if err != nil {
		return nil, err
	}
	rep.Layers = rows
	rep.Sort()
	rep.Seconds = time.Since(t0).Seconds()
	return rep, nil
}

// analyzeLayer fills row with the two views of one layer and its SQNR
// with only it quantized, measured on x against the FP32 outputs ref.
func (s *shared) analyzeLayer(ctx context.Context, name string, layers []string, rep *SensitivityReport, x *tensor.Tensor, ref map[string]*tensor.Tensor, row *LayerSensitivity) error {
	kind := "?"
	if np, ok := s.cal.plan.Node(name); ok {
		kind = np.Kind
	}
	fail := func(err error) error {
		return &NodeError{Node: name, Kind: kind, Err: fmt.Errorf("sensitivity: %w", err)}
	}
	others := slices.DeleteFunc(slices.Clone(layers), func(l string) bool { return l == name })
	only, err := s.variant(others)
	if err != nil {
		return fail(err)
	}
	but, err := s.variant([]string{name})
	if err != nil {
		return fail(err)
	}
	np, _ := only.plan.Node(name)
	*row = LayerSensitivity{Layer: name, Kind: np.Kind}
	if row.OnlyThisInt8, err = s.score(ctx, only); err != nil {
		return fail(err)
	}
	if row.OnlyThisFP32, err = s.score(ctx, but); err != nil {
		return fail(err)
	}
	outs, err := only.Outputs(x)
	if err != nil {
		return fail(err)
	}
	row.SQNR = capDB(quant.SQNR(ref[np.groupEnd()].Data(), outs[name].Data()))
	row.Drop = rep.FP32 - row.OnlyThisInt8
	row.Recovery = row.OnlyThisFP32 - rep.AllInt8
	row.Sensitive = rep.Threshold > 0 && (row.Drop >= rep.Threshold || row.Recovery >= rep.Threshold)
	return nil
}

// Sort orders the layers most sensitive first: by the larger of Drop and
// Recovery, then by lower SQNR, then by name; and refreshes Sensitive.
func (r *SensitivityReport) Sort() {
	if r == nil {
		return
	}
	key := func(l LayerSensitivity) float64 { return max(l.Drop, l.Recovery) }
	slices.SortStableFunc(r.Layers, func(a, b LayerSensitivity) int {
		switch {
		case key(a) != key(b):
			if key(a) > key(b) {
				return -1
			}
			return 1
		case a.SQNR != b.SQNR:
			if a.SQNR < b.SQNR {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Layer, b.Layer)
	})
	r.Sensitive = r.Sensitive[:0]
	for _, l := range r.Layers {
		if l.Sensitive {
			r.Sensitive = append(r.Sensitive, l.Layer)
		}
	}
	if r.Sensitive == nil {
		r.Sensitive = []string{}
	}
}

// Ranking returns the layer names, most sensitive first.
func (r *SensitivityReport) Ranking() []string {
	if r == nil {
		return nil
	}
	out := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		out[i] = l.Layer
	}
	return out
}

// WriteJSON writes the report in the SensitivitySchema format.
func (r *SensitivityReport) WriteJSON(w io.Writer) error {
	if r == nil {
		return errNilReport("sensitivity report")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader is the first row of WriteCSV.
var csvHeader = []string{"rank", "layer", "kind", "only_this_int8", "only_this_fp32", "drop", "recovery", "sqnr_db", "sensitive"}

// WriteCSV writes one row per layer, most sensitive first, under a header.
func (r *SensitivityReport) WriteCSV(w io.Writer) error {
	if r == nil {
		return errNilReport("sensitivity report")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for i, l := range r.Layers {
		if err := cw.Write([]string{strconv.Itoa(i + 1), l.Layer, l.Kind, f(l.OnlyThisInt8), f(l.OnlyThisFP32),
			f(l.Drop), f(l.Recovery), f(l.SQNR), strconv.FormatBool(l.Sensitive)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Markdown renders the ranking as a table.
func (r *SensitivityReport) Markdown() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	unit := func(v float64) string {
		if r.Metric == MetricAccuracy {
			return fmt.Sprintf("%.2f%%", 100*v)
		}
		return fmt.Sprintf("%.1f dB", v)
	}
	fmt.Fprintf(&b, "Metric: %s on %d selection samples%s. FP32 %s, all int8 %s, threshold %s.\n\n",
		r.Metric, r.Samples, named(r.Selection), unit(r.FP32), unit(r.AllInt8), unit(r.Threshold))
	b.WriteString("| rank | layer | kind | only this int8 | only this FP32 | drop | recovery | SQNR dB | sensitive |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|:---:|\n")
	for i, l := range r.Layers {
		mark := ""
		if l.Sensitive {
			mark = "yes"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %.1f | %s |\n", i+1, l.Layer, l.Kind,
			unit(l.OnlyThisInt8), unit(l.OnlyThisFP32), unit(l.Drop), unit(l.Recovery), l.SQNR, mark)
	}
	return b.String()
}

// named returns " (name)", or "" for an empty name.
func named(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}
