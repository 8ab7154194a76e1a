package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/internal/modelcache"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("models", registerModelSteps) }

// modelState is the models domain's part of a scenario.
type modelState struct {
	model  *nn.Graph            // "it": the model the scenario works on
	info   modelcache.TrainInfo // how a cached MNIST model was trained
	file   string               // where the model was saved
	loaded *nn.Graph            // the model loaded back from file
}

// The training recipe of the synthetic scenarios; the scenarios state the
// data, the model size and the epochs.
const (
	syntheticBatch = 32
	syntheticLR    = 1e-2
	evalBatchSize  = 500
)

func registerModelSteps(sc *godog.ScenarioContext) {
	sc.Step(`^an MLP with one hidden layer of (\d+) units, seed (\d+)$`, anMLPForTheSamples)
	sc.Step(`^its accuracy on the held-out samples is (at most|at least) ([\d.]+)%$`, heldOutAccuracy)
	sc.Step(`^its accuracy on the held-out samples is (at most|at least) (-?\d+(?:\.\d+)?) points? below the nearest-class-mean classifier's$`, heldOutBelowNearestMean)
	sc.Step(`^it is trained for (\d+) epochs? on the other samples$`, trainedOnTheOtherSamples)

	sc.Step(`^an? "([^"]+)" model with seed (\d+), trained for one epoch on the first ([\d,]+) MNIST training images$`, aBrieflyTrainedModel)
	sc.Step(`^an? "([^"]+)" model with seed (\d+) saved to a file$`, aModelSavedToAFile)
	sc.Step(`^it is saved to a file and loaded back$`, savedAndLoadedBack)
	sc.Step(`^the loaded model gives bit-identical outputs on the first ([\d,]+) MNIST test images$`, bitIdenticalOutputs)
	sc.Step(`^the model file is damaged by a flipped byte in its middle$`, modelFileFlipByte)
	sc.Step(`^the model file is damaged by truncation to half its size$`, modelFileTruncate)
	sc.Step(`^the model file is damaged by a wrong magic number$`, modelFileMagic)
	sc.Step(`^the model is loaded from the damaged file$`, modelLoadedFromFile)
	sc.Step(`^loading is refused with an error naming the file and "([^"]+)"$`, loadRefusedNamingFile)

	sc.Step(`^the "([^"]+)" model trained on MNIST for (\d+) epochs with seed (\d+)$`, theCachedMNISTModel)
	sc.Step(`^its accuracy on the ([\d,]+) MNIST test images is at least ([\d.]+)%$`, mnistTestAccuracy)
}

func anMLPForTheSamples(ctx context.Context, hidden int, seed uint64) error {
	ds := domainState[dataState](ctx)
	if ds.train == nil {
		return errors.New("no samples to size the MLP for")
	}
	features := ds.train.X.RowLen()
	rng := rand.New(rand.NewPCG(seeded(seed), 0x73746570)) // "step"
	g, err := nn.Sequential([]int{features},
		nn.NewLinear(features, hidden, rng), nn.NewReLU(), nn.NewLinear(hidden, ds.train.Classes, rng))
	if err != nil {
		return err
	}
	domainState[modelState](ctx).model = g
	return nil
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("steps: %q is not a percentage", s)
	}
	return v / 100, nil
}

func heldOutAccuracy(ctx context.Context, bound, pct string) error {
	want, err := parsePercent(pct)
	if err != nil {
		return err
	}
	ds, ms := domainState[dataState](ctx), domainState[modelState](ctx)
	acc, _, err := nn.Evaluate(ms.model, ds.test.X, ds.test.Labels, evalBatchSize)
	if err != nil {
		return err
	}
	c := criterion{measured: "accuracy on the held-out samples", unit: "%", direction: bound, threshold: 100 * want, value: 100 * acc}
	return check(ctx, c, func() error {
		return fmt.Errorf("held-out accuracy is %.2f%%, want %s %s%%", 100*acc, bound, pct)
	})
}

