package nn

import (
	"math"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestSoftmaxCrossEntropyValues(t *testing.T) {
	const tol = 1e-6
	cases := []struct {
		name     string
		logits   []float32
		classes  int
		labels   []int
		wantLoss float64
		wantGrad []float32
	}{
		{"uniform logits give log C", []float32{0, 0, 0, 0}, 4, []int{2},
			math.Log(4), []float32{0.25, 0.25, -0.75, 0.25}},
		{"two classes", []float32{1, 0}, 2, []int{0},
			math.Log(1 + math.Exp(-1)), []float32{float32(1/(1+math.Exp(-1)) - 1), float32(1 / (1 + math.Exp(1)))}},
		{"batch mean", []float32{0, 0, 5, 5}, 2, []int{0, 1},
			math.Log(2), []float32{-0.25, 0.25, 0.25, -0.25}},
		{"large logits stay finite", []float32{1000, 0}, 2, []int{1},
			1000, []float32{1, -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logits := tensor.MustFromData(c.logits, len(c.labels), c.classes)
			loss, grad, err := SoftmaxCrossEntropy(logits, c.labels)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(loss-c.wantLoss) > tol {
				t.Errorf("loss %.9f, want %.9f", loss, c.wantLoss)
			}
			for i, g := range grad.Data() {
				if math.Abs(float64(g-c.wantGrad[i])) > tol {
					t.Errorf("grad[%d] = %.7f, want %.7f", i, g, c.wantGrad[i])
				}
			}
		})
	}
}

func TestSoftmaxCrossEntropyErrors(t *testing.T) {
	cases := []struct {
		name   string
		logits *tensor.Tensor
		labels []int
		is     error
		want   string
	}{
		{"label too large", tensor.New(3, 4), []int{0, 4, 1}, ErrLabel, "sample 1: label 4 out of range [0, 4)"},
		{"negative label", tensor.New(2, 4), []int{-1, 0}, ErrLabel, "sample 0: label -1 out of range"},
		{"label count", tensor.New(2, 4), []int{0}, ErrLabel, "1 labels for a batch of 2"},
		{"rank 3 logits", tensor.New(2, 4, 1), []int{0, 0}, nil, "logits of shape [2 4 1], want [N C]"},
		{"nil logits", nil, nil, nil, "logits of shape []"},
		{"NaN logit", tensor.MustFromData([]float32{0, 1, float32(math.NaN()), 0}, 2, 2), []int{0, 0}, nil, "sample 1: logits are not finite"},
		{"infinite logit", tensor.MustFromData([]float32{float32(math.Inf(1)), 0}, 1, 2), []int{0}, nil, "sample 0: logits are not finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := SoftmaxCrossEntropy(c.logits, c.labels)
			checkErrPrefixed(t, err, c.is, "nn: softmax cross-entropy: ", c.want)
		})
	}
}

// TestSoftmaxCrossEntropyGradient compares the gradient with central
// differences of the loss.
func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	const eps, tol = 1e-3, 1e-4
	rng := testRNG(20)
	logits := randTensor(rng, 3, 5)
	labels := []int{4, 0, 2}
	_, grad, err := SoftmaxCrossEntropy(logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	d := logits.Data()
	for i := range d {
		orig := d[i]
		d[i] = orig + eps
		up, _, _ := SoftmaxCrossEntropy(logits, labels)
		d[i] = orig - eps
		down, _, _ := SoftmaxCrossEntropy(logits, labels)
		d[i] = orig
		num := (up - down) / (2 * eps)
		if math.Abs(num-float64(grad.Data()[i])) > tol {
			t.Errorf("grad[%d] = %.6f, finite difference %.6f", i, grad.Data()[i], num)
		}
	}
}
