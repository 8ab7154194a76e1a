package ptq

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
)

// TestSaveRefusesNonFinite: Save writes nothing for a model holding NaN or
// ±Inf in an FP32 layer or a dynamic kernel's float bias, and names the
// node and the tensor.
func TestSaveRefusesNonFinite(t *testing.T) {
	conv := withBatchNormStats(convBNReLUGraph(t))
	cases := []struct {
		name  string
		model func() *Model
		want  string
	}{
		{"NaN in an FP32 layer", func() *Model {
			m, _ := quantizeWith(t, conv, withOverrides(Override{Name: "fc", KeepFP32: true}))
			for _, s := range m.steps {
				if s.name == "fc" {
					s.fp32.Params()[0].Value.Data()[5] = float32(math.NaN())
				}
			}
			return m
		}, `node "fc": non-finite value: tensor "fc.weight" holds NaN at index 5`},
		{"+Inf in a dynamic bias", func() *Model {
			m, _ := dynamicWith(t, conv, DynamicConfig{Conv2D: true})
			for _, s := range m.steps {
				if k, ok := s.kernel.(*qnn.DynamicConv2D); ok {
					k.Bias[1] = float32(math.Inf(1))
				}
			}
			return m
		}, `node "conv1": non-finite value: tensor "conv1.bias" holds +Inf at index 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := c.model().Save(&b)
			if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "ptq: save: ") {
				t.Errorf("error %v, want ErrNonFinite containing %q", err, c.want)
			}
			if b.Len() != 0 {
				t.Errorf("Save wrote %d bytes before failing", b.Len())
			}
		})
	}
}
