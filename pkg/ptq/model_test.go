package ptq

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
	"github.com/stretchr/testify/require"
)

// checkConcurrentForward runs m on x from several goroutines at once (go
// test -race) and expects, from each, the bits of a lone run, none NaN.
func checkConcurrentForward(t *testing.T, m *Model, x *tensor.Tensor) {
	t.Helper()
	want, err := m.Forward(x)
	require.NoError(t, err)
	var wg sync.WaitGroup
	outs := make([]*tensor.Tensor, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Go(func() { outs[i], errs[i] = m.Forward(x) })
	}
	wg.Wait()
	for i, o := range outs {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if !sameFloat32Bits(o.Data(), want.Data()) || !slices.Equal(o.Data(), want.Data()) {
			t.Errorf("goroutine %d got different outputs", i)
		}
	}
}

// forwardRefusal is an input a quantized model must refuse with an error
// that matches want and names every string of msgs.
type forwardRefusal struct {
	name string
	x    *tensor.Tensor
	want error
	msgs []string
}

// checkForwardRefusals runs m on each case's input in a subtest.
func checkForwardRefusals(t *testing.T, m *Model, cases []forwardRefusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Forward(c.x)
			require.ErrorIs(t, err, c.want)
			for _, s := range c.msgs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}
