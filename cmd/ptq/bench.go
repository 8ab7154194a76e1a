package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	register(command{name: "bench", summary: "time FP32, INT8 and dynamic INT8 inference (and ONNX Runtime's) on the MNIST test images, and the GEMM kernels", run: runBench})
}

// benchSynopsis is the flag summary of ptq bench.
const benchSynopsis = "[-models mlp,cnn] [-batch 1,64] [-threads 1,2] [-images 10000] [-repeat 3] [-gemm 64,256,1024] " +
	"[-ort] [-layers] [-seed S] [-epochs N] [-limit N] [-calib 1000] [-json]"

// Engine and precision names of the inference rows, as in the -json object.
const (
	enginePtqspec     = "ptqspec"
	engineORT         = "onnxruntime"
	precisionFP32     = "fp32"
	precisionInt8     = "int8"
	precisionInt8Dyn  = "int8-dynamic"
	defaultBenchCalib = 1000
)

// benchFlags are the parsed flags of ptq bench.
type benchFlags struct {
	models  []string
	batches []int
	threads []int
	gemm    []int
	images  int
	repeat  int
	calib   int
	seed    uint64
	epochs  int
	limit   int
	ort     bool
	layers  bool
	json    bool
}

// intList is a flag holding a comma-separated list of positive integers.
type intList struct{ v *[]int }

func (l intList) String() string {
	if l.v == nil {
		return ""
	}
	parts := make([]string, len(*l.v))
	for i, n := range *l.v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (l intList) Set(s string) error {
	var out []int
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, n)
	}
	*l.v = out
	return nil
}

// stringList is a flag holding a comma-separated list of names.
type stringList struct{ v *[]string }

func (l stringList) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l stringList) Set(s string) error {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*l.v = out
	return nil
}

// parseBenchFlags parses and checks ptq bench's flags.
func parseBenchFlags(args []string, stderr io.Writer) (benchFlags, error) {
	f := benchFlags{
		models: []string{"mlp", "cnn"}, batches: []int{1, 64}, threads: []int{1, 2}, gemm: []int{64, 256, 1024},
	}
	fs := newFlagSet("bench", benchSynopsis, stderr)
	fs.Var(stringList{&f.models}, "models", "models to time, comma-separated: "+strings.Join(models.Names(), ", "))
	fs.Var(intList{&f.batches}, "batch", "batch sizes, comma-separated")
	fs.Var(intList{&f.threads}, "threads", "thread counts (GOMAXPROCS and workers), comma-separated")
	fs.Var(intList{&f.gemm}, "gemm", "square GEMM sizes m=n=k for the GEMM rows, comma-separated (\"\": none)")
	fs.IntVar(&f.images, "images", 10000, "time inference on the first N MNIST test images")
	fs.IntVar(&f.repeat, "repeat", 3, "timed passes per row (the rate is the batch size over the median batch time of all passes)")
	fs.IntVar(&f.calib, "calib", defaultBenchCalib, "calibrate the static INT8 models on the first N MNIST training images")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the models' initial weights and of the shuffling")
	fs.IntVar(&f.epochs, "epochs", 3, "training epochs (> 0)")
	fs.IntVar(&f.limit, "limit", 0, "train on the first N training images only, without the model cache (0: all 60,000, cached)")
	fs.BoolVar(&f.ort, "ort", true, "time ONNX Runtime on the ONNX exports too (needs `make tools`)")
	fs.BoolVar(&f.layers, "layers", true, "time the FP32 Linear and Conv2D layers of the models alone, at each batch size and thread count")
	fs.BoolVar(&f.json, "json", false, "print a JSON object of the rows as the last line")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case len(f.models) == 0:
		return f, usageErrorf("-models is empty, want at least one of %s", strings.Join(models.Names(), ", "))
	case len(f.batches) == 0:
		return f, usageErrorf("-batch is empty, want at least one batch size")
	case len(f.threads) == 0:
		return f, usageErrorf("-threads is empty, want at least one thread count")
	case f.images <= 0:
		return f, usageErrorf("-images is %d, want > 0", f.images)
	case f.repeat <= 0:
		return f, usageErrorf("-repeat is %d, want > 0", f.repeat)
	case f.calib <= 0:
		return f, usageErrorf("-calib is %d, want > 0", f.calib)
	case f.epochs <= 0:
		return f, usageErrorf("-epochs is %d, want > 0", f.epochs)
	case f.limit < 0:
		return f, usageErrorf("-limit is %d, want >= 0", f.limit)
	}
	for _, m := range f.models {
		if _, err := models.ByName(m, f.seed); err != nil {
			if errors.Is(err, models.ErrUnknownModel) {
				return f, usageErrorf("-models: %v", err)
			}
			return f, err
		}
	}
	return f, nil
}

