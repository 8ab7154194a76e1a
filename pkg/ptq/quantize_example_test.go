package ptq_test

import (
	"context"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// Measure the report's SQNR on a held-out set, samples calibration never
// saw, instead of on the calibration samples themselves.
func ExampleConfig_holdout() {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	calib := datasets.Gaussian(128, g.InputShape(), 0, 1, 2)
	held := datasets.Gaussian(64, g.InputShape(), 0, 1, 3)
	for _, cfg := range []*ptq.Config{nil, {Holdout: &ptq.Data{X: held.X}}} {
		_, rep, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 32), cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("SQNR measured on %d %s samples, above 30 dB: %v\n", rep.SQNRSamples, rep.SQNRData, rep.OutputSQNR > 30)
	}
	// Output:
	// SQNR measured on 128 calibration samples, above 30 dB: true
	// SQNR measured on 64 held-out samples, above 30 dB: true
}
