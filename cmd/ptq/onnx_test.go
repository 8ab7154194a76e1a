package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/internal/ortrun"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// fixtures holds ONNX files written by PyTorch's exporter (../shared/onnx).
const fixtures = "../../../shared/onnx"

func TestIsONNXQuantize(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want bool
	}{
		{"nn model file", []string{"-model", "m.model", "-calib", "1000"}, false},
		{"nn model file, report folder", []string{"-model", "m.model", "-out", "reports/x"}, false},
		{"onnx model", []string{"-model", "in.onnx"}, true},
		{"onnx model with =", []string{"--model=IN.ONNX"}, true},
		{"npy calibration", []string{"-model", "m.model", "-calib", "x.npy"}, true},
		{"npy evaluation", []string{"-model", "m.model", "-eval=x.npy"}, true},
		{"onnx output", []string{"-model", "m.model", "-out", "q.onnx"}, true},
		{"format flag", []string{"-format", "qdq", "-h"}, true},
		{"verify flag", []string{"-model", "m.model", "-verify"}, true},
		{"a value that looks like a flag name", []string{"-model", "-format"}, false},
		{"help", []string{"-h"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, isONNXQuantize(c.args))
		})
	}
}

func TestQuantizeONNXRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(fixtures, "mnist_mlp.onnx")
	calib := filepath.Join(fixtures, "mnist_mlp.input.npy")
	cases := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string
	}{
		{"no calibration", []string{"quantize", "-model", model}, 2, "-calib is required"},
		{"no model", []string{"quantize", "-calib", calib}, 2, "-model is required"},
		{"bad format", []string{"quantize", "-model", model, "-calib", calib, "-format", "tflite"}, 2, `-format "tflite": want qdq or qoperator`},
		{"bad weights", []string{"quantize", "-model", model, "-calib", calib, "-weights", "per-row"}, 2, `-weights "per-row"`},
		{"bad activations", []string{"quantize", "-model", model, "-calib", calib, "-activations", "int4"}, 2, `-activations "int4"`},
		{"labels without eval", []string{"quantize", "-model", model, "-calib", calib, "-labels", "l.npy"}, 2, "-labels needs -eval"},
		{"verify without out", []string{"quantize", "-model", model, "-calib", calib, "-eval", calib, "-verify"}, 2, "-verify needs -out"},
		{"out into a missing folder", []string{"quantize", "-model", model, "-calib", calib, "-out", filepath.Join(dir, "no", "q.onnx")}, 2, "does not exist"},
		{"unknown method", []string{"quantize", "-model", model, "-calib", calib, "-method", "kl"}, 2, "kl"},
		{"calib beyond MNIST", []string{"quantize", "-model", model, "-calib", "70000", "-format", "qdq"}, 2, "-calib is 70,000, but the MNIST training set holds 60,000 images"},
		{"missing calib file", []string{"quantize", "-model", model, "-calib", filepath.Join(dir, "none.npy")}, 1, "none.npy"},
		{"calib not npy", []string{"quantize", "-model", model, "-calib", model + "x.npy"}, 1, "x.npy"},
		{"unsupported model", []string{"quantize", "-model", filepath.Join(fixtures, "unsupported_sigmoid.onnx"), "-calib", calib}, 1, `node "/Sigmoid" (Sigmoid`},
		{"calibration of the wrong shape", []string{"quantize", "-model", filepath.Join(fixtures, "mnist_lenet_bn.onnx"), "-calib", filepath.Join(fixtures, "mnist_lenet_bn.output.npy")}, 1, "[8 10]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runPTQ(t, c.args...)
			require.Equal(t, c.wantStatus, status, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stderr, c.wantErr)
		})
	}
	t.Run("help lists the ONNX flags", func(t *testing.T) {
		status, _, stderr := runPTQ(t, "quantize", "-format", "qdq", "-h")
		assert.Equal(t, 0, status)
		for _, want := range []string{"-calib", "-labels", "-verify", "qoperator"} {
			assert.Contains(t, stderr, want)
		}
	})
	t.Run("the MNIST form's help points to it", func(t *testing.T) {
		_, _, stderr := runPTQ(t, "quantize", "-h")
		assert.Contains(t, stderr, "or: ptq quantize -model in.onnx -calib inputs.npy")
	})
}

