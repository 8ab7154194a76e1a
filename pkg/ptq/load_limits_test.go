package ptq

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/internal/memlimit"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// craftedModel is a small int8 model file (valid checksum) whose header
// declares something huge, and the typed error LoadModel must return.
type craftedModel struct {
	name string
	data func() []byte // crafts the file (building only the model it edits)
	is   error
}

// craftedModels are the int8 twins of nn's crafted files of issue 12:
// kernels of 2^40, 2^28 and 2^62·k weights, convolutions padded by 2^14,
// 2^16 and 2^30, FP32 layers declaring 2^40 and 2^28 weights, and an
// input of 2^62·4 elements. The models they edit are built on first use.
func craftedModels(t testing.TB) []craftedModel {
	conv := sync.OnceValue(func() *Model {
		m, _ := quantizeWith(t, withBatchNormStats(convBNReLUGraph(t)), withOverrides(Override{Name: "fc", KeepFP32: true}))
		return m
	})
	static := sync.OnceValue(func() *Model {
		m, _ := quantizeWith(t, testGraph(t, []int{784}, planNode{name: "flatten1", layer: nn.NewFlatten()},
			planNode{name: "linear1", layer: nn.NewLinear(784, 16, testRand())}, planNode{name: "relu1", layer: nn.NewReLU()},
			planNode{name: "linear2", layer: nn.NewLinear(16, 10, testRand())}), Config{})
		return m
	})
	dynamic := sync.OnceValue(func() *Model {
		m, _ := dynamicWith(t, withBatchNormStats(convBNReLUGraph(t)), DynamicConfig{Conv2D: true})
		return m
	})
	edit := func(m func() *Model, f func(h *modelHeader)) func() []byte {
		return func() []byte {
			return craftModel(t, m(), func(h *modelHeader, r []record) []record { f(h); return r })
		}
	}
	kernel := func(m func() *Model, name string, f func(k *kernelHeader)) func() []byte {
		return edit(m, func(h *modelHeader) {
			n := headerNode(t, h, name)
			if n.Kernel.Conv != nil {
				c := *n.Kernel.Conv
				n.Kernel.Conv = &c
			}
			f(n.Kernel)
		})
	}
	linear := func(in, out int) func() []byte {
		return kernel(static, "linear1", func(k *kernelHeader) { k.In, k.Out = in, out })
	}
	pad := func(m func() *Model, p int) func() []byte {
		return kernel(m, "conv1", func(k *kernelHeader) { k.Conv.Pad = p })
	}
	attrs := func(a string) func() []byte {
		return edit(conv, func(h *modelHeader) { headerNode(t, h, "fc").Attrs = []byte(a) })
	}
	return []craftedModel{
		{"int8 Linear 2^20 x 2^20", linear(1<<20, 1<<20), tensor.ErrTooLarge},
		{"int8 Linear 2^14 x 2^14", linear(1<<14, 1<<14), nn.ErrParamShape},
		{"int8 Linear in 2^62", linear(1<<62, 2), tensor.ErrTooLarge},
		{"int8 Conv2D pad 2^14", pad(conv, 1<<14), nn.ErrLayerConfig},
		{"int8 Conv2D pad 2^16", pad(conv, 1<<16), nn.ErrLayerConfig},
		{"int8 Conv2D pad 2^30", pad(conv, 1<<30), nn.ErrLayerConfig},
		{"dynamic Conv2D pad 2^30", pad(dynamic, 1<<30), nn.ErrLayerConfig},
		{"FP32 Linear 2^20 x 2^20", attrs(`{"in":1048576,"out":1048576,"bias":true}`), tensor.ErrTooLarge},
		{"FP32 Linear 2^14 x 2^14", attrs(`{"in":16384,"out":16384,"bias":true}`), tensor.ErrTooLarge},
		{"input of 2^62 x 4", edit(static, func(h *modelHeader) { h.Input.Shape = []int{1 << 62, 4} }), tensor.ErrTooLarge},
	}
}

// TestLoadCraftedModelsUnderMemoryLimit loads each crafted int8 model file
// in a child process limited to 1 GiB (soft heap limit and, without -race,
// a hard RLIMIT_AS): each must fail with its typed error within a second,
// allocating no more than 64 MiB beyond the file's size.
func TestLoadCraftedModelsUnderMemoryLimit(t *testing.T) {
	var cases []memlimit.Case
	for _, f := range craftedModels(t) {
		cases = append(cases, memlimit.Case{Name: f.name, Is: f.is, Input: f.data,
			Load: func(data []byte) error { _, err := LoadModel(bytes.NewReader(data)); return err }})
	}
	memlimit.Test(t, "TestLoadCraftedModelsUnderMemoryLimit", 1<<30, cases)
}

// TestModelFileNilMisuse: nil models and readers are errors, not panics.
func TestModelFileNilMisuse(t *testing.T) {
	var m *Model
	path := t.TempDir() + "/m.ptq8"
	cases := []struct {
		name string
		call func() error
		is   error
	}{
		{"Save nil model", func() error { return m.Save(&bytes.Buffer{}) }, ErrNilModel},
		{"SaveFile nil model", func() error { return m.SaveFile(path) }, ErrNilModel},
		{"Save nil writer", func() error { return (&Model{}).Save(nil) }, nil},
		{"LoadModel nil reader", func() error { _, err := LoadModel(nil); return err }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				err = c.call()
			}()
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("error %v, want one matching %v", err, c.is)
			}
		})
	}
}
