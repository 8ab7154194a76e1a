package bench

import (
	"context"
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Case is one timed workload. Setup prepares it once and returns the
// function one iteration calls.
type Case struct {
	Name  string
	Kind  string // "kernel" or "model"
	Setup func() (func() error, error)
}

// sinks keep results alive so the compiler cannot drop the work.
var (
	sinkTensor *tensor.Tensor
	sinkInt32  []int32
	sinkFloat  float64
)

// ReferenceName is the name of the reference workload in results.
const ReferenceName = "reference"

// Reference is the workload every case is compared with: a pure-Go
// floating-point loop over 2 MiB that uses no code of this module, about
// 1 ms on a current CPU.
func Reference() Case {
	return Case{Name: ReferenceName, Kind: "reference", Setup: referenceWork}
}

// referenceWork returns the reference's iteration.
func referenceWork() (func() error, error) {
	// 2 MiB: larger than a core's L2 cache, as the models' weights are, so
	// that memory traffic from other programs slows it as it slows them.
	buf := make([]float64, 1<<18)
	for i := range buf {
		buf[i] = float64(i%97) / 97
	}
	return func() error {
		s := 0.0
		for r := range 2 {
			for i, v := range buf {
				s = s*0.999 + v*float64(r+1)
				buf[i] = v + 1e-9*s
			}
		}
		sinkFloat = s
		return nil
	}, nil
}

// Cases returns the kernel and model workloads of the baseline.
func Cases() []Case {
	return []Case{
		gemmCase("gemm_int8_packed_mnist_fc1", 64, 256, 784),
		gemmCase("gemm_int8_packed_mnist_conv2", 64*196, 32, 144),
		gemmCase("gemm_int8_packed_square256", 256, 256, 256),
		modelCase("mlp_fp32_forward_b64", "mlp", "fp32"),
		modelCase("mlp_int8_static_forward_b64", "mlp", "static"),
		modelCase("mlp_int8_dynamic_forward_b64", "mlp", "dynamic"),
		modelCase("cnn_fp32_forward_b64", "cnn", "fp32"),
		modelCase("cnn_int8_static_forward_b64", "cnn", "static"),
	}
}

// gemmCase multiplies an m×k int8 matrix by a packed k×n int8 matrix.
func gemmCase(name string, m, n, k int) Case {
	return Case{Name: name, Kind: "kernel", Setup: func() (func() error, error) {
		a := make([]int8, m*k)
		b := make([]int8, n*k)
		for i := range a {
			a[i] = int8(i*31%255 - 127)
		}
		for i := range b {
			b[i] = int8(i*17%255 - 127)
		}
		pb := quant.PackBT(n, k, b, []int32{0})
		c := make([]int32, m*n)
		az := []int32{3}
		return func() error {
			quant.GemmIntPacked(m, a, az, pb, c)
			sinkInt32 = c
			return nil
		}, nil
	}}
}

// modelCase runs one forward pass of a batch of 64 inputs through a model
// of pkg/models (seed 1) in FP32, statically quantized (calibrated on 128
// other inputs) or dynamically quantized.
func modelCase(name, model, mode string) Case {
	return Case{Name: name, Kind: "model", Setup: func() (func() error, error) {
		g, err := models.ByName(model, 1)
		if err != nil {
			return nil, err
		}
		x := datasets.Gaussian(64, g.InputShape(), 0, 1, 2).X
		forward := func() (*tensor.Tensor, error) { return g.Forward(x, nn.Eval) }
		switch mode {
		case "static":
			calib := ptq.BatchesOf(datasets.Gaussian(128, g.InputShape(), 0, 1, 3).X, 32)
			m, _, err := ptq.Quantize(context.Background(), g, calib, nil)
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", name, err)
			}
			forward = func() (*tensor.Tensor, error) { return m.Forward(x) }
		case "dynamic":
			m, _, err := ptq.QuantizeDynamic(context.Background(), g, nil)
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", name, err)
			}
			forward = func() (*tensor.Tensor, error) { return m.Forward(x) }
		}
		return func() error {
			y, err := forward()
			if err != nil {
				return err
			}
			if v := y.Data()[0]; math.IsNaN(float64(v)) {
				return fmt.Errorf("bench: %s: NaN output", name)
			}
			sinkTensor = y
			return nil
		}, nil
	}}
}
