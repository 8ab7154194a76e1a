package onnxio

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ptqspec/ptqspec/internal/memlimit"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// craftedModels are small ONNX files that declare huge tensors or
// paddings, or hold many nodes: the import must refuse each with a typed
// error. (The refusal table of refuse_test.go has more, run in process.)
func craftedModels(t testing.TB) []struct {
	name string
	data []byte
	is   error
} {
	convPad := func(p int) []byte { return convModel(attrIs("pads", p, p, p, p)).bytes(t) }
	wide := testModel{input: []int64{4}, inits: []*onnxpb.TensorProto{int64Init("s", []int64{0, -1}, 2)}}
	var parts []string
	for k := range 4096 {
		c := fmt.Sprintf("c%d", k)
		wide.nodes = append(wide.nodes, nd("Constant", "", nil, []string{c}, attrIs("value_ints", 1)))
		parts = append(parts, c)
	}
	wide.nodes = append(wide.nodes, nd("Concat", "cat", parts, []string{"shape"}, attrI("axis", 0)),
		nd("Reshape", "rs", []string{"x", "shape"}, []string{"y"}))
	return []struct {
		name string
		data []byte
		is   error
	}{
		{"weight 2^20 x 2^20", linearModel(rawFloat("w", ramp(12, 1, 0), 1<<20, 1<<20)).bytes(t), ErrTooLarge},
		{"weight 2^12 x 2^12 without its data", linearModel(rawFloat("w", ramp(1, 1, 0), 1<<12, 1<<12)).bytes(t), ErrTensorData},
		{"Conv pad 2^16", convPad(1 << 16), ErrTooLarge},
		{"Concat of 4096 constants", wide.bytes(t), ErrUnsupported},
		{"MaxNodes+1 nodes", func() []byte {
			m := testModel{input: []int64{4}}
			for k := range MaxNodes + 1 {
				m.nodes = append(m.nodes, nd("Relu", "", []string{"x"}, []string{fmt.Sprint(k)}))
			}
			return m.bytes(t)
		}(), ErrTooLarge},
	}
}

// TestImportCraftedUnderMemoryLimit imports each crafted model in a child
// process limited to 1 GiB: a typed error within a second, allocating at
// most 64 MiB beyond the file.
func TestImportCraftedUnderMemoryLimit(t *testing.T) {
	var cases []memlimit.Case
	for _, c := range craftedModels(t) {
		cases = append(cases, memlimit.Case{Name: c.name, Is: c.is, Input: func() []byte { return c.data }, Load: func(data []byte) error {
			_, err := Import(bytes.NewReader(data))
			return err
		}})
	}
	memlimit.Test(t, "TestImportCraftedUnderMemoryLimit", 1<<30, cases)
}
