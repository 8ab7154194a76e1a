package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchTinyJSON runs ptq bench on a tiny MLP (trained on 300 images,
// not cached) at two batch sizes, one thread, 20 test images and a 16³
// GEMM, without ONNX Runtime, and checks the table and the -json object
// on the last line: one row per batch size and precision, every rate
// positive, every accuracy a fraction, static and dynamic INT8 within 15
// points of FP32 on these 20 images; one row per layer alone and batch
// size.
func TestBenchTinyJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "-models", "mlp", "-batch", "3,8", "-threads", "1", "-images", "20", "-repeat", "1",
		"-limit", "300", "-epochs", "1", "-calib", "50", "-gemm", "16", "-ort=false", "-json"}
	if status := run(args, &stdout, &stderr); status != 0 {
		t.Fatalf("ptq %s: status %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), status, &stdout, &stderr)
	}
	out := strings.TrimSpace(stdout.String())
	lines := strings.Split(out, "\n")
	var res benchResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not the JSON object: %v\n%s", err, out)
	}
	for _, want := range []string{"images/s", "vs best peer", "int8 GMAC/s", "gonum Sgemm GFLOP/s", "16³", "-ort=false", "FP32 layers alone (20 random samples", "Conv2D 16->32 3x3 14x14"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if res.Images != 20 || len(res.Inference) != 6 || len(res.Layers) != 8 || len(res.GEMM) != 1 {
		t.Fatalf("images %d, %d inference rows, %d layer rows, %d GEMM rows; want 20, 6 (2 batch sizes × 3 precisions), 8 (4 layers × 2 batch sizes), 1",
			res.Images, len(res.Inference), len(res.Layers), len(res.GEMM))
	}
	for i, l := range res.Layers {
		if l.Batch != []int{3, 8}[i%2] || l.Threads != 1 || !(l.Ptqspec > 0) || l.ORT != 0 {
			t.Errorf("layer row %d = %+v: want batch %d, 1 thread, a positive ptqspec rate and no ONNX Runtime rate", i, l, []int{3, 8}[i%2])
		}
	}
	fp32 := map[int]float64{}
	for i, r := range res.Inference {
		wantBatch := []int{3, 8}[i/3]
		wantPrec := []string{precisionFP32, precisionInt8, precisionInt8Dyn}[i%3]
		if r.Model != "mlp" || r.Batch != wantBatch || r.Threads != 1 || r.Engine != enginePtqspec || r.Precision != wantPrec {
			t.Errorf("row %d = %+v, want mlp batch %d, 1 thread, ptqspec %s", i, r, wantBatch, wantPrec)
		}
		if !(r.ImagesPerS > 0) || r.Accuracy < 0 || r.Accuracy > 1 {
			t.Errorf("row %d: %v images/s, accuracy %v; want > 0 and in [0, 1]", i, r.ImagesPerS, r.Accuracy)
		}
		if r.Precision == precisionFP32 {
			fp32[r.Batch] = r.Accuracy
		} else if d := fp32[r.Batch] - r.Accuracy; d > 0.15 {
			t.Errorf("row %d: %s accuracy %.2f is %.2f below FP32's", i, r.Precision, r.Accuracy, d)
		}
	}
	g := res.GEMM[0]
	if g.M != 16 || g.N != 16 || g.K != 16 || !(g.Int8GMACs > 0) || !(g.SgemmGFLOPs > 0) || !(g.GonumGFLOPs > 0) || g.SgemmKernel == "" {
		t.Errorf("GEMM row %+v: want 16³ with positive rates and a kernel name", g)
	}
}

// TestBenchUsage checks that bad flags are usage errors (status 2) that
// name the flag.
func TestBenchUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown model", []string{"-models", "vgg"}, `unknown model "vgg"`},
		{"empty models", []string{"-models", ""}, "-models is empty"},
		{"zero batch", []string{"-batch", "0"}, `"0" is not a positive integer`},
		{"word in threads", []string{"-threads", "1,two"}, `"two" is not a positive integer`},
		{"zero images", []string{"-images", "0"}, "-images is 0, want > 0"},
		{"zero repeat", []string{"-repeat", "0"}, "-repeat is 0, want > 0"},
		{"too many images", []string{"-images", "10001", "-gemm", ""}, "-images is 10,001, but the MNIST test set holds 10,000 images"},
		{"extra argument", []string{"now"}, "unexpected arguments now"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if status := run(append([]string{"bench"}, c.args...), &stdout, &stderr); status != 2 {
				t.Fatalf("status %d, want 2\nstderr: %s", status, &stderr)
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("stderr lacks %q:\n%s", c.want, &stderr)
			}
		})
	}
}
