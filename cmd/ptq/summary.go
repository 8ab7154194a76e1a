package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// budgetSlack absorbs float rounding when a drop is compared with the
// budget, both in points.
const budgetSlack = 1e-9

// summary is the JSON line of ptq mnist -json and ptq quantize -json.
// Accuracies are fractions in [0, 1]; accuracy_drop and budget are in
// percentage points (unlike report.json, whose accuracy_drop is a
// fraction). calibration_converged says whether calibration is converged
// at its end and converged_at_batch since which batch (-1 when not);
// first_converged_at_batch is where it first converged (-1 for never) and
// convergence_lost_at_batches the batches that lost it again (ptq's
// package documentation, Convergence).
type summary struct {
	Model              string  `json:"model"`
	ModelFile          string  `json:"model_file,omitempty"`
	Seed               uint64  `json:"seed,omitempty"`
	Epochs             int     `json:"epochs,omitempty"`
	TrainImages        int     `json:"train_images,omitempty"`
	Cached             bool    `json:"cached"`
	Method             string  `json:"method"`
	CalibrationSamples int     `json:"calibration_samples"`
	CalibrationBatches int     `json:"calibration_batches"`
	Converged          bool    `json:"calibration_converged"`
	ConvergedAt        int     `json:"converged_at_batch"`
	FirstConvergedAt   int     `json:"first_converged_at_batch"`
	ConvergenceLostAt  []int   `json:"convergence_lost_at_batches"`
	TestImages         int     `json:"test_images"`
	FP32Accuracy       float64 `json:"fp32_accuracy"`
	Int8Accuracy       float64 `json:"int8_accuracy"`
	AccuracyDrop       float64 `json:"accuracy_drop"`
	Budget             float64 `json:"budget"`
	WithinBudget       bool    `json:"within_budget"`
	FP32Bytes          int     `json:"fp32_model_bytes"`
	Int8Bytes          int     `json:"int8_model_bytes"`
	SizeRatio          float64 `json:"size_ratio"`
	OutputSQNR         float64 `json:"output_sqnr_db"`
	// OutputSQNRData says which images OutputSQNR was measured on.
	OutputSQNRData    string   `json:"output_sqnr_data"`
	SensitivityImages int      `json:"sensitivity_images"`
	SensitivitySet    string   `json:"sensitivity_set"`
	Ranking           []string `json:"ranking"`
	SensitiveLayers   []string `json:"sensitive_layers"`
	RevertedLayers    []string `json:"reverted_layers"`
	reportOutputs
}

// reportOutputs closes the JSON line of every command: where the report
// files went and how long each phase took.
type reportOutputs struct {
	ReportDir    string             `json:"report_dir"`
	Files        []string           `json:"files"`
	PhaseSeconds map[string]float64 `json:"phase_seconds"`
	TotalSeconds float64            `json:"total_seconds"`
}

// outputsOf returns the report folder, the files written in it (an empty
// list, not null, when there are none) and the phases, with the seconds
// since the command started.
func outputsOf(dir string, files []string, ph *phases) reportOutputs {
	if files == nil {
		files = []string{}
	}
	return reportOutputs{ReportDir: dir, Files: files, PhaseSeconds: ph.secs, TotalSeconds: ph.total()}
}

// newSummary gathers the JSON summary of a job; the caller fills in how
// the model was obtained.
func newSummary(j *job, o *outcome) summary {
	s := summary{
		Model: j.model, Method: o.cfg.Method.String(), TestImages: o.eval.Len(),
		FP32Accuracy: o.fp32, Int8Accuracy: o.int8, AccuracyDrop: roundPoints(o.drop()), Budget: j.flags.budget,
		WithinBudget: o.drop() <= j.flags.budget+budgetSlack,
		FP32Bytes:    o.rep.FP32Bytes, Int8Bytes: o.rep.Int8Bytes, OutputSQNR: o.rep.OutputSQNR, OutputSQNRData: sqnrData(o),
		Ranking: []string{}, SensitiveLayers: []string{}, RevertedLayers: o.reverted(), ConvergedAt: -1,
		FirstConvergedAt: -1, ConvergenceLostAt: []int{},
	}
	if c := o.rep.Calibration; c != nil {
		s.CalibrationSamples, s.CalibrationBatches, s.Converged = c.Samples, c.Batches, c.Converged
		if c.Converged {
			s.ConvergedAt = c.ConvergedAt
		}
		for _, st := range c.History {
			switch st.Event {
			case ptq.EventConverged:
				s.FirstConvergedAt = st.Batch
			case ptq.EventLost:
				s.ConvergenceLostAt = append(s.ConvergenceLostAt, st.Batch)
			}
		}
	}
	if o.rep.Int8Bytes > 0 {
		s.SizeRatio = float64(o.rep.FP32Bytes) / float64(o.rep.Int8Bytes)
	}
	if o.sens != nil {
		s.SensitivityImages, s.SensitivitySet = o.sens.Samples, o.sens.Selection
		s.Ranking = o.sens.Ranking()
		s.SensitiveLayers = append(s.SensitiveLayers, o.sens.Sensitive...)
	}
	s.reportOutputs = outputsOf(j.flags.out, o.files, j.ph)
	return s
}