// writeMNISTNpy writes the first n MNIST test images and labels as .npy
// files, as a user of another framework would hand them over.
func writeMNISTNpy(t *testing.T, dir string, n int) (images, labels string) {
	t.Helper()
	_, test, err := datasets.LoadMNIST("")
	require.NoError(t, err)
	sub, err := test.Subset(0, n)
	require.NoError(t, err)
	images, labels = filepath.Join(dir, "images.npy"), filepath.Join(dir, "labels.npy")
	require.NoError(t, npyfile.WriteTensor(images, sub.X))
	require.NoError(t, npyfile.WriteLabels(labels, sub.Labels))
	return images, labels
}

// TestQuantizeONNXEndToEnd quantizes PyTorch-written fixtures from .npy
// calibration data, writes QDQ and QOperator files and has ONNX Runtime
// run them (-verify) on 200 MNIST test images given as .npy files.
func TestQuantizeONNXEndToEnd(t *testing.T) {
	_, err := ortrun.Default()
	require.NoError(t, err, "ONNX Runtime judges this test: run `make tools`")
	dir := t.TempDir()
	images, labels := writeMNISTNpy(t, dir, 200)
	cases := []struct {
		name, fixture, format, weights, activations string
	}{
		{"lenet qdq", "mnist_lenet_bn", "qdq", "per-channel", "int8"},
		{"mlp qoperator per-tensor uint8", "mnist_mlp", "qoperator", "per-tensor", "uint8"},
	}
	// Thresholds of issue 9 (see features/onnx_interop.feature): top-1
	// agreement with ptqspec >= 99.9%, >= 99% of outputs within one output
	// step; on 200 images 99.9% means all of them.
	const minAgreement, minWithinStep = 0.999, 0.99
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.fixture+"."+c.format+".onnx")
			status, stdout, stderr := runPTQ(t, "quantize", "-model", filepath.Join(fixtures, c.fixture+".onnx"),
				"-calib", "200", "-eval", images, "-labels", labels, "-out", out, "-format", c.format,
				"-weights", c.weights, "-activations", c.activations, "-verify", "-json")
			require.Equal(t, 0, status, "stdout: %s\nstderr: %s", stdout, stderr)
			var s onnxSummary
			lastJSON(t, stdout, &s)
			require.NotNil(t, s.ORT, "-verify result")
			require.NotNil(t, s.Int8Accuracy)
			require.NotNil(t, s.ORT.Accuracy)
			assert.Equal(t, 200, s.CalibrationSamples)
			assert.Equal(t, 200, s.EvalSamples)
			assert.Equal(t, c.format, s.Format)
			assert.GreaterOrEqual(t, s.ORT.Top1Agreement, minAgreement)
			assert.GreaterOrEqual(t, s.ORT.WithinOneStep, minWithinStep)
			assert.InDelta(t, *s.Int8Accuracy, *s.ORT.Accuracy, 0.001)
			assert.InDelta(t, *s.FP32Accuracy, *s.Int8Accuracy, 0.01, "int8 within 1 point of FP32")
			assert.Contains(t, stdout, "ONNX Runtime 1.30.0 on "+out)
			fi, err := os.Stat(out)
			require.NoError(t, err)
			assert.Equal(t, fi.Size(), s.OutBytes)
		})
	}
}

