package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// ortPeer is ONNX Runtime through internal/ortrun, on exports written by
// pkg/onnxio.
type ortPeer struct{ r *ortrun.Runner }

// newONNXPeer returns ONNX Runtime for ptq bench, or an error saying why
// its rows are missing (ortrun.ErrNotInstalled: run `make tools`).
func newONNXPeer() (onnxPeer, error) {
	r, err := ortrun.Locate()
	if err != nil {
		return nil, err
	}
	return &ortPeer{r}, nil
}

func (p *ortPeer) export(_ context.Context, name string, g *nn.Graph, m *ptq.Model) (*onnxFiles, error) {
	dir, err := os.MkdirTemp("", "ptq-bench-")
	if err != nil {
		return nil, err
	}
	files := &onnxFiles{dir: dir, fp32: filepath.Join(dir, name+"-fp32.onnx"), qdq: filepath.Join(dir, name+"-int8-qdq.onnx")}
	if err := onnxio.ExportFile(files.fp32, g); err != nil {
		files.remove()
		return nil, fmt.Errorf("FP32: %w", err)
	}
	if m == nil {
		return files, nil
	}
	if err := onnxio.ExportQuantizedFile(files.qdq, m, onnxio.QDQ); err != nil {
		files.remove()
		return nil, fmt.Errorf("INT8 QDQ: %w", err)
	}
	return files, nil
}

func (p *ortPeer) bench(ctx context.Context, path string, d *datasets.Dataset, batch, threads, repeat int) (float64, float64, error) {
	// One timed pass over the images, as ptqspec's rows: every full batch
	// once; up to 10 batches of warm-up, as timeForward. The rate is the
	// batch size over the runner's median batch time (the best of repeat
	// runs), as timeForward's.
	iters := max(1, d.Len()/batch)
	opt := ortrun.BenchOptions{Batch: min(batch, d.Len()), Threads: threads, Warmup: min(10, iters), Iterations: iters, Labels: d.Labels}
	best, acc := 0.0, 0.0
	for i := range repeat {
		res, err := p.r.Bench(ctx, path, d.X, opt)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 {
			acc = res.Accuracy
			opt.Labels = nil // measured once
		}
		if res.MsPerBatchMedian > 0 {
			best = max(best, float64(res.Batch)/(res.MsPerBatchMedian/1000))
		} else {
			best = max(best, res.ImagesPerSecond)
		}
	}
	return best, acc, nil
}
