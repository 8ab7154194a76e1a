package nn

import (
	"errors"
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// ErrLabel reports a class label outside [0, classes), or a label count that
// differs from the batch size.
var ErrLabel = errors.New("bad label")

// SoftmaxCrossEntropy returns the mean over the batch of the cross-entropy
// between softmax(logits) and the labels, and the gradient of that mean
// with respect to the logits. logits has shape [N, C]; labels holds N class
// indices in [0, C). The softmax is computed stably in float64.
func SoftmaxCrossEntropy(logits *tensor.Tensor, labels []int) (loss float64, grad *tensor.Tensor, err error) {
	if err := checkLogits(logits, labels); err != nil {
		return 0, nil, err
	}
	grad = tensor.New(logits.Shape()...)
	sum, err := crossEntropy(logits, labels, grad)
	if err != nil {
		return 0, nil, err
	}
	return sum / float64(len(labels)), grad, nil
}

func checkLogits(logits *tensor.Tensor, labels []int) error {
	if logits == nil || logits.Dims() != 2 || logits.Dim(0) == 0 || logits.Dim(1) == 0 {
		var shape []int
		if logits != nil {
			shape = logits.Shape()
		}
		return fmt.Errorf("nn: softmax cross-entropy: logits of shape %v, want [N C] with N, C > 0", shape)
	}
	if len(labels) != logits.Dim(0) {
		return fmt.Errorf("nn: softmax cross-entropy: %d labels for a batch of %d: %w", len(labels), logits.Dim(0), ErrLabel)
	}
	classes := logits.Dim(1)
	for i, y := range labels {
		if y < 0 || y >= classes {
			return fmt.Errorf("nn: softmax cross-entropy: sample %d: label %d out of range [0, %d): %w", i, y, classes, ErrLabel)
		}
	}
	return nil
}

// crossEntropy returns the summed (not averaged) loss of a checked batch. If
// grad is non-nil it receives the gradient of the mean loss.
func crossEntropy(logits *tensor.Tensor, labels []int, grad *tensor.Tensor) (float64, error) {
	n, c := logits.Dim(0), logits.Dim(1)
	data := logits.Data()
	inv := 1 / float64(n)
	total := 0.0
	for i := range n {
		row := data[i*c : (i+1)*c]
		maxv := math.Inf(-1)
		for _, v := range row {
			maxv = math.Max(maxv, float64(v))
		}
		z := 0.0
		for _, v := range row {
			z += math.Exp(float64(v) - maxv)
		}
		logZ := maxv + math.Log(z)
		l := logZ - float64(row[labels[i]])
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return 0, fmt.Errorf("nn: softmax cross-entropy: sample %d: logits are not finite", i)
		}
		total += l
		if grad != nil {
			g := grad.Data()[i*c : (i+1)*c]
			for j, v := range row {
				p := math.Exp(float64(v) - logZ)
				if j == labels[i] {
					p--
				}
				g[j] = float32(p * inv)
			}
		}
	}
	return total, nil
}

// argmax returns the index of the largest element of each row of a [N C]
// tensor (the first one on ties).
func argmax(logits *tensor.Tensor, out []int) {
	c := logits.Dim(1)
	data := logits.Data()
	for i := range out {
		row := data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
}
