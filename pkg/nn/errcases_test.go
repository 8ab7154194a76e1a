package nn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// errCase is one misuse of a layer: run returns its error, which must match
// want with errors.Is and, when wantMsg is set, read exactly wantMsg (which
// names the layer kind and, for a shape, both shapes).
type errCase struct {
	name    string
	run     func() error
	want    error
	wantMsg string
}

// checkErrCases runs each case as a subtest.
func checkErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			require.ErrorIs(t, err, c.want)
			if c.wantMsg != "" {
				assert.EqualError(t, err, c.wantMsg)
			}
		})
	}
}

// checkErrPrefixed checks that err is not nil, starts with prefix, contains
// want and, when is is set, matches it with errors.Is.
func checkErrPrefixed(t *testing.T, err, is error, prefix, want string) {
	t.Helper()
	require.Error(t, err)
	if is != nil {
		assert.ErrorIs(t, err, is)
	}
	assert.Contains(t, err.Error(), want)
	assert.True(t, strings.HasPrefix(err.Error(), prefix), "error %q, want prefix %q", err, prefix)
}

// backwardAfterTrain returns an errCase run that passes inputs through l in
// Train mode, then gradOut back, and returns the first error.
func backwardAfterTrain(l Layer, gradOut *tensor.Tensor, inputs ...*tensor.Tensor) func() error {
	return func() error {
		if _, err := l.Forward(inputs, Train); err != nil {
			return err
		}
		_, err := l.Backward(gradOut)
		return err
	}
}

// zerosIn returns the inputs of a one-input layer: a zero tensor of the
// given shape.
func zerosIn(shape ...int) []*tensor.Tensor { return []*tensor.Tensor{tensor.New(shape...)} }