// inferenceRow is one timed model, engine, precision, batch size and
// thread count. Its JSON keys are those of the issue's -json object.
type inferenceRow struct {
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	Engine     string  `json:"engine"`
	Precision  string  `json:"precision"`
	ImagesPerS float64 `json:"images_per_s"`
	Accuracy   float64 `json:"accuracy"`
}

// gemmRow is one square GEMM size on one thread: the int8 GEMM of package
// quant, f32gemm's sgemm and gonum's Sgemm, beside the register-only
// peaks.
type gemmRow struct {
	M            int     `json:"m"`
	N            int     `json:"n"`
	K            int     `json:"k"`
	Int8GMACs    float64 `json:"int8_gmacs"`
	SgemmGFLOPs  float64 `json:"sgemm_gflops"`
	PeakGMACs    float64 `json:"peak_gmacs"`
	GonumGFLOPs  float64 `json:"gonum_sgemm_gflops"`
	SgemmPeak    float64 `json:"sgemm_peak_gflops"`
	SgemmKernel  string  `json:"sgemm_kernel"`
	Int8PeakNote string  `json:"-"`
}

// layerRow is one FP32 layer alone (Linear or Conv2D at a model's shape,
// random weights and inputs), in ptqspec and in ONNX Runtime.
type layerRow struct {
	Layer   string  `json:"layer"`
	Batch   int     `json:"batch"`
	Threads int     `json:"threads"`
	Ptqspec float64 `json:"ptqspec_fp32_per_s"`
	ORT     float64 `json:"onnxruntime_fp32_per_s,omitempty"`
}

// benchResult is the -json object.
type benchResult struct {
	Machine   string         `json:"machine"`
	Images    int            `json:"images"`
	Inference []inferenceRow `json:"inference"`
	Layers    []layerRow     `json:"layers,omitempty"`
	GEMM      []gemmRow      `json:"gemm"`
	ORTNote   string         `json:"onnxruntime_note,omitempty"`
}

func runBench(args []string, stdout, stderr io.Writer) error {
	f, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := notifyContext() // SIGINT or SIGTERM: exit 130 (interrupt.go)
	defer stop()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	ph := newPhases()
	train, test, err := loadMNIST(ph)
	if err != nil {
		return err
	}
	if f.images > test.Len() {
		return usageErrorf("-images is %s, but the MNIST test set holds %s images", thousands(f.images), thousands(test.Len()))
	}
	if f.calib > train.Len() {
		return usageErrorf("-calib is %s, but the MNIST training set holds %s images", thousands(f.calib), thousands(train.Len()))
	}
	if f.limit > train.Len() {
		return usageErrorf("-limit is %s, but the MNIST training set holds %s images", thousands(f.limit), thousands(train.Len()))
	}
	eval, err := first(test, f.images)
	if err != nil {
		return err
	}
	calib, err := first(train, f.calib)
	if err != nil {
		return err
	}
	res := benchResult{Machine: machine(), Images: eval.Len()}
	var peer onnxPeer
	if f.ort {
		if peer, err = newONNXPeer(); err != nil {
			res.ORTNote = "ONNX Runtime rows skipped: " + err.Error()
			fmt.Fprintln(stderr, res.ORTNote)
			peer = nil
		}
	} else {
		res.ORTNote = "ONNX Runtime rows skipped: -ort=false"
	}
	for _, name := range f.models {
		rows, err := benchModel(ctx, f, name, calib, eval, peer, stderr)
		if err != nil {
			return err
		}
		res.Inference = append(res.Inference, rows...)
	}
	if f.layers {
		rows, err := benchLayers(ctx, f, peer, stderr)
		if err != nil {
			return err
		}
		res.Layers = rows
	}
	for _, s := range f.gemm {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "timing GEMM %d³\n", s)
		res.GEMM = append(res.GEMM, benchGEMM(s))
	}
	if len(res.GEMM) > 0 {
		fmt.Fprintf(stderr, "timing the register-only peaks\n")
		sgemmPeak := peakOnOneThread(func() float64 { return f32gemm.PeakGFLOPS(100 * time.Millisecond) })
		var note string
		int8Peak := peakOnOneThread(func() (p float64) { p, note = int8PeakGMACs(); return p })
		for i := range res.GEMM {
			res.GEMM[i].SgemmPeak, res.GEMM[i].PeakGMACs, res.GEMM[i].Int8PeakNote = sgemmPeak, int8Peak, note
		}
	}
	printBench(stdout, &res)
	if f.json {
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", line)
	}
	return nil
}

