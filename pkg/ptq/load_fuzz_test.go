package ptq

import (
	"bytes"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// FuzzLoadModel feeds mutated int8 model files to LoadModel: it must
// return a model or an error, never panic or allocate without bound, and
// a model it returns must save to a file that loads again and run one
// sample.
func FuzzLoadModel(f *testing.F) {
	old := tensor.SetMaxElements(1 << 16)
	f.Cleanup(func() { tensor.SetMaxElements(old) })
	for _, data := range fuzzSeedModels(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadModel(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := m.Save(&b); err != nil {
			return // a record may hold a non-finite value Save refuses
		}
		if _, err := LoadModel(bytes.NewReader(b.Bytes())); err != nil {
			t.Fatalf("a loaded model saved again does not load: %v", err)
		}
		x := tensor.New(append([]int{1}, m.InputShape()...)...)
		_, _ = m.Forward(x)
	})
}

// fuzzSeedModels are saved static, dynamic and FP32 models of every op,
// and the crafted files of issue 12.
func fuzzSeedModels(t testing.TB) [][]byte {
	conv := withBatchNormStats(convBNReLUGraph(t))
	static, _ := quantizeWith(t, withBatchNormStats(residual(t)), Config{})
	fallback, _ := quantizeWith(t, conv, withOverrides(Override{Name: "fc", KeepFP32: true}))
	uint8s, _ := quantizeWith(t, conv, Config{NoFusion: true, Weights: &uint8Affine, Activations: &uint8Affine})
	dynamic, _ := dynamicWith(t, conv, DynamicConfig{Conv2D: true})
	fp32, _ := quantizeWith(t, conv, withOverrides(Override{Kind: "Conv2D", KeepFP32: true}, Override{Kind: "Linear", KeepFP32: true}))
	var seeds [][]byte
	for _, m := range []*Model{static, fallback, uint8s, dynamic, fp32} {
		seeds = append(seeds, saved(t, m))
	}
	for _, c := range craftedModels(t) {
		seeds = append(seeds, c.data())
	}
	return seeds
}
