package ptq

import (
	"context"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/require"
)

// Inference of models.SmallCNN (two Conv2D-BatchNorm2D-ReLU-MaxPool2D
// blocks and a Linear classifier) on a batch of 64 28x28 images, in FP32
// and statically quantized to int8 (BatchNorm folded, ReLU fused, int8
// between layers). The ratio int8 time / FP32 time is read from one run:
//
//	go test -run '^$' -bench 'SmallCNN' -count 5 ./pkg/ptq

var benchSinkTensor *tensor.Tensor

// benchSmallCNN times one forward pass of a batch of 64 images, through the
// FP32 model or its static int8 twin calibrated on 128 other images.
func benchSmallCNN(b *testing.B, int8 bool) {
	g, err := models.SmallCNN(1)
	require.NoError(b, err)
	g = withBatchNormStats(g)
	x := datasets.Gaussian(64, g.InputShape(), 0, 1, 2).X
	forward := func() (*tensor.Tensor, error) { return g.Forward(x, nn.Eval) }
	if int8 {
		calib := BatchesOf(datasets.Gaussian(128, g.InputShape(), 0, 1, 3).X, 32)
		m, _, err := Quantize(context.Background(), g, calib, nil)
		require.NoError(b, err)
		forward = func() (*tensor.Tensor, error) { return m.Forward(x) }
	}
	var y *tensor.Tensor
	for b.Loop() {
		if y, err = forward(); err != nil {
			b.Fatal(err)
		}
	}
	benchSinkTensor = y
}

func BenchmarkSmallCNNForwardFP32(b *testing.B) { benchSmallCNN(b, false) }
func BenchmarkSmallCNNForwardInt8(b *testing.B) { benchSmallCNN(b, true) }
