package ptq

import (
	"context"
	"fmt"
	"time"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// sqnrSamples bounds how many calibration samples the report's SQNR
// figures are computed on.
const sqnrSamples = 256

// Quantize quantizes g statically: it traverses g, calibrates on calib,
// converts, and measures the result against FP32 on the first calibration
// samples. A nil cfg means the defaults (see Config). g is never modified.
// A model with no quantizable layer is returned unchanged (ModeFP32)
// with a note saying so, and calib is not read.
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
	x, err := firstSamples(ctx, calib, sqnrSamples)
	if err != nil {
		return nil, nil, err
	}
	if err := measure(pr.graph, m, x, rep); err != nil {
		return nil, nil, err
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

// measure fills the model's and every quantized layer's SQNR against the
// FP32 graph on x.
func measure(g *nn.Graph, m *Model, x *tensor.Tensor, rep *Report) error {
	ref := map[string]*tensor.Tensor{}
	want, err := g.Run(x, nn.Eval, func(n *nn.Node, out *tensor.Tensor) error {
		ref[n.Name] = out
		return nil
	})
	if err != nil {
		return fmt.Errorf("ptq: measuring: %w", err)
	}
	got, err := m.Outputs(x)
	if err != nil {
		return fmt.Errorf("ptq: measuring: %w", err)
	}
	rep.OutputSQNR = capDB(quant.SQNR(want.Data(), got[m.output].Data()))
	for _, s := range m.steps {
		if s.role != Quantized {
			continue
		}
		np, _ := m.plan.Node(s.name)
		end := np.groupEnd()
		v := capDB(quant.SQNR(ref[end].Data(), got[s.name].Data()))
		s.layer.SQNR = &v
	}
	rep.Layers = m.Layers()
	return nil
}