func TestExportCommand(t *testing.T) {
	_, err := ortrun.Default()
	require.NoError(t, err, "ONNX Runtime judges this test: run `make tools`")
	dir := t.TempDir()
	x, err := npyfile.ReadTensor(filepath.Join(fixtures, "mnist_lenet_bn.input.npy"))
	require.NoError(t, err)

	// An FP32 model file of ptq train.
	g, err := models.SmallCNN(3)
	require.NoError(t, err)
	nnFile := filepath.Join(dir, "cnn.model")
	require.NoError(t, nn.SaveFile(nnFile, g))
	// An INT8 model file of ptq quantize -save.
	m, _, err := ptq.Quantize(context.Background(), g, ptq.BatchesOf(x, 4), nil)
	require.NoError(t, err)
	int8File := filepath.Join(dir, "cnn.ptq")
	require.NoError(t, m.SaveFile(int8File))

	cases := []struct {
		name   string
		model  string
		format string
		kind   string
		want   ptq.Forwarder // what ONNX Runtime must compute
		tol    float64       // FP32: relative to the largest output; int8: in output steps
	}{
		// FP32: float32 sums in another order; int8: the same integer
		// arithmetic but for rounding ties in requantization, which move
		// a value by one output step.
		{"fp32 model file", nnFile, "", "fp32", ptq.FP32Model(g), 1e-4},
		{"onnx re-export", filepath.Join(fixtures, "mnist_lenet_bn.onnx"), "fp32", "fp32", nil, 1e-4},
		{"int8 model file as qdq", int8File, "", "static", m, 1.001},
		{"int8 model file as qoperator", int8File, "qoperator", "static", m, 1.001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".onnx")
			args := []string{"export", "-model", c.model, "-out", out, "-json"}
			if c.format != "" {
				args = append(args, "-format", c.format)
			}
			status, stdout, stderr := runPTQ(t, args...)
			require.Equal(t, 0, status, "stdout: %s\nstderr: %s", stdout, stderr)
			var e exported
			lastJSON(t, stdout, &e)
			assert.Equal(t, c.kind, e.Kind)
			got, err := ortrun.Run(context.Background(), out, map[string]*tensor.Tensor{"": x})
			require.NoError(t, err)
			require.Len(t, got, 1)
			var want *tensor.Tensor
			if c.want != nil {
				want, err = c.want.Forward(x)
				require.NoError(t, err)
			} else {
				want, err = npyfile.ReadTensor(filepath.Join(fixtures, "mnist_lenet_bn.output.npy"))
				require.NoError(t, err)
			}
			for _, y := range got {
				require.Equal(t, want.Shape(), y.Shape())
				var diff, scale float64
				for i, v := range want.Data() {
					diff = max(diff, float64(abs32(y.Data()[i]-v)))
					scale = max(scale, float64(abs32(v)))
				}
				if c.kind == "fp32" {
					assert.LessOrEqual(t, diff/scale, c.tol)
					continue
				}
				step, err := outputStepOf(m)
				require.NoError(t, err)
				assert.LessOrEqual(t, diff/step, c.tol, "largest difference in output steps")
			}
		})
	}

	refusals := []struct {
		name, model, format, wantErr string
		status                       int
	}{
		{"quantized format of an FP32 model", nnFile, "qdq", "is an FP32 model; quantize it first", 2},
		{"fp32 format of an int8 model", int8File, "fp32", "is an INT8 model", 2},
		{"unknown format", nnFile, "int4", `-format "int4"`, 2},
		{"not a model", filepath.Join(fixtures, "mnist_mlp.input.npy"), "", "not an .onnx file, an FP32 model file", 1},
		{"missing file", filepath.Join(dir, "none.model"), "", "does not exist", 1},
		{"unsupported onnx", filepath.Join(fixtures, "unsupported_sigmoid.onnx"), "", `"/Sigmoid"`, 1},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"export", "-model", c.model, "-out", filepath.Join(dir, "r.onnx")}
			if c.format != "" {
				args = append(args, "-format", c.format)
			}
			status, stdout, stderr := runPTQ(t, args...)
			require.Equal(t, c.status, status, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stderr, c.wantErr)
		})
	}
	t.Run("export then import gives the same FP32 model", func(t *testing.T) {
		out := filepath.Join(dir, "roundtrip.onnx")
		status, _, stderr := runPTQ(t, "export", "-model", nnFile, "-out", out)
		require.Equal(t, 0, status, stderr)
		back, err := onnxio.ImportFile(out)
		require.NoError(t, err)
		a, err := ptq.FP32Model(g).Forward(x)
		require.NoError(t, err)
		b, err := ptq.FP32Model(back).Forward(x)
		require.NoError(t, err)
		assert.Equal(t, a.Data(), b.Data(), "bit-identical")
	})
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