// benchModel loads (or trains) one model, quantizes it statically and
// dynamically, and times every engine and precision at every batch size
// and thread count.
func benchModel(ctx context.Context, f benchFlags, name string, calib, eval *datasets.Dataset, peer onnxPeer, log io.Writer) ([]inferenceRow, error) {
	g, _, err := mnistModel(ctx, mnistFlags{model: name, seed: f.seed, epochs: f.epochs, limit: f.limit}, newPhases(), log)
	if err != nil {
		return nil, err
	}
	static, _, err := ptq.Quantize(ctx, g, ptq.BatchesOf(calib.X, defaultCalibBatch), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: static INT8: %w", name, err)
	}
	dynamic, _, err := ptq.QuantizeDynamic(ctx, g, &ptq.DynamicConfig{Conv2D: true})
	if err != nil {
		return nil, fmt.Errorf("%s: dynamic INT8: %w", name, err)
	}
	engines := []struct {
		precision string
		fwd       ptq.Forwarder
	}{
		{precisionFP32, ptq.FP32Model(g)},
		{precisionInt8, static},
		{precisionInt8Dyn, dynamic},
	}
	var ort *onnxFiles
	if peer != nil {
		if ort, err = peer.export(ctx, name, g, static); err != nil {
			return nil, fmt.Errorf("%s: ONNX export: %w", name, err)
		}
		defer ort.remove()
	}
	var rows []inferenceRow
	for _, bs := range f.batches {
		batches, err := splitBatches(eval.X, bs)
		if err != nil {
			return nil, err
		}
		for _, th := range f.threads {
			runtime.GOMAXPROCS(th)
			for _, e := range engines {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				fmt.Fprintf(log, "timing %s %s, batch %d, %s\n", name, e.precision, bs, plural(th, "thread"))
				ips, acc, err := timeForward(e.fwd, batches, eval.Labels, f.repeat)
				if err != nil {
					return nil, fmt.Errorf("%s %s, batch %d: %w", name, e.precision, bs, err)
				}
				rows = append(rows, inferenceRow{Model: name, Batch: bs, Threads: th, Engine: enginePtqspec,
					Precision: e.precision, ImagesPerS: ips, Accuracy: acc})
			}
			if ort == nil {
				continue
			}
			for _, p := range []struct{ precision, path string }{{precisionFP32, ort.fp32}, {precisionInt8, ort.qdq}} {
				fmt.Fprintf(log, "timing %s %s in ONNX Runtime, batch %d, %s\n", name, p.precision, bs, plural(th, "thread"))
				ips, acc, err := peer.bench(ctx, p.path, eval, bs, th, f.repeat)
				if err != nil {
					return nil, fmt.Errorf("%s %s in ONNX Runtime, batch %d: %w", name, p.precision, bs, err)
				}
				rows = append(rows, inferenceRow{Model: name, Batch: bs, Threads: th, Engine: engineORT,
					Precision: p.precision, ImagesPerS: ips, Accuracy: acc})
			}
		}
	}
	return rows, nil
}

