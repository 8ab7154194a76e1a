package ptq_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Quantize a small classifier in one call and print its plan.
func ExampleQuantize() {
	rng := rand.New(rand.NewPCG(3, 5))
	g, err := nn.NewBuilder("input", 1, 6, 6).
		Add("conv", nn.NewConv2D(1, 2, 3, 1, 1, rng)).
		Add("bn", nn.NewBatchNorm2D(2)).
		Add("relu", nn.NewReLU()).
		Add("pool", nn.NewMaxPool2D(2, 2)).
		Add("flat", nn.NewFlatten()).
		Add("fc", nn.NewLinear(18, 3, rng)).
		Add("softmax", nn.NewSoftmax()).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	calib := datasets.Gaussian(64, g.InputShape(), 0, 1, 1)
	m, rep, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 16), nil) // nil: the default Config
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(m.Plan())
	fmt.Println("quantized:", strings.Join(rep.QuantizedLayers(), ", "))
	fmt.Println("calibration:", rep.Calibration.Method, "on", rep.Calibration.Batches, "batches")
	// Output:
	// NODE     KIND         ROLE              OUT   INPUTS            REASON
	// conv     Conv2D       int8              int8  input (quantize)  Conv2D has an int8 kernel (per-channel weights)
	// bn       BatchNorm2D  fused             int8  conv              folded into the weights and bias of conv
	// relu     ReLU         fused             int8  bn                fused into conv as a clamp of its int8 output
	// pool     MaxPool2D    int8-transparent  int8  relu              MaxPool2D max commutes with monotone quantization
	// flat     Flatten      int8-transparent  int8  pool              Flatten reshapes int8 data
	// fc       Linear       int8              int8  flat              Linear has an int8 kernel (per-channel weights)
	// softmax  Softmax      fp32              fp32  fc (dequantize)   Softmax stays FP32: its output is a probability, not an activation worth int8
	// quantized: conv, fc
	// calibration: minmax on 4 batches
}

// A configuration states only what differs from the defaults: here
// entropy calibration, and the classifier head kept in FP32.
func ExampleConfig() {
	g, _ := models.MLP(1, 64) // Flatten, Linear 784->64, ReLU, Linear 64->10
	cfg := &ptq.Config{
		Method:    quant.MethodEntropy,
		Overrides: []ptq.Override{{Name: "linear2", KeepFP32: true}},
	}
	calib := datasets.Gaussian(64, g.InputShape(), 0, 1, 1)
	_, rep, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 32), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range rep.Layers {
		fmt.Printf("%s: %s\n", l.Name, l.Role)
	}
	fmt.Println("calibration:", rep.Calibration.Method)
	// Output:
	// flatten1: int8-transparent
	// linear1: int8
	// relu1: fused
	// linear2: fp32
	// calibration: entropy
}

