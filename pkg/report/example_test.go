package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// quantizeSmallCNN quantizes a small residual CNN on random images and
// returns the quantizer's report.
func quantizeSmallCNN() (*ptq.Report, error) {
	g, err := models.ResidualCNN(1, 3, 8, 8, 4)
	if err != nil {
		return nil, err
	}
	calib := datasets.RandomImages(32, 3, 8, 8, 2)
	_, rep, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 8), nil)
	return rep, err
}

func ExampleWriteAll() {
	rep, err := quantizeSmallCNN()
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	run := &report.Run{
		Title:        "ResidualCNN, static int8",
		Model:        "residual",
		Config:       "per-channel symmetric int8 weights, per-tensor affine activations, minmax",
		FP32Accuracy: 0.981,
		Int8Accuracy: 0.978,
		Quant:        rep,
	}
	paths, err := report.WriteAll(dir, run)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range paths {
		fmt.Println(filepath.Base(p))
	}
	// Output:
	// report.html
	// report.md
	// report.json
	// accuracy.svg
	// layer_sqnr.svg
	// weight_scales.svg
	// calibration.svg
}

func ExampleReadJSON() {
	rep, err := quantizeSmallCNN()
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	run := &report.Run{Model: "residual", FP32Accuracy: 0.981, Int8Accuracy: 0.978, Quant: rep}
	if err := report.WriteJSON(&buf, run); err != nil {
		fmt.Println(err)
		return
	}
	back, err := report.ReadJSON(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s, %s quantization of %d nodes, budget %.2f\n", back.Title, back.Model, back.Quant.Mode, len(back.Quant.Layers), back.MaxDrop)
	fmt.Println("quantized:", back.Quant.QuantizedLayers())

	_, err = report.ReadJSON(bytes.NewReader([]byte(`{"schema": "ptqspec.report/v1"}`)))
	fmt.Println(err)
	// Output:
	// PTQ report: residual, static quantization of 13 nodes, budget 0.01
	// quantized: [stem_conv block_conv1 block_conv2 block_add fc]
	// report: JSON has no "quantization" object: invalid run
}

func ExampleCharts() {
	rep, err := quantizeSmallCNN()
	if err != nil {
		fmt.Println(err)
		return
	}
	charts, err := report.Charts(&report.Run{FP32Accuracy: 0.981, Int8Accuracy: 0.978, Quant: rep})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range charts {
		fmt.Printf("%-18s %s\n", c.File(), c.Title[:min(len(c.Title), 40)])
	}
	_, err = report.Charts(&report.Run{FP32Accuracy: 0.981, Int8Accuracy: 0.978})
	fmt.Println(err)
	// Output:
	// accuracy.svg       Accuracy: FP32 98.10%, INT8 97.80%: drop
	// layer_sqnr.svg     Output SQNR per quantized layer, in mode
	// weight_scales.svg  Weight scales per layer: smallest to lar
	// calibration.svg    Calibration convergence: not converged a
	// report: Run.Quant is nil (the quantizer's report is required): invalid run
}
