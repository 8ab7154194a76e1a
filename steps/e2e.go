package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func init() { addSteps("e2e", registerE2ESteps) }

// e2eState holds the accuracies of the FP32 model and of its quantized
// twin on the MNIST test images a scenario classified.
type e2eState struct {
	images     int // how many test images were classified; 0 before
	fp32, int8 float64
}

func registerE2ESteps(sc *godog.ScenarioContext) {
	sc.Step(`^an MLP for MNIST with one hidden layer of (\d+) units, seed (\d+), trained for one epoch on the first ([\d,]+) MNIST training images$`, aSmallMNISTMLP)
	sc.Step(`^it is quantized statically to int8, calibrated on the first ([\d,]+) MNIST training images in batches of (\d+)$`, quantizedOnMNIST)
	sc.Step(`^it is quantized dynamically, with int8 weights and FP32 activations$`, quantizedDynamicallyOnMNIST)
	sc.Step(`^the FP32 and int8 models classify the (first )?([\d,]+) MNIST test images$`, bothModelsClassify)
	sc.Step(`^the FP32 model's accuracy is at least ([\d.]+)%$`, fp32AccuracyAtLeast)
	sc.Step(`^the int8 model's accuracy is less than (-?\d+(?:\.\d+)?) points? below the FP32 model's$`, int8DropLessThan)
}

// mnistFirst returns the first n images of an MNIST set, all of it when
// whole is set, in which case n must be the set's size.
func mnistFirst(set *datasets.Dataset, n int, whole bool) (*datasets.Dataset, error) {
	if whole {
		if set.Len() != n {
			return nil, fmt.Errorf("the MNIST %s holds %d images, the scenario says %d", set.Name, set.Len(), n)
		}
		return set, nil
	}
	if n <= 0 || n > set.Len() {
		return nil, fmt.Errorf("cannot take the first %d of the %d images of %s", n, set.Len(), set.Name)
	}
	return set.Subset(0, n)
}

func aSmallMNISTMLP(ctx context.Context, hidden int, seed uint64, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	g, err := smallMNISTMLP(smallMLPKey{hidden: hidden, seed: seeded(seed), images: n})
	if err != nil {
		return err
	}
	domainState[modelState](ctx).model = g
	return nil
}

// smallMLPKey names a small MNIST MLP: its hidden units, its seed (offset
// applied) and the first training images it was trained on for one epoch.
type smallMLPKey struct {
	hidden int
	seed   uint64
	images int
}

// smallMLPs trains each small MNIST MLP once per test binary: training is
// deterministic (same key, same bits), so the scenarios that share one
// (the Background of the small-model rule) get clones of one trained
// model instead of training it again each. Only the trained weights are
// shared; every scenario works on its own clone.
var smallMLPs sync.Map // smallMLPKey -> func() (*nn.Graph, error)

func smallMNISTMLP(k smallMLPKey) (*nn.Graph, error) {
	f, _ := smallMLPs.LoadOrStore(k, sync.OnceValues(func() (*nn.Graph, error) { return trainSmallMNISTMLP(k) }))
	g, err := f.(func() (*nn.Graph, error))()
	if err != nil {
		return nil, err
	}
	return g.Clone(), nil
}

