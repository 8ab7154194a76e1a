package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ptqspec/ptqspec/internal/modelfile"
)

// craftedModel writes a tiny, well-formed FP32 model file (valid checksum)
// whose one node declares a huge layer, as the crafted files of issue 12 do.
func craftedModel(t *testing.T, input []int, kind string, attrs map[string]any, out []int) string {
	t.Helper()
	raw, err := json.Marshal(attrs)
	require.NoError(t, err)
	header := map[string]any{
		"input": map[string]any{"name": "x", "shape": input},
		"nodes": []map[string]any{{"name": "n", "kind": kind, "inputs": []string{"x"}, "attrs": json.RawMessage(raw), "shape": out}},
	}
	f := &modelfile.Format{Magic: "PTQSPEC\x00", Version: 1, Header: "architecture header", Record: "tensor", Tag: "role", Tags: "'P' or 'B'",
		ElemSize: func(byte) int { return 4 }}
	var b bytes.Buffer
	require.NoError(t, f.Write(&b, header, nil))
	path := filepath.Join(t.TempDir(), "crafted.model")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	return path
}

// TestCommandsRefuseCraftedModels runs quantize and sensitivity on model
// files of a few hundred bytes that declare layers of 2^40 weights, 2^62
// inputs or a padding of 2^30: each command fails with the loader's typed
// error, naming the node or input, and neither panics nor allocates the declared size
// (the allocation bounds themselves are tested under a memory limit in
// pkg/nn).
func TestCommandsRefuseCraftedModels(t *testing.T) {
	files := []struct {
		name, path, want string
	}{
		{"Linear 2^20 x 2^20", craftedModel(t, []int{1 << 20}, "Linear", map[string]any{"in": 1 << 20, "out": 1 << 20, "bias": true}, []int{1 << 20}), `"n"`},
		{"Linear in 2^62", craftedModel(t, []int{1 << 62}, "Linear", map[string]any{"in": 1 << 62, "out": 2, "bias": true}, []int{2}), `input "x"`},
		{"Conv2D pad 2^30", craftedModel(t, []int{1, 2, 2}, "Conv2D", map[string]any{"in_channels": 1, "out_channels": 1, "kernel_h": 1, "kernel_w": 1, "stride": 1, "pad": 1 << 30, "bias": true}, []int{1, 2, 2}), `"n"`},
	}
	for _, f := range files {
		for _, cmd := range []string{"quantize", "sensitivity"} {
			t.Run(cmd+" "+f.name, func(t *testing.T) {
				status, _, stderr := runPTQ(t, cmd, "-model", f.path, "-quiet")
				assert.Equal(t, 1, status, "stderr: %s", stderr)
				assert.Contains(t, stderr, f.path)
				assert.Contains(t, stderr, f.want)
			})
		}
	}
}
