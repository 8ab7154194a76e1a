package steps

import (
	"context"
	"fmt"
	"math"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

func init() { addSteps("methods", registerMethodSteps) }

// calibrationOutlierSeed chooses which calibration values are outliers.
const calibrationOutlierSeed = calibrationSeed + 1

// methodPattern matches the name of one calibration method.
const methodPattern = `(minmax|moving_average|percentile|entropy|mse)`

// methodsState holds, per calibration method, the report of a whole-model
// quantization with that method: the calibration methods compared at
// model level.
type methodsState struct {
	reports map[quant.Method]*ptq.Report
}

func registerMethodSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a calibration set of (\d+) standard normal samples, (\d+(?:\.\d+)?)% of their values outliers (\d+) times larger, in batches of (\d+)$`, aCalibrationSetWithOutliers)
	sc.Step(`^the model is quantized statically with `+methodPattern+` calibration$`, quantizedWithMethod)
	sc.Step(`^the model is quantized statically with `+methodPattern+` and with `+methodPattern+` calibration$`, quantizedWithTwoMethods)
	sc.Step(`^the model is quantized statically with each calibration method$`, quantizedWithEachMethod)
	sc.Step(`^on the held-out set `+methodPattern+` calibration gives an output SQNR at least (-?\d+(?:\.\d+)?) dB above `+methodPattern+` calibration$`, methodBeatsMethod)
	sc.Step(`^on the held-out set percentile and entropy each give an output SQNR at least (-?\d+(?:\.\d+)?) dB above the better of minmax and mse$`, clippingBeatsTheRest)
}

// aCalibrationSetWithOutliers draws standard normal calibration samples of
// the model's input shape and multiplies pct% of their values, chosen at
// random, by factor.
func aCalibrationSetWithOutliers(ctx context.Context, n int, pct float64, factor, size int) error {
	s := ptqOf(ctx)
	if err := s.needModel(); err != nil {
		return err
	}
	d, err := datasets.WithOutliers(datasets.Gaussian(n, s.model.InputShape(), 0, 1, seeded(calibrationSeed)),
		pct/100, float64(factor), seeded(calibrationOutlierSeed))
	if err != nil {
		return err
	}
	s.setCalibration(d, size)
	return nil
}

// quantizeWith quantizes the scenario's model with method m, measuring the
// report on the held-out set, and keeps the report under m. The last
// method quantized becomes the scenario's quantized model.
func quantizeWith(ctx context.Context, m quant.Method) error {
	s := ptqOf(ctx)
	if err := s.needHeldOut(); err != nil {
		return err
	}
	cfg := s.quantizeConfig()
	cfg.Method = m
	q, rep, err := ptq.Quantize(ctx, s.model, s.calib, cfg)
	if err != nil {
		return fmt.Errorf("quantizing with %s calibration: %w", m, err)
	}
	if rep.SQNRData != ptq.SQNROnHoldout {
		return fmt.Errorf("quantizing with %s calibration: the report measured its SQNR on %q data, want the held-out set", m, rep.SQNRData)
	}
	ms := domainState[methodsState](ctx)
	if ms.reports == nil {
		ms.reports = map[quant.Method]*ptq.Report{}
	}
	ms.reports[m] = rep
	s.quantized, s.report = q, rep
	return nil
}

func quantizedWithMethod(ctx context.Context, name string) error {
	if err := ptqOf(ctx).recordFP32(); err != nil {
		return err
	}
	m, err := quant.ParseMethod(name)
	if err != nil {
		return err
	}
	return quantizeWith(ctx, m)
}

func quantizedWithTwoMethods(ctx context.Context, a, b string) error {
	if err := quantizedWithMethod(ctx, a); err != nil {
		return err
	}
	return quantizedWithMethod(ctx, b)
}

func quantizedWithEachMethod(ctx context.Context) error {
	for _, m := range quant.Methods() {
		if err := quantizedWithMethod(ctx, m.String()); err != nil {
			return err
		}
	}
	return nil
}

// heldOutSQNROf returns the held-out output SQNR of the quantization with
// the named method.
func heldOutSQNROf(ctx context.Context, name string) (float64, error) {
	m, err := quant.ParseMethod(name)
	if err != nil {
		return 0, err
	}
	rep, ok := domainState[methodsState](ctx).reports[m]
	if !ok {
		return 0, fmt.Errorf("the model was not quantized with %s calibration", name)
	}
	return rep.OutputSQNR, nil
}

func methodBeatsMethod(ctx context.Context, winner string, gain float64, loser string) error {
	w, err := heldOutSQNROf(ctx, winner)
	if err != nil {
		return err
	}
	l, err := heldOutSQNROf(ctx, loser)
	if err != nil {
		return err
	}
	c := criterion{measured: fmt.Sprintf("held-out output SQNR of %s calibration above %s calibration", winner, loser),
		unit: "dB", direction: atLeast, threshold: gain, value: w - l}
	return check(ctx, c, func() error {
		return fmt.Errorf("on the held-out set %s calibration gives %.2f dB and %s %.2f dB: %.2f dB above, want at least %g dB",
			winner, w, loser, l, w-l, gain)
	})
}

func clippingBeatsTheRest(ctx context.Context, gain float64) error {
	v := map[string]float64{}
	for _, name := range []string{"percentile", "entropy", "minmax", "mse"} {
		x, err := heldOutSQNROf(ctx, name)
		if err != nil {
			return err
		}
		v[name] = x
	}
	worst, best := math.Min(v["percentile"], v["entropy"]), math.Max(v["minmax"], v["mse"])
	c := criterion{measured: "held-out output SQNR of the worse of percentile and entropy above the better of minmax and mse",
		unit: "dB", direction: atLeast, threshold: gain, value: worst - best}
	return check(ctx, c, func() error {
		return fmt.Errorf("on the held-out set percentile gives %.2f dB, entropy %.2f, minmax %.2f and mse %.2f: the margin is %.2f dB, want at least %g dB",
			v["percentile"], v["entropy"], v["minmax"], v["mse"], worst-best, gain)
	})
}
