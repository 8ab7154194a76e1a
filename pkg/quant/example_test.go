package quant_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The range [1, 8] (PyTorch's MinMaxObserver test) under four specs.
func ExampleChooseQParams() {
	for _, spec := range []quant.Spec{
		{DType: quant.Int8},
		{DType: quant.UInt8},
		{DType: quant.Int8, Scheme: quant.Symmetric},
		{DType: quant.Int8, Scheme: quant.Symmetric, Restricted: true},
	} {
		scale, zp, err := quant.ChooseQParams(1, 8, spec)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-45v scale=%.7f zero point=%d\n", spec, scale, zp)
	}
	// Output:
	// int8 affine per-tensor [-128,127]             scale=0.0313726 zero point=-128
	// uint8 affine per-tensor [0,255]               scale=0.0313726 zero point=0
	// int8 symmetric per-tensor [-128,127]          scale=0.0627451 zero point=0
	// int8 symmetric per-tensor restricted [-127,127] scale=0.0629921 zero point=0
}

func ExampleQuantize() {
	x := tensor.MustFromData([]float32{-1, 0, 0.26, 2.5}, 4)
	q, err := quant.Quantize(x, quant.PerTensorParams(quant.Int8, 0.5, 0))
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Int8s(), q.Bytes(), "bytes")
	fmt.Println(q.Dequantize().Data())
	// Output:
	// [-2 0 1 5] 4 bytes
	// [-1 0 0.5 2.5]
}

// Per-channel weights: one scale per output channel (axis 0). 0.01 is
// 63.5 steps of channel 0 in real arithmetic but 63.49... in float32.
func ExampleChooseQParamsPerChannel() {
	w := tensor.MustFromData([]float32{
		0.01, -0.02, 0.005, // channel 0: small weights
		3, -1, 2, // channel 1: large weights
	}, 2, 3)
	p, err := quant.ChooseQParamsPerChannel([]float32{-0.02, -1}, []float32{0.01, 3}, quant.WeightDefault)
	if err != nil {
		panic(err)
	}
	q, err := quant.Quantize(w, p)
	if err != nil {
		panic(err)
	}
	fmt.Println(p)
	fmt.Println(q.Int8s())
	// Output:
	// int8 axis=0 scale=[0.00015748032 0.023622047] zp=[0 0] [-127,127]
	// [63 -127 32 127 -42 85]
}

func ExampleNewObserver() {
	obs, err := quant.NewObserver(quant.MethodMinMax, quant.Spec{DType: quant.UInt8})
	if err != nil {
		panic(err)
	}
	for _, batch := range [][]float32{{1, 2, 2, 3, 4, 5, 6}, {4, 5, 5, 6, 7, 8}} {
		if err := obs.Observe(tensor.MustFromData(batch, len(batch))); err != nil {
			panic(err)
		}
	}
	p, err := obs.QParams()
	if err != nil {
		panic(err)
	}
	st := obs.Stats()
	fmt.Printf("%d batches, range [%v, %v]: %v\n", st.Batches, st.Min, st.Max, p)

	// Output:
	// 2 batches, range [1, 8]: uint8 scale=0.03137255 zp=0 [0,255]
}

// Methods are a closed set with a text form: a configuration file or a
// flag names one, and an unknown name is refused with the known ones.
func ExampleParseMethod() {
	fmt.Println(quant.Methods())
	m, err := quant.ParseMethod("entropy")
	fmt.Println(m == quant.MethodEntropy, err)

	var cfg struct {
		Method quant.Method `json:"method"`
	}
	err = json.Unmarshal([]byte(`{"method": "kl"}`), &cfg)
	fmt.Println(errors.Is(err, quant.ErrUnknownMethod), err)
	b, _ := json.Marshal(struct {
		Method quant.Method `json:"method"`
	}{quant.MethodMovingAverage})
	fmt.Println(string(b))
	// Output:
	// [minmax moving_average percentile entropy mse]
	// true <nil>
	// true quant: calibration method "kl" (known: minmax, moving_average, percentile, entropy, mse): quant: unknown observer method
	// {"method":"moving_average"}
}

// An int8 Linear layer y = x·Wᵀ + b computed in integers.
func ExampleGemmIntNT() {
	const m, n, k = 1, 2, 3
	x := []int8{10, -20, 30}              // activations, scale 0.1, zero point -2
	w := []int8{127, 0, -127, 64, 64, 64} // weights [out, in], scales 0.01 and 0.02
	acc := make([]int32, m*n)
	quant.GemmIntNT(m, n, k, x, []int32{-2}, w, []int32{0}, acc)
	bias, err := quant.QuantizeBias([]float32{0.5, -1}, 0.1, []float32{0.01, 0.02})
	if err != nil {
		panic(err)
	}
	y := make([]int8, m*n)
	mult, err := quant.RequantScale(0.1, []float32{0.01, 0.02}, 0.05) // output scale 0.05
	if err != nil {
		panic(err)
	}
	quant.Requantize(m, n, acc, bias, mult, 0, -128, 127, y)
	fmt.Println(acc, bias, y)
	// Output:
	// [-2540 1664] [500 -500] [-41 47]
}

func ExampleSQNR() {
	ref := []float32{1, -2, 3, -4}
	approx := []float32{1.01, -1.99, 3.01, -3.99}
	fmt.Printf("%.1f dB, MSE %.4f, cosine %.5f\n",
		quant.SQNR(ref, approx), quant.MSE(ref, approx), quant.CosineSimilarity(ref, approx))
	// Output:
	// 48.8 dB, MSE 0.0001, cosine 0.99999
}

// The one requantization: a multiplier formed in float32 as ONNX Runtime
// forms it, then accumulators rounded half to even onto the output grid.
func ExampleRequantizeValue() {
	m := quant.RequantMultiplier(0.02, 0.005, 0.0002) // input, weight and output scales
	fmt.Println(m)
	for _, acc := range []int32{1, 3, 5, 1000, -1000} {
		fmt.Print(quant.RequantizeValue(acc, m, 0, -128, 127), " ") // 0.5 and 2.5 round to even
	}
	fmt.Println()
	// Output:
	// 0.5
	// 0 2 2 127 -128
}
