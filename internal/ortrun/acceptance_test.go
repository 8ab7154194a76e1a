package ortrun_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The acceptance lines of issue 9 that ONNX Runtime judges. The thresholds
// and the reasons for them are those of features/onnx_interop.feature.
const (
	minTop1Agreement = 0.999 // ONNX Runtime vs ptqspec int8, top-1
	minWithinOneStep = 0.99  // share of output values within one output step
	maxAccuracyGap   = 0.001 // ONNX Runtime vs ptqspec int8 accuracy (0.1 point)
	maxInt8Drop      = 0.01  // int8 vs FP32 accuracy of a quantized fixture (1 point)
	fp32Tolerance    = 1e-4  // FP32 export vs ptqspec, relative to the largest output
	ortBatch         = 1000
	fixtureDir       = "../../../shared/onnx" // ONNX files PyTorch's exporter wrote
)

// testImages is how many MNIST test images the acceptance tests use: all
// 10,000 as the issue says, or 200 under the race detector (make test),
// whose slowdown of ptqspec's kernels would otherwise take minutes; the
// @slow features check the 10,000 there.
func testImages() int {
	if raceBuild {
		return 200
	}
	return 10000
}

// calibImages is how many MNIST training images calibrate: 1,000 as the
// issue says, 100 under the race detector.
func calibImages() int {
	if raceBuild {
		return 100
	}
	return 1000
}

// trainImages is how many MNIST training images the briefly trained models
// see (one epoch).
func trainImages() int {
	if raceBuild {
		return 100
	}
	return 2000
}

func mnist(t *testing.T) (calib, test *datasets.Dataset) {
	t.Helper()
	train, testSet, err := datasets.LoadMNIST("")
	require.NoError(t, err)
	calib, err = train.Subset(0, calibImages())
	require.NoError(t, err)
	test, err = testSet.Subset(0, testImages())
	require.NoError(t, err)
	return calib, test
}

func forward(t *testing.T, f ptq.Forwarder, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	var parts []*tensor.Tensor
	for lo := 0; lo < x.Dim(0); lo += 500 {
		xb, err := x.Slice(lo, min(x.Dim(0), lo+500))
		require.NoError(t, err)
		y, err := f.Forward(xb)
		require.NoError(t, err)
		parts = append(parts, y)
	}
	y, err := tensor.Concat(parts...)
	require.NoError(t, err)
	return y
}

func top1(t *tensor.Tensor) []int {
	n := t.Dim(0)
	c := t.Len() / n
	out := make([]int, n)
	for i := range n {
		row := t.Data()[i*c : (i+1)*c]
		for j := range row {
			if row[j] > row[out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

func accuracy(out *tensor.Tensor, labels []int) float64 {
	ok := 0
	for i, p := range top1(out) {
		if p == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(labels))
}

func runORT(t *testing.T, path string, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	r, err := ortrun.Default()
	require.NoError(t, err, "ONNX Runtime judges these tests: run `make tools`")
	outs, err := r.RunBatches(context.Background(), path, map[string]*tensor.Tensor{"": x}, ortBatch)
	require.NoError(t, err)
	require.Len(t, outs, 1)
	for _, y := range outs {
		return y
	}
	return nil
}

// outputStep is the scale of the int8 model's output.
func outputStep(t *testing.T, m *ptq.Model) float64 {
	t.Helper()
	views, err := m.Inspect()
	require.NoError(t, err)
	for _, v := range views {
		if v.Name == m.Output() {
			require.NotNil(t, v.Out, "output node %q is not int8", v.Name)
			return float64(v.Out.Scale[0])
		}
	}
	t.Fatalf("no output node %q", m.Output())
	return 0
}

// judgeInt8 exports m in each format, runs it in ONNX Runtime on test and
// checks the agreement with ptqspec's int8 outputs.
func judgeInt8(t *testing.T, m *ptq.Model, test *datasets.Dataset, formats ...onnxio.Format) {
	ref := forward(t, m, test.X)
	refAcc := accuracy(ref, test.Labels)
	step := outputStep(t, m)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "int8.onnx")
			require.NoError(t, onnxio.ExportQuantizedFile(path, m, f))
			got := runORT(t, path, test.X)
			require.Equal(t, ref.Shape(), got.Shape())
			a, b := top1(got), top1(ref)
			same := 0
			for i := range a {
				if a[i] == b[i] {
					same++
				}
			}
			within := 0
			var worst float64
			for i, r := range ref.Data() {
				d := math.Abs(float64(got.Data()[i]) - float64(r))
				worst = max(worst, d)
				if d <= step*(1+1e-3) {
					within++
				}
			}
			agree, share := float64(same)/float64(len(a)), float64(within)/float64(ref.Len())
			ortAcc := accuracy(got, test.Labels)
			t.Logf("%s on %d images: top-1 agreement %.4f, within one step %.4f (largest %.2f steps), accuracy ORT %.4f ptqspec %.4f",
				f, len(a), agree, share, worst/step, ortAcc, refAcc)
			assert.GreaterOrEqual(t, agree, minTop1Agreement, "top-1 agreement")
			assert.GreaterOrEqual(t, share, minWithinOneStep, "outputs within one output step")
			assert.InDelta(t, refAcc, ortAcc, maxAccuracyGap+1e-12, "accuracy gap")
		})
	}
}