// Dynamic quantization of an MLP: int8 weights, FP32 at every boundary.
func ExampleQuantizeDynamic() {
	g, _ := models.MLP(1, 64) // Flatten, Linear 784->64, ReLU, Linear 64->10
	m, rep, err := ptq.QuantizeDynamic(context.Background(), g, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range rep.QuantizedLayers() {
		w, _ := rep.Layer(l)
		fmt.Printf("%s: %s %s %s weights, %d scales\n", l, w.Weights.DType, w.Weights.Scheme, w.Weights.Granularity, w.Weights.Channels)
	}
	x := datasets.Gaussian(8, g.InputShape(), 0, 1, 2).X
	tr, _ := m.Trace(x)
	for _, e := range tr {
		fmt.Printf("%s -> %s %v\n", e.Node, e.DType, e.Shape)
	}
	// Output:
	// linear1: int8 symmetric per-channel weights, 64 scales
	// linear2: int8 symmetric per-channel weights, 10 scales
	// flatten1 -> fp32 [8 784]
	// linear1 -> fp32 [8 64]
	// relu1 -> fp32 [8 64]
	// linear2 -> fp32 [8 10]
}

// Which layers cost the most when quantized, on unlabelled data: the
// metric is then the output SQNR in dB against the FP32 model (which
// scores the 200 dB cap), and a layer is sensitive when quantizing it
// alone costs at least Threshold dB.
func ExampleAnalyzeSensitivity() {
	g, _ := models.MLP(1, 32, 16) // Flatten, Linear 784->32, ReLU, Linear 32->16, ReLU, Linear 16->10
	n, _ := g.Node("linear2")
	n.Layer.(*nn.Linear).Weight.Value.Data()[0] = 100 // an outlier weight widens linear2's output range
	calib := datasets.Gaussian(128, g.InputShape(), 0, 1, 1)
	eval := ptq.Data{X: datasets.Gaussian(256, g.InputShape(), 0, 1, 2).X} // no labels
	rep, err := ptq.AnalyzeSensitivity(context.Background(), g, ptq.BatchesOf(calib.X, 64), eval,
		&ptq.SensitivityOptions{Threshold: 200 - 30}) // sensitive: alone, it brings the output SQNR below 30 dB
	if err != nil {
		fmt.Println(err)
		return
	}
	sensitive := slices.Sorted(slices.Values(rep.Sensitive))
	fmt.Println("metric:", rep.Metric)
	fmt.Println("sensitive:", sensitive)
	fmt.Println("least sensitive:", rep.Ranking()[len(rep.Layers)-1])
	// Output:
	// metric: output_sqnr_db
	// sensitive: [linear2 linear3]
	// least sensitive: linear1
}

// Quantize within a budget: layers go back to FP32, most sensitive first,
// until the metric on the selection data is within MaxDrop of FP32's.
// The report names the data the layers were chosen on; judge the model on
// other data. With no budget at all, every layer goes back and the model
// computes what FP32 does.
func ExampleQuantizeWithBudget() {
	g, _ := models.MLP(1, 32, 16)
	calib := datasets.Gaussian(128, g.InputShape(), 0, 1, 1)
	selection := ptq.Data{X: datasets.Gaussian(256, g.InputShape(), 0, 1, 2).X, Name: "selection samples"}
	m, rep, err := ptq.QuantizeWithBudget(context.Background(), g, ptq.BatchesOf(calib.X, 64), selection,
		&ptq.SensitivityOptions{MaxDrop: 0})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("chosen on %d %s\n", rep.Samples, rep.Selection)
	fmt.Println("reverted to FP32:", len(rep.Reverted), "layers; budget met:", rep.Met)
	fmt.Println("still int8:", m.Plan().QuantizedNodes())
	fmt.Printf("final output SQNR: %.0f dB\n", rep.Final)
	// Output:
	// chosen on 256 selection samples
	// reverted to FP32: 3 layers; budget met: true
	// still int8: []
	// final output SQNR: 200 dB
}

// A quantized model saved and loaded back computes the same bits.
func ExampleLoadModel() {
	g, _ := models.MLP(1, 32)
	calib := datasets.Gaussian(64, g.InputShape(), 0.5, 0.3, 1)
	m, _, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 32), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var file bytes.Buffer
	if err := m.Save(&file); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := ptq.LoadModel(&file)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := datasets.Gaussian(4, g.InputShape(), 0.5, 0.3, 2).X
	want, _ := m.Forward(x)
	got, _ := loaded.Forward(x)
	fmt.Printf("%s model, %d bytes of parameters\n", loaded.Mode(), loaded.Bytes())
	fmt.Println("same outputs:", slices.Equal(got.Data(), want.Data()))
	fmt.Println("same plan:", loaded.Plan().String() == m.Plan().String())
	// Output:
	// static model, 25912 bytes of parameters
	// same outputs: true
	// same plan: true
}

// Accuracy scores any Forwarder on labelled data: a quantized Model, or
// the FP32 graph through FP32Model.
func ExampleAccuracy() {
	g, _ := models.MLP(1, 32)
	d := datasets.Gaussian(64, g.InputShape(), 0, 1, 3)
	labels := make([]int, d.Len())
	fp32, _ := g.Forward(d.X, nn.Eval)
	for i := range labels { // label every sample with the FP32 model's answer
		labels[i] = argmax(fp32.Data()[i*10 : (i+1)*10])
	}
	m, _, err := ptq.QuantizeDynamic(context.Background(), g, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, err := ptq.Accuracy(m, ptq.Data{X: d.X, Labels: labels}, 16)
	fmt.Printf("int8 agrees with FP32 on %.0f%% of the samples (%v)\n", 100*acc, err)
	// Output:
	// int8 agrees with FP32 on 100% of the samples (<nil>)
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