// nearestMeanAccuracy returns the held-out accuracy of the classifier that
// gives each sample the class whose mean over the training samples is
// nearest: for Gaussian blobs of one spread, the best a classifier can do
// up to the error of the estimated means, whatever the blobs' overlap.
func nearestMeanAccuracy(train, test *datasets.Dataset) (float64, error) {
	f := train.X.RowLen()
	if test.X.RowLen() != f {
		return 0, fmt.Errorf("training samples have %d features, held-out samples %d", f, test.X.RowLen())
	}
	means := make([]float64, train.Classes*f)
	counts := make([]int, train.Classes)
	x := train.X.Data()
	for i, c := range train.Labels {
		if c < 0 || c >= train.Classes {
			return 0, fmt.Errorf("training sample %d has label %d, want 0 to %d", i, c, train.Classes-1)
		}
		counts[c]++
		for j, v := range x[i*f : (i+1)*f] {
			means[c*f+j] += float64(v)
		}
	}
	for c, n := range counts {
		if n == 0 {
			return 0, fmt.Errorf("no training sample of class %d", c)
		}
		for j := range f {
			means[c*f+j] /= float64(n)
		}
	}
	if len(test.Labels) == 0 {
		return 0, errors.New("no held-out samples")
	}
	right := 0
	y := test.X.Data()
	for i, label := range test.Labels {
		row := y[i*f : (i+1)*f]
		best, bestD := -1, math.Inf(1)
		for c := range counts {
			d := 0.0
			for j, v := range row {
				e := float64(v) - means[c*f+j]
				d += e * e
			}
			if d < bestD {
				best, bestD = c, d
			}
		}
		if best == label {
			right++
		}
	}
	return float64(right) / float64(len(test.Labels)), nil
}

// heldOutBelowNearestMean compares the model's held-out accuracy with the
// nearest-class-mean classifier's, in points below it.
func heldOutBelowNearestMean(ctx context.Context, bound string, points float64) error {
	ds, ms := domainState[dataState](ctx), domainState[modelState](ctx)
	if ds.train == nil || ds.test == nil {
		return errors.New("the scenario has no training and held-out samples")
	}
	if ms.model == nil {
		return errors.New("the scenario has no model")
	}
	ref, err := nearestMeanAccuracy(ds.train, ds.test)
	if err != nil {
		return err
	}
	acc, _, err := nn.Evaluate(ms.model, ds.test.X, ds.test.Labels, evalBatchSize)
	if err != nil {
		return err
	}
	below := 100 * (ref - acc)
	c := criterion{measured: "held-out accuracy below the nearest-class-mean classifier's", unit: "points", direction: bound, threshold: points, value: below, slack: 1e-9}
	return check(ctx, c, func() error {
		return fmt.Errorf("held-out accuracy is %.2f%%, the nearest-class-mean classifier's %.2f%%: %.2f points below, want %s %g",
			100*acc, 100*ref, below, bound, points)
	})
}

func trainedOnTheOtherSamples(ctx context.Context, epochs int) error {
	ds, ms := domainState[dataState](ctx), domainState[modelState](ctx)
	_, err := nn.Fit(ms.model, ds.train.X, ds.train.Labels, nn.TrainConfig{
		Epochs: epochs, BatchSize: syntheticBatch, Seed: seeded(1), Optimizer: nn.NewAdam(syntheticLR),
	})
	return err
}

func aBrieflyTrainedModel(ctx context.Context, name string, seed uint64, count string) error {
	seed = seeded(seed)
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	g, err := models.ByName(name, seed)
	if err != nil {
		return err
	}
	train, _, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	sub, err := train.Subset(0, n)
	if err != nil {
		return err
	}
	cfg := models.DefaultTrainConfig(name)
	cfg.Epochs, cfg.Seed = 1, seed
	if _, err := nn.Fit(g, sub.X, sub.Labels, cfg); err != nil {
		return err
	}
	domainState[modelState](ctx).model = g
	return nil
}

func saveModel(ctx context.Context) error {
	ms := domainState[modelState](ctx)
	dir, err := stateFrom(ctx).scratchDir()
	if err != nil {
		return err
	}
	ms.file = filepath.Join(dir, "model.ptq")
	return nn.SaveFile(ms.file, ms.model)
}

