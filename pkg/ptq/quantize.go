package ptq

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// sqnrSamples bounds how many calibration samples the report's SQNR
// figures are computed on when no held-out set is given, and is the chunk
// size a held-out set is measured in.
const sqnrSamples = 256

// Quantize quantizes g statically: it traverses g, calibrates on calib,
// converts, and measures the result against FP32: on every sample of
// cfg.Holdout when one is given, otherwise on the first 256 calibration
// samples, with a note in the report saying the figure is optimistic.
// Report.SQNRData and SQNRSamples say which. A nil cfg means the defaults
// (see Config). g is never modified. A model with no quantizable layer is
// returned unchanged (ModeFP32) with a note saying so, and calib is not
// read.
func Quantize(ctx context.Context, g *nn.Graph, calib Batches, cfg *Config) (*Model, *Report, error) {
	t0 := time.Now()
	pr, err := Prepare(g, cfg)
	if err != nil {
		return nil, nil, err
	}
	c := pr.cfg
	rep := &Report{Mode: ModeStatic, FP32Bytes: fp32Bytes(pr.graph)}
	rep.Times.Traverse = time.Since(t0)
	if len(pr.Plan.QuantizedNodes()) == 0 {
		m := wrapFP32(pr.graph, pr.Plan)
		rep.Mode, rep.Int8Bytes, rep.OutputSQNR = ModeFP32, m.Bytes(), 200
		rep.Layers = m.Layers()
		rep.Notes = append(rep.Notes, "the model has no quantizable layer: returned unchanged, in FP32")
		return m, rep, nil
	}
	t1 := time.Now()
	if err := pr.Run(ctx, calib); err != nil {
		return nil, nil, err
	}
	rep.Times.Calibrate = time.Since(t1)
	conv, at := pr.Converged()
	rep.Calibration = &CalibrationReport{Method: c.Method, Batches: pr.Batches(), Samples: pr.Samples(),
		Converged: conv, ConvergedAt: at, Tolerance: c.Calibration.Tolerance, Patience: c.Calibration.Patience,
		History: pr.History()}
	t2 := time.Now()
	m, err := pr.Convert()
	if err != nil {
		return nil, nil, err
	}
	rep.Times.Convert = time.Since(t2)
	rep.Int8Bytes = m.Bytes()
	t3 := time.Now()
	if c.Holdout != nil {
		if err := measure(ctx, pr.graph, m, c.Holdout.X, rep); err != nil {
			return nil, nil, fmt.Errorf("%w (held-out set of shape %v)", err, c.Holdout.X.Shape())
		}
		rep.SQNRData = SQNROnHoldout
	} else {
		x, err := firstSamples(ctx, calib, sqnrSamples)
		if err != nil {
			return nil, nil, err
		}
		if err := measure(ctx, pr.graph, m, x, rep); err != nil {
			return nil, nil, err
		}
		rep.SQNRData = SQNROnCalibration
		rep.Notes = append(rep.Notes, fmt.Sprintf("SQNR measured on the first %d calibration samples, which the ranges were fitted to: "+
			"set Config.Holdout to measure on data calibration never saw", rep.SQNRSamples))
	}
	rep.Times.Evaluate = time.Since(t3)
	return m, rep, nil
}

// firstSamples gathers up to n samples from the start of src.
func firstSamples(ctx context.Context, src Batches, n int) (*tensor.Tensor, error) {
	var parts []*tensor.Tensor
	got, i := 0, 0
	for x, err := range src {
		if err != nil {
			return nil, fmt.Errorf("ptq: batch %d: %w", i, err)
		}
		i++
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if x == nil || x.Len() == 0 {
			continue
		}
		if got+x.Dim(0) > n {
			x, _ = x.Slice(0, n-got)
		}
		parts = append(parts, x)
		if got += x.Dim(0); got >= n {
			break
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("ptq: the calibration source yielded no samples: %w", ErrNoCalibrationData)
	}
	return tensor.Concat(parts...)
}

// sqnrSum accumulates the signal and noise energy of one SQNR over
// chunks of samples.
type sqnrSum struct{ signal, noise float64 }

func (a *sqnrSum) add(ref, approx []float32) {
	for i, r := range ref {
		d := float64(r) - float64(approx[i])
		a.signal += float64(r) * float64(r)
		a.noise += d * d
	}
}

// db is the SQNR in dB, capped as capDB does: identical outputs give 200.
func (a sqnrSum) db() float64 {
	switch {
	case a.noise == 0:
		return 200
	case a.signal == 0:
		return capDB(math.Inf(-1))
	}
	return capDB(10 * math.Log10(a.signal/a.noise))
}

// measure fills the model's and every quantized layer's SQNR against the
// FP32 graph on the samples of x, sqnrSamples at a time, and records their
// count in rep.SQNRSamples. It checks ctx between chunks.
func measure(ctx context.Context, g *nn.Graph, m *Model, x *tensor.Tensor, rep *Report) error {
	if x == nil || x.Dims() == 0 || x.Dim(0) == 0 {
		return fmt.Errorf("ptq: measuring: no samples: %w", ErrNoEvaluationData)
	}
	var out sqnrSum
	layers := map[string]*sqnrSum{}
	n := x.Dim(0)
	for start := 0; start < n; start += sqnrSamples {
		if err := ctx.Err(); err != nil {
			return err
		}
		xb, err := x.Slice(start, min(n, start+sqnrSamples))
		if err != nil {
			return fmt.Errorf("ptq: measuring samples %d..%d: %w", start, min(n, start+sqnrSamples)-1, err)
		}
		if err := measureChunk(g, m, xb, &out, layers); err != nil {
			return fmt.Errorf("ptq: measuring samples %d..%d: %w", start, min(n, start+sqnrSamples)-1, err)
		}
	}
	rep.OutputSQNR, rep.SQNRSamples = out.db(), n
	for _, s := range m.steps {
		if a, ok := layers[s.name]; ok {
			v := a.db()
			s.layer.SQNR = &v
		}
	}
	rep.Layers = m.Layers()
	return nil
}

// measureChunk adds the output's and every quantized layer's signal and
// noise on the samples of x to out and layers.
func measureChunk(g *nn.Graph, m *Model, x *tensor.Tensor, out *sqnrSum, layers map[string]*sqnrSum) error {
	ref := map[string]*tensor.Tensor{}
	want, err := g.Run(x, nn.Eval, func(n *nn.Node, out *tensor.Tensor) error {
		ref[n.Name] = out
		return nil
	})
	if err != nil {
		return err
	}
	got, err := m.Outputs(x)
	if err != nil {
		return err
	}
	out.add(want.Data(), got[m.output].Data())
	for _, s := range m.steps {
		if s.role != Quantized {
			continue
		}
		np, _ := m.plan.Node(s.name)
		a := layers[s.name]
		if a == nil {
			a = &sqnrSum{}
			layers[s.name] = a
		}
		a.add(ref[np.groupEnd()].Data(), got[s.name].Data())
	}
	return nil
}