// Issue 9: QDQ (and QOperator) export of the statically quantized MNIST MLP
// and SmallCNN, per-channel int8 and per-tensor weights with uint8
// activations, agrees with ptqspec's int8 model in ONNX Runtime. The models
// are trained briefly here (one epoch on 2,000 images); the @slow feature
// uses the 3-epoch models of ptq mnist.
func TestInt8ExportAgreesWithPtqspec(t *testing.T) {
	calib, test := mnist(t)
	perTensor := quant.WeightDefault
	perTensor.Granularity = quant.PerTensor
	uint8Act := quant.ActivationDefault
	uint8Act.DType = quant.UInt8
	for _, name := range []string{"mlp", "cnn"} {
		g, err := models.ByName(name, 1)
		require.NoError(t, err)
		train, _, err := datasets.LoadMNIST("")
		require.NoError(t, err)
		sub, err := train.Subset(0, trainImages())
		require.NoError(t, err)
		cfg := models.DefaultTrainConfig(name)
		cfg.Epochs, cfg.Seed = 1, 1
		_, err = nn.Fit(g, sub.X, sub.Labels, cfg)
		require.NoError(t, err)
		for _, c := range []struct {
			spec    string
			cfg     *ptq.Config
			formats []onnxio.Format
		}{
			{"per-channel int8", nil, []onnxio.Format{onnxio.QDQ, onnxio.QOperator}},
			{"per-tensor weights, uint8 activations", &ptq.Config{Weights: &perTensor, Activations: &uint8Act}, []onnxio.Format{onnxio.QDQ, onnxio.QOperator}},
		} {
			t.Run(fmt.Sprintf("%s/%s", name, c.spec), func(t *testing.T) {
				m, _, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 100), c.cfg)
				require.NoError(t, err)
				judgeInt8(t, m, test, c.formats...)
			})
		}
	}
}

// Issue 9: every fixture but the unsupported one, quantized statically on
// 1,000 MNIST training images, loses less than 1 point on the test images,
// and its QDQ export agrees with ptqspec in ONNX Runtime.
func TestFixturesQuantizedLoseLessThanOnePoint(t *testing.T) {
	calib, test := mnist(t)
	for _, name := range []string{"mnist_mlp", "mnist_lenet_bn", "mnist_tiny_resnet"} {
		t.Run(name, func(t *testing.T) {
			test := test
			if name == "mnist_tiny_resnet" && raceBuild {
				// ptqspec runs this network at ~1.5 ms per image
				// without the race detector; under it, 100 images.
				var err error
				test, err = test.Subset(0, 100)
				require.NoError(t, err)
			}
			g, err := onnxio.ImportFile(filepath.Join(fixtureDir, name+".onnx"))
			require.NoError(t, err)
			m, _, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(calib.X, 100), nil)
			require.NoError(t, err)
			fp32 := accuracy(forward(t, ptq.FP32Model(g), test.X), test.Labels)
			int8 := accuracy(forward(t, m, test.X), test.Labels)
			t.Logf("%s on %d test images: FP32 %.4f, int8 %.4f", name, test.Len(), fp32, int8)
			assert.Less(t, fp32-int8, maxInt8Drop, "int8 accuracy drop")
			judgeInt8(t, m, test, onnxio.QDQ)
		})
	}
}

// Issue 9: FP32 export of MLP, SmallCNN and ResidualCNN, run by ONNX Runtime
// on MNIST test images, is within 1e-4 of the largest output magnitude of
// ptqspec's FP32.
func TestFP32ExportMatchesPtqspec(t *testing.T) {
	_, test := mnist(t)
	x, err := test.X.Slice(0, min(1000, test.Len()))
	require.NoError(t, err)
	for _, name := range []string{"mlp", "cnn", "residual"} {
		t.Run(name, func(t *testing.T) {
			g, err := models.ByName(name, 7)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), name+".onnx")
			require.NoError(t, onnxio.ExportFile(path, g))
			want := forward(t, ptq.FP32Model(g), x)
			got := runORT(t, path, x)
			require.Equal(t, want.Shape(), got.Shape())
			var diff, scale float64
			for i, v := range want.Data() {
				diff = max(diff, math.Abs(float64(got.Data()[i])-float64(v)))
				scale = max(scale, math.Abs(float64(v)))
			}
			t.Logf("%s: largest difference %.3g, %.3g of the largest output", name, diff, diff/scale)
			assert.LessOrEqual(t, diff/scale, fp32Tolerance)
		})
	}
}