// benchLayerShapes are the FP32 Linear and Conv2D layers of the MNIST
// models, timed alone by -layers: name, the layer and its per-sample input
// shape.
func benchLayerShapes(rng *rand.Rand) []struct {
	name  string
	layer nn.Layer
	shape []int
} {
	return []struct {
		name  string
		layer nn.Layer
		shape []int
	}{
		{"Linear 784->256 (mlp)", nn.NewLinear(784, 256, rng), []int{784}},
		{"Linear 1568->10 (cnn)", nn.NewLinear(1568, 10, rng), []int{1568}},
		{"Conv2D 1->16 3x3 28x28 (cnn)", nn.NewConv2D(1, 16, 3, 1, 1, rng), []int{1, 28, 28}},
		{"Conv2D 16->32 3x3 14x14 (cnn)", nn.NewConv2D(16, 32, 3, 1, 1, rng), []int{16, 14, 14}},
	}
}

// benchLayers times each layer of benchLayerShapes alone in FP32 on 1,024
// standard normal samples (fewer if -images is smaller), in ptqspec and (with a peer) in ONNX Runtime
// on the layer's ONNX export, at every batch size and thread count.
func benchLayers(ctx context.Context, f benchFlags, peer onnxPeer, log io.Writer) ([]layerRow, error) {
	rng := rand.New(rand.NewPCG(f.seed, 10))
	var rows []layerRow
	for _, l := range benchLayerShapes(rng) {
		g, err := nn.Sequential(l.shape, l.layer)
		if err != nil {
			return nil, err
		}
		samples := min(1024, f.images)
		x := tensor.New(append([]int{samples}, l.shape...)...)
		for i := range x.Data() {
			x.Data()[i] = float32(rng.NormFloat64())
		}
		d := &datasets.Dataset{Name: l.name, X: x, Labels: make([]int, samples), Classes: 1}
		var path string
		if peer != nil {
			files, err := peer.export(ctx, "layer", g, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: ONNX export: %w", l.name, err)
			}
			defer files.remove()
			path = files.fp32
		}
		for _, bs := range f.batches {
			batches, err := splitBatches(x, bs)
			if err != nil {
				return nil, err
			}
			for _, th := range f.threads {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				runtime.GOMAXPROCS(th)
				fmt.Fprintf(log, "timing %s alone, batch %d, %s\n", l.name, bs, plural(th, "thread"))
				ips, err := timeForwardOnly(ptq.FP32Model(g), batches, f.repeat)
				if err != nil {
					return nil, fmt.Errorf("%s, batch %d: %w", l.name, bs, err)
				}
				row := layerRow{Layer: l.name, Batch: bs, Threads: th, Ptqspec: ips}
				if peer != nil {
					if row.ORT, _, err = peer.bench(ctx, path, d, bs, th, f.repeat); err != nil {
						return nil, fmt.Errorf("%s in ONNX Runtime, batch %d: %w", l.name, bs, err)
					}
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

// timeForwardOnly is timeForward without labels: samples per second.
func timeForwardOnly(f ptq.Forwarder, batches []*tensor.Tensor, repeat int) (float64, error) {
	var labels []int
	for _, b := range batches {
		labels = append(labels, make([]int, b.Dim(0))...)
	}
	ips, _, err := timeForward(f, batches, labels, repeat)
	return ips, err
}

// splitBatches cuts x into consecutive batches of bs samples (the last
// may be shorter), before any timing.
func splitBatches(x *tensor.Tensor, bs int) ([]*tensor.Tensor, error) {
	n := x.Dim(0)
	var out []*tensor.Tensor
	for lo := 0; lo < n; lo += bs {
		b, err := x.Slice(lo, min(n, lo+bs))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// timeForward runs f over the batches once to warm up (at most 10 batches
// and 1,000 images), then times repeat passes over all of them on the
// calling goroutine, each batch on its own. It returns images per second,
// the batch size divided by the median time of one full batch over all
// passes (the last, partial batch is not timed unless it is the only
// one), and the accuracy of the last pass's outputs against labels. The
// median, not the total, so that a busy machine's preemptions move the
// rate little; ONNX Runtime's rows use the median its runner reports.
func timeForward(f ptq.Forwarder, batches []*tensor.Tensor, labels []int, repeat int) (float64, float64, error) {
	images := 0
	for _, b := range batches {
		images += b.Dim(0)
	}
	full := batches[0].Dim(0)
	warm := 0
	for i := 0; i < len(batches) && i < 10 && warm < 1000; i++ {
		if _, err := f.Forward(batches[i]); err != nil {
			return 0, 0, fmt.Errorf("batch %d: %w", i, err)
		}
		warm += batches[i].Dim(0)
	}
	outs := make([]*tensor.Tensor, len(batches))
	var times []time.Duration
	for range repeat {
		for i, b := range batches {
			start := time.Now()
			y, err := f.Forward(b)
			d := time.Since(start)
			if err != nil {
				return 0, 0, fmt.Errorf("batch %d: %w", i, err)
			}
			if b.Dim(0) == full {
				times = append(times, d)
			}
			outs[i] = y
		}
	}
	slices.Sort(times)
	median := times[len(times)/2]
	correct, i := 0, 0
	for _, y := range outs {
		classes := y.Dim(1)
		d := y.Data()
		for s := range y.Dim(0) {
			row := d[s*classes : (s+1)*classes]
			if argmax(row) == labels[i] {
				correct++
			}
			i++
		}
	}
	return float64(full) / median.Seconds(), float64(correct) / float64(images), nil
}

// argmax returns the index of the largest value, the first one on ties.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// benchGEMM times one square size on one thread: the int8 GEMM on a
// pre-packed B (as a quantized layer runs it), f32gemm and gonum's Sgemm.
func benchGEMM(s int) gemmRow {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	rng := rand.New(rand.NewPCG(1, uint64(s)))
	row := gemmRow{M: s, N: s, K: s, SgemmKernel: f32gemm.Kernel()}
	macs := float64(s) * float64(s) * float64(s)

	a8, b8 := make([]int8, s*s), make([]int8, s*s)
	for i := range a8 {
		a8[i], b8[i] = int8(rng.IntN(256)-128), int8(rng.IntN(255)-127)
	}
	c32 := make([]int32, s*s)
	aZero := []int32{-3}
	packed := quant.PackB(s, s, b8, []int32{0})
	row.Int8GMACs = macs / timeLoop(func() { quant.GemmIntPackedWorkers(s, a8, aZero, packed, c32, 1) }) / 1e9

	a, b, c := make([]float32, s*s), make([]float32, s*s), make([]float32, s*s)
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	row.SgemmGFLOPs = 2 * macs / timeLoop(func() { f32gemm.Gemm(false, false, s, s, s, a, s, b, s, 0, c, s) }) / 1e9
	ga := blas32.General{Rows: s, Cols: s, Stride: s, Data: a}
	gb := blas32.General{Rows: s, Cols: s, Stride: s, Data: b}
	gc := blas32.General{Rows: s, Cols: s, Stride: s, Data: c}
	row.GonumGFLOPs = 2 * macs / timeLoop(func() { blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc) }) / 1e9
	return row
}

// peakOnOneThread runs a peak measurement with GOMAXPROCS 1.
func peakOnOneThread(f func() float64) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	return f()
}

// timeLoop returns the seconds of one call of f: the fastest of repeated
// calls over at least 0.2 s (and at least 3 calls), after one warm-up call.
func timeLoop(f func()) float64 {
	f()
	best := time.Duration(1<<63 - 1)
	var total time.Duration
	for n := 0; n < 3 || total < 200*time.Millisecond; n++ {
		t := time.Now()
		f()
		d := time.Since(t)
		best, total = min(best, d), total+d
	}
	return best.Seconds()
}

// printBench writes the inference table and the GEMM table.
func printBench(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "\nInference on %s MNIST test images, %s\n", thousands(r.Images), r.Machine)
	if r.ORTNote != "" {
		fmt.Fprintf(w, "(%s)\n", r.ORTNote)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\tbatch\tthreads\tengine\tprecision\timages/s\tvs best peer\taccuracy\t\n")
	for _, row := range r.Inference {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", row.Model, row.Batch, row.Threads, row.Engine, row.Precision,
			thousands(int(row.ImagesPerS+0.5)), ratioToPeer(r.Inference, row), pct(row.Accuracy))
	}
	tw.Flush()
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "\nFP32 layers alone (%s random samples; samples/s)\n", thousands(min(1024, r.Images)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "layer\tbatch\tthreads\tptqspec\tONNX Runtime\tptqspec/ORT\t\n")
		for _, l := range r.Layers {
			ratio := "—"
			if l.ORT > 0 {
				ratio = fmt.Sprintf("%.2f×", l.Ptqspec/l.ORT)
			}
			ort := "—"
			if l.ORT > 0 {
				ort = thousands(int(l.ORT + 0.5))
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", l.Layer, l.Batch, l.Threads, thousands(int(l.Ptqspec+0.5)), ort, ratio)
		}
		tw.Flush()
	}
	if len(r.GEMM) == 0 {
		return
	}
	fmt.Fprintf(w, "\nGEMM, square m = n = k, one thread (peaks: register-only loops of the kernels' instructions)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "size\tint8 GMAC/s\tint8 peak GMAC/s\tint8 of peak\tsgemm GFLOP/s\tgonum Sgemm GFLOP/s\tsgemm/gonum\tFP32 FMA peak GFLOP/s\tsgemm of peak\t\n")
	for _, g := range r.GEMM {
		fmt.Fprintf(tw, "%d³\t%.1f\t%s\t%s\t%.1f (%s)\t%.1f\t%.1f×\t%.1f\t%s\t\n", g.M, g.Int8GMACs,
			orDash(g.PeakGMACs, "%.1f"), share(g.Int8GMACs, g.PeakGMACs), g.SgemmGFLOPs, g.SgemmKernel, g.GonumGFLOPs,
			g.SgemmGFLOPs/g.GonumGFLOPs, g.SgemmPeak, share(g.SgemmGFLOPs, g.SgemmPeak))
	}
	tw.Flush()
	if n := r.GEMM[0].Int8PeakNote; n != "" {
		fmt.Fprintf(w, "(%s)\n", n)
	}
}

// ratioToPeer is a row's images/s divided by the best of the other
// engine's rows for the same model, batch and threads, "—" without one.
func ratioToPeer(rows []inferenceRow, row inferenceRow) string {
	best := 0.0
	for _, o := range rows {
		if o.Engine != row.Engine && o.Model == row.Model && o.Batch == row.Batch && o.Threads == row.Threads {
			best = max(best, o.ImagesPerS)
		}
	}
	if best == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", row.ImagesPerS/best)
}

// share renders v/of as a percentage, "—" when of is unknown.
func share(v, of float64) string {
	if of <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*v/of)
}

// orDash formats v, or "—" when it is not positive.
func orDash(v float64, format string) string {
	if v <= 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// machine describes the processor, cores and Go build the run used.
func machine() string {
	name := runtime.GOARCH
	if fh, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				name = strings.TrimSpace(v)
				break
			}
		}
		fh.Close()
	}
	return fmt.Sprintf("%s, %d cores, %s %s/%s, sgemm kernel %s", name, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, f32gemm.Kernel())
}

// int8PeakGMACs is the int8 register-only peak of package quant's GEMM
// kernel, with a note naming the kernel: the best of 8 measurements of
// 25 ms, since one long average counts a busy machine's preemptions.
func int8PeakGMACs() (float64, string) {
	peak := 0.0
	for range 8 {
		peak = max(peak, quant.GEMMPeakGMACs(25*time.Millisecond))
	}
	if peak == 0 {
		return 0, "int8 GEMM kernel " + quant.GEMMKernel() + ": no register-only peak loop"
	}
	return peak, "int8 GEMM kernel " + quant.GEMMKernel()
}

// onnxFiles are one model's ONNX exports, FP32 and INT8 (QDQ), in a
// temporary folder.
type onnxFiles struct {
	dir, fp32, qdq string
}

// remove deletes the export folder.
func (o *onnxFiles) remove() { os.RemoveAll(o.dir) }

// onnxPeer is ONNX Runtime as ptq bench uses it: the ONNX exports of a
// model and timing inside the runner's own process.
type onnxPeer interface {
	// export writes the FP32 graph and the static INT8 model (QDQ) of the
	// model named name as ONNX files in a temporary folder; with a nil
	// int8 model, only the FP32 graph.
	export(ctx context.Context, name string, g *nn.Graph, int8 *ptq.Model) (*onnxFiles, error)
	// bench times the ONNX file on the images of d in batches of batch
	// with threads intra-op threads, after warm-up, inside the runner,
	// repeat times, and returns the best images/s and the accuracy on d's
	// labels.
	bench(ctx context.Context, path string, d *datasets.Dataset, batch, threads, repeat int) (float64, float64, error)
}