// roundPoints rounds a number of points to 1e-6, dropping the float noise
// of a difference of fractions (one test image in 10,000 is 0.01 points).
func roundPoints(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// printJSON writes v as one line.
func printJSON(w io.Writer, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// pct renders an accuracy fraction as a percentage, "97.74%".
func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

// convergencePhrase says whether calibration is converged at the end, and
// where it was first reached and lost when a later batch broke it.
func convergencePhrase(c *ptq.CalibrationReport) string {
	rule := fmt.Sprintf("batches count from 0; converged means every scale moved at most %g%% in each of the last %d batches",
		100*c.Tolerance, c.Patience)
	first, lost := -1, ""
	for _, s := range c.History {
		switch s.Event {
		case ptq.EventConverged:
			first = s.Batch
		case ptq.EventLost:
			lost = fmt.Sprintf("lost at batch %d, where %s moved %.3g%%", s.Batch, s.Worst, 100*s.MaxScaleChange)
		}
	}
	switch {
	case c.Converged && c.ConvergedAt == first:
		return fmt.Sprintf("converged at batch %d of %d and to the end (%s)", c.ConvergedAt, c.Batches, rule)
	case c.Converged:
		return fmt.Sprintf("converged again since batch %d of %d (first at batch %d, last %s; %s)", c.ConvergedAt, c.Batches, first, lost, rule)
	case first >= 0:
		return fmt.Sprintf("not converged at the end of %d batches: converged at batch %d, then %s (%s): more calibration images may help",
			c.Batches, first, lost, rule)
	default:
		return fmt.Sprintf("not converged in %d batches (%s): more calibration images may help", c.Batches, rule)
	}
}

// printSummary writes the readable account of a job: configuration,
// calibration, FP32 vs INT8 accuracy and size, the per-layer table, the
// sensitivity ranking, the fallback, the timings and the report files.
func printSummary(w io.Writer, j *job, o *outcome) {
	f := &j.flags
	fmt.Fprintf(w, "\nStatic INT8 quantization of %s\n", j.model)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  configuration\t%s\n", describeConfig(o.cfg))
	if c := o.rep.Calibration; c != nil {
		fmt.Fprintf(tw, "  calibration\tthe first %s of the %s MNIST training images only, in batches of %d; %s\n",
			thousands(c.Samples), thousands(j.train.Len()), f.calibBatch, convergencePhrase(c))
	}
	fmt.Fprintf(tw, "  evaluation\t%s\n", imagesPhrase(o.eval.Len(), j.test.Len(), "test"))
	if o.sensEval != nil {
		fmt.Fprintf(tw, "  selection\t%s: the sensitivity analysis and the fallback choose layers on these, the test images judge them\n", o.sensEval.Name)
	}
	tw.Flush()
	fmt.Fprintln(w)

	verdict := fmt.Sprintf("within the %.2f-point budget", f.budget)
	if o.drop() > f.budget+budgetSlack {
		verdict = fmt.Sprintf("OVER the %.2f-point budget", f.budget)
		if !f.fallback {
			verdict += " (-fallback reverts the most sensitive layers to FP32)"
		}
	}
	size := ""
	if o.rep.Int8Bytes > 0 {
		size = fmt.Sprintf("INT8 takes %.1f%% of FP32's bytes (%.2fx smaller)",
			100*float64(o.rep.Int8Bytes)/float64(o.rep.FP32Bytes), float64(o.rep.FP32Bytes)/float64(o.rep.Int8Bytes))
	}
	fmt.Fprintf(w, "  %-13s %10s %10s\n", "", "FP32", "INT8")
	fmt.Fprintf(w, "  %-13s %10s %10s   drop %.2f points, %s\n", "accuracy", pct(o.fp32), pct(o.int8), o.drop(), verdict)
	fmt.Fprintf(w, "  %-13s %10s %10s   %s\n", "model bytes", thousands(o.rep.FP32Bytes), thousands(o.rep.Int8Bytes), size)
	fmt.Fprintf(w, "  %-13s %.1f dB against FP32 on %s\n", "output SQNR", o.rep.OutputSQNR, sqnrData(o))
	for _, n := range o.rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}

	fmt.Fprintln(w, "\nLayers")
	printLayers(w, o.rep)
	if o.sens != nil {
		fmt.Fprintln(w)
		printSensitivity(w, o.sens)
	}
	if o.fallback != nil {
		fmt.Fprintln(w)
		printFallback(w, o)
	}
	fmt.Fprintf(w, "\nTimings: %s; total %s\n", j.ph, seconds(j.ph.total()))
	printFiles(w, f.out, o.files)
}

// imagesPhrase says which images were used: "all 10,000 MNIST test
// images" or "the first 2,000 of the 10,000 MNIST test images".
func imagesPhrase(n, of int, set string) string {
	if n == of {
		return fmt.Sprintf("all %s MNIST %s images", thousands(n), set)
	}
	return fmt.Sprintf("the first %s of the %s MNIST %s images", thousands(n), thousands(of), set)
}

// printLayers writes the per-layer table of a quantizer's report.
func printLayers(w io.Writer, rep *ptq.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  LAYER\tKIND\tROLE\tWEIGHTS\tWEIGHT SCALES\tOUTPUT SCALE\tZERO POINT\tSQNR")
	for _, l := range rep.Layers {
		wt, ws, sc, zp, sq := "-", "-", "-", "-", "-"
		if l.Weights != nil {
			wt = l.Weights.DType + " " + l.Weights.Scheme + " " + l.Weights.Granularity
			ws = fmt.Sprintf("%.3g", l.Weights.ScaleMin)
			if l.Weights.ScaleMax != l.Weights.ScaleMin {
				ws += fmt.Sprintf(" .. %.3g", l.Weights.ScaleMax)
			}
		}
		if l.Output != nil {
			sc, zp = fmt.Sprintf("%.4g", l.Output.Scale), fmt.Sprint(l.Output.ZeroPoint)
		}
		if l.SQNR != nil {
			sq = fmt.Sprintf("%.1f dB", *l.SQNR)
		}
		role := l.Role.String()
		if l.FusedInto != "" {
			role += " into " + l.FusedInto
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Kind, role, wt, ws, sc, zp, sq)
	}
	tw.Flush()
}

// printSensitivity writes the sensitivity ranking, measured on the
// selection images it names, and names the most sensitive layers.
func printSensitivity(w io.Writer, s *ptq.SensitivityReport) {
	fmt.Fprintf(w, "Sensitivity on the selection images, %s: FP32 %s, all layers INT8 %s\n",
		s.Selection, pct(s.FP32), pct(s.AllInt8))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RANK\tLAYER\tKIND\tDROP, ONLY IT INT8\tRECOVERY, ONLY IT FP32\tSQNR, ONLY IT INT8\tSENSITIVE")
	for i, l := range s.Layers {
		mark := ""
		if l.Sensitive {
			mark = "yes"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%.2f points\t%.2f points\t%.1f dB\t%s\n", i+1, l.Layer, l.Kind, 100*l.Drop, 100*l.Recovery, l.SQNR, mark)
	}
	tw.Flush()
	switch {
	case len(s.Sensitive) > 0:
		fmt.Fprintf(w, "  sensitive layers (drop or recovery of %.2f points or more), most sensitive first: %s\n",
			100*s.Threshold, strings.Join(s.Sensitive, ", "))
	case len(s.Layers) > 0:
		top := s.Layers[0]
		fmt.Fprintf(w, "  no layer reaches the %.2f-point threshold; the most sensitive is %s (drop %.2f, recovery %.2f points, %.1f dB)\n",
			100*s.Threshold, top.Layer, 100*top.Drop, 100*top.Recovery, top.SQNR)
	}
}

// printFallback writes the layers the accuracy-aware fallback reverted.
func printFallback(w io.Writer, o *outcome) {
	fb := o.fallback
	fmt.Fprintf(w, "Fallback, choosing on the selection images, %s: all INT8 %s against FP32 %s, budget %.2f points\n",
		fb.Selection, pct(fb.AllInt8), pct(fb.FP32), 100*fb.MaxDrop)
	if len(fb.Reverted) == 0 {
		fmt.Fprintln(w, "  no layer reverted: the drop on the selection images already fits the budget")
		return
	}
	for i, s := range fb.Reverted {
		fmt.Fprintf(w, "  %d. %s back to FP32: %s on the selection images (drop %.2f points)\n", i+1, s.Layer, pct(s.Metric), 100*s.Drop)
	}
	fmt.Fprintf(w, "  the accuracy on the test images above is that of the final model, with %s in FP32\n", strings.Join(o.reverted(), ", "))
}

// printFiles says where the report files are.
func printFiles(w io.Writer, dir string, files []string) {
	if dir == "" || len(files) == 0 {
		return
	}
	var html string
	var others []string
	charts := 0
	for _, p := range files {
		base := filepath.Base(p)
		switch {
		case strings.HasSuffix(base, ".html"):
			html = p
		case strings.HasSuffix(base, ".svg"):
			charts++
		default:
			others = append(others, base)
		}
	}
	if charts > 0 {
		others = append(others, fmt.Sprintf("%d SVG charts", charts))
	}
	if html == "" {
		fmt.Fprintf(w, "Report files: %s in %s\n", strings.Join(others, ", "), dir)
		return
	}
	fmt.Fprintf(w, "Report: %s\n  with %s in %s\n", html, strings.Join(others, ", "), dir)
}

// thousands writes n with comma separators, "10,000".
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sqnrData says which images the report's SQNR was measured on.
func sqnrData(o *outcome) string {
	switch {
	case o.rep.SQNRData == ptq.SQNROnHoldout && o.cfg.Holdout != nil && o.cfg.Holdout.Name != "":
		return o.cfg.Holdout.Name + ", held out from calibration"
	case o.rep.SQNRData != "":
		return fmt.Sprintf("%s %s images", thousands(o.rep.SQNRSamples), o.rep.SQNRData)
	}
	return "the calibration images"
}
