package ptq

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/datasets"
)

// TestAccuracyRefusals lists the data and batch sizes Accuracy refuses
// rather than scoring: a label outside [0, classes) would otherwise count
// as a wrong answer, and a batch size of 0 would silently mean 256.
func TestAccuracyRefusals(t *testing.T) {
	g := mlp(t, 8) // 10 classes
	x := datasets.Gaussian(4, g.InputShape(), 0, 1, 1).X
	cases := []struct {
		name   string
		labels []int
		batch  int
		want   error
		msg    string
	}{
		{"negative label", []int{0, 1, -1, 2}, 2, ErrShape, "sample 2 has label -1"},
		{"label equal to the class count", []int{0, 10, 1, 2}, 2, ErrShape, "sample 1 has label 10, want one in [0, 10)"},
		{"fewer labels than samples", []int{0, 1}, 2, ErrShape, "2 labels"},
		{"no labels", nil, 2, ErrShape, "no labels"},
		{"batch size 0", []int{0, 1, 2, 3}, 0, ErrInvalidConfig, "batch size 0"},
		{"negative batch size", []int{0, 1, 2, 3}, -4, ErrInvalidConfig, "batch size -4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc, err := Accuracy(FP32Model(g), Data{X: x, Labels: c.labels}, c.batch)
			require.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			assert.Zero(t, acc)
		})
	}
}

// TestAccuracyCounts checks the fraction on labels taken from the model's
// own answers, with two of them changed.
func TestAccuracyCounts(t *testing.T) {
	g := mlp(t, 8)
	x := datasets.Gaussian(8, g.InputShape(), 0, 1, 2).X
	out, err := FP32Model(g).Forward(x)
	require.NoError(t, err)
	labels := make([]int, 8)
	for i := range labels {
		row := out.Data()[i*10 : (i+1)*10]
		for j, v := range row {
			if v > row[labels[i]] {
				labels[i] = j
			}
		}
	}
	labels[0], labels[5] = (labels[0]+1)%10, (labels[5]+1)%10
	for _, bs := range []int{1, 3, 8, 100} {
		acc, err := Accuracy(FP32Model(g), Data{X: x, Labels: labels}, bs)
		require.NoError(t, err)
		assert.InDelta(t, 6.0/8, acc, 1e-12, "batch size %d", bs)
	}
}