func trainSmallMNISTMLP(k smallMLPKey) (*nn.Graph, error) {
	train, _, err := datasets.LoadMNIST("")
	if err != nil {
		return nil, err
	}
	sub, err := mnistFirst(train, k.images, false)
	if err != nil {
		return nil, err
	}
	g, err := models.MLP(k.seed, k.hidden)
	if err != nil {
		return nil, err
	}
	cfg := models.DefaultTrainConfig("mlp")
	cfg.Epochs, cfg.Seed = 1, k.seed
	if _, err := nn.Fit(g, sub.X, sub.Labels, cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// quantizedOnMNIST quantizes the scenario's trained model (modelState)
// with the scenario's configuration, default unless a step changed it,
// and leaves the model and its int8 twin to the quantization and report
// steps (ptqState).
func quantizedOnMNIST(ctx context.Context, count string, batch int) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	g := domainState[modelState](ctx).model
	if g == nil {
		return errors.New("the scenario has no trained model: a Given step must train or load one")
	}
	train, _, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	calib, err := mnistFirst(train, n, false)
	if err != nil {
		return err
	}
	s := ptqOf(ctx)
	s.model, s.before = g, snapshotParams(g)
	s.calib, s.calibX, s.calibBatch = ptq.BatchesOf(calib.X, batch), calib.X, batch
	m, rep, err := ptq.Quantize(ctx, g, s.calib, &s.cfg)
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, rep
	return nil
}

// quantizedDynamicallyOnMNIST quantizes the scenario's trained model
// (modelState) dynamically with the scenario's weight configuration and
// overrides, and leaves the model and its quantized twin to the
// classification and report steps (ptqState). Dynamic quantization reads
// no data.
func quantizedDynamicallyOnMNIST(ctx context.Context) error {
	g := domainState[modelState](ctx).model
	if g == nil {
		return errors.New("the scenario has no trained model: a Given step must train or load one")
	}
	s := ptqOf(ctx)
	s.model, s.before = g, snapshotParams(g)
	m, rep, err := ptq.QuantizeDynamic(ctx, g, &ptq.DynamicConfig{Weights: s.cfg.Weights, Overrides: s.cfg.Overrides})
	stateFrom(ctx).setErr(err)
	s.quantized, s.report = m, rep
	return nil
}

func bothModelsClassify(ctx context.Context, first, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	s, err := quantizedModel(ctx)
	if err != nil {
		return err
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	eval, err := mnistFirst(test, n, first == "")
	if err != nil {
		return err
	}
	es := domainState[e2eState](ctx)
	if es.fp32, err = ptq.Accuracy(ptq.FP32Model(s.model), ptq.Data{X: eval.X, Labels: eval.Labels}, evalBatchSize); err != nil {
		return fmt.Errorf("FP32 model: %w", err)
	}
	if es.int8, err = ptq.Accuracy(s.quantized, ptq.Data{X: eval.X, Labels: eval.Labels}, evalBatchSize); err != nil {
		return fmt.Errorf("int8 model: %w", err)
	}
	es.images = n
	return nil
}

// classified returns the accuracies a When step measured.
func classified(ctx context.Context) (*e2eState, error) {
	es := domainState[e2eState](ctx)
	if es.images == 0 {
		return nil, errors.New("no test images were classified: a When step must run the FP32 and int8 models on them")
	}
	return es, nil
}

func fp32AccuracyAtLeast(ctx context.Context, pct string) error {
	want, err := parsePercent(pct)
	if err != nil {
		return err
	}
	es, err := classified(ctx)
	if err != nil {
		return err
	}
	c := criterion{measured: fmt.Sprintf("FP32 accuracy on %d MNIST test images", es.images), unit: "%", direction: atLeast, threshold: 100 * want, value: 100 * es.fp32}
	return check(ctx, c, func() error {
		return fmt.Errorf("the FP32 model classifies %.2f%% of the %d test images correctly, want at least %s%%", 100*es.fp32, es.images, pct)
	})
}

func int8DropLessThan(ctx context.Context, points float64) error {
	es, err := classified(ctx)
	if err != nil {
		return err
	}
	d := 100 * (es.fp32 - es.int8)
	c := criterion{measured: fmt.Sprintf("int8 accuracy drop on %d MNIST test images", es.images), unit: "points", direction: lessThan, threshold: points, value: d}
	return check(ctx, c, func() error {
		return fmt.Errorf("on %d test images the int8 model scores %.2f%%, the FP32 model %.2f%%: %.2f points below, want less than %g",
			es.images, 100*es.int8, 100*es.fp32, d, points)
	})
}