func aModelSavedToAFile(ctx context.Context, name string, seed uint64) error {
	seed = seeded(seed)
	g, err := models.ByName(name, seed)
	if err != nil {
		return err
	}
	domainState[modelState](ctx).model = g
	return saveModel(ctx)
}

func savedAndLoadedBack(ctx context.Context) error {
	if err := saveModel(ctx); err != nil {
		return err
	}
	ms := domainState[modelState](ctx)
	g, err := nn.LoadFile(ms.file)
	if err != nil {
		return err
	}
	ms.loaded = g
	return nil
}

func bitIdenticalOutputs(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	x, err := test.X.Slice(0, n)
	if err != nil {
		return err
	}
	ms := domainState[modelState](ctx)
	var outs [2]*tensor.Tensor
	for i, g := range []*nn.Graph{ms.model, ms.loaded} {
		if outs[i], err = g.Forward(x, nn.Eval); err != nil {
			return err
		}
	}
	if !outs[0].SameShape(outs[1]) {
		return fmt.Errorf("outputs have shapes %v and %v", outs[0].Shape(), outs[1].Shape())
	}
	a, b := outs[0].Data(), outs[1].Data()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return fmt.Errorf("image %d, output %d: saved model gives %g, loaded model %g", i/outs[0].RowLen(), i%outs[0].RowLen(), a[i], b[i])
		}
	}
	return nil
}

// editModelFile rewrites the scenario's model file with edit.
func editModelFile(ctx context.Context, edit func([]byte) []byte) error {
	path := domainState[modelState](ctx).file
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, edit(raw), 0o644)
}

func modelFileFlipByte(ctx context.Context) error {
	return editModelFile(ctx, func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b })
}

func modelFileTruncate(ctx context.Context) error {
	return editModelFile(ctx, func(b []byte) []byte { return b[:len(b)/2] })
}

func modelFileMagic(ctx context.Context) error {
	return editModelFile(ctx, func(b []byte) []byte { b[0] ^= 0xff; return b })
}

func modelLoadedFromFile(ctx context.Context) error {
	ms := domainState[modelState](ctx)
	g, err := nn.LoadFile(ms.file)
	ms.loaded = g
	stateFrom(ctx).setErr(err)
	return nil
}

func loadRefusedNamingFile(ctx context.Context, reason string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	msg := err.Error()
	file := domainState[modelState](ctx).file
	if !strings.Contains(msg, file) {
		return fmt.Errorf("error %q does not name the file %s", msg, file)
	}
	if !strings.Contains(msg, reason) {
		return fmt.Errorf("error %q does not say %q", msg, reason)
	}
	return nil
}

func theCachedMNISTModel(ctx context.Context, name string, epochs int, seed uint64) error {
	g, info, err := modelcache.Get(name, seed, epochs)
	if err != nil {
		return err
	}
	ms := domainState[modelState](ctx)
	ms.model, ms.info = g, info
	return nil
}

func mnistTestAccuracy(ctx context.Context, count, pct string) error {
	want, err := parsePercent(pct)
	if err != nil {
		return err
	}
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	if test.Len() != n {
		return fmt.Errorf("the MNIST test set holds %d images, the scenario says %d", test.Len(), n)
	}
	ms := domainState[modelState](ctx)
	acc, _, err := nn.Evaluate(ms.model, test.X, test.Labels, evalBatchSize)
	if err != nil {
		return err
	}
	c := criterion{measured: fmt.Sprintf("%s accuracy on %d MNIST test images", ms.info.Model, n), unit: "%", direction: atLeast, threshold: 100 * want, value: 100 * acc}
	return check(ctx, c, func() error {
		return fmt.Errorf("%s (seed %d, %d epochs, trained in %.0f s) reaches %.2f%% test accuracy, want at least %s%%",
			ms.info.Model, ms.info.Seed, ms.info.Epochs, ms.info.TrainSeconds, 100*acc, pct)
	})
}
