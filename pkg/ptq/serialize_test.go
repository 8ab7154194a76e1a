package ptq

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// savedCase is a converted model a file must carry, an input batch to
// compare outputs on, and the mode and ops it must exercise.
type savedCase struct {
	name  string
	model func(t *testing.T) (*Model, *tensor.Tensor)
	mode  string
	ops   []stepOp
}

// quantizeWith quantizes g statically with cfg on 32 standard normal
// samples and returns the model with 8 other samples.
func quantizeWith(t testing.TB, g *nn.Graph, cfg Config) (*Model, *tensor.Tensor) {
	t.Helper()
	m, _, err := Quantize(context.Background(), g, BatchesOf(normal(g, 32, 1).X, 16), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, normal(g, 8, 2).X
}

// dynamicWith quantizes g dynamically with cfg and returns the model with
// 8 samples.
func dynamicWith(t testing.TB, g *nn.Graph, cfg DynamicConfig) (*Model, *tensor.Tensor) {
	t.Helper()
	m, _, err := QuantizeDynamic(context.Background(), g, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, normal(g, 8, 2).X
}

var (
	uint8Affine = quant.Spec{DType: quant.UInt8, Scheme: quant.Affine}
	uint8PerCh  = quant.Spec{DType: quant.UInt8, Scheme: quant.Affine, Granularity: quant.PerChannel}
)

func savedCases() []savedCase {
	return []savedCase{
		{"static residual CNN", func(t *testing.T) (*Model, *tensor.Tensor) {
			return quantizeWith(t, withBatchNormStats(residual(t)), Config{})
		}, "static", []stepOp{opConv2D, opFused, opAdd, opInt8, opLinear}},
		{"static with FP32 fallback layers", func(t *testing.T) (*Model, *tensor.Tensor) {
			return quantizeWith(t, withBatchNormStats(convBNReLUGraph(t)), withOverrides(Override{Name: "fc", KeepFP32: true}))
		}, "static", []stepOp{opConv2D, opFused, opInt8, opFP32}},
		{"static uint8 per-tensor, BatchNorm left FP32", func(t *testing.T) (*Model, *tensor.Tensor) {
			return quantizeWith(t, withBatchNormStats(convBNReLUGraph(t)), configWith(func(c *Config) {
				c.NoFusion, c.Weights, c.Activations = true, new(uint8Affine), new(uint8Affine)
			}))
		}, "static", []stepOp{opConv2D, opFP32, opLinear}},
		{"dynamic MLP", func(t *testing.T) (*Model, *tensor.Tensor) {
			return dynamicWith(t, mlp(t, 16), DynamicConfig{})
		}, "dynamic", []stepOp{opDynamic, opFP32}},
		{"dynamic MLP, uint8 weights, one layer kept FP32", func(t *testing.T) (*Model, *tensor.Tensor) {
			return dynamicWith(t, mlp(t, 16, 8), DynamicConfig{Weights: new(uint8PerCh), Overrides: []Override{{Name: "linear2", KeepFP32: true}}})
		}, "dynamic", []stepOp{opDynamic, opFP32}},
		{"dynamic CNN, Conv2D quantized on request, BatchNorm FP32", func(t *testing.T) (*Model, *tensor.Tensor) {
			return dynamicWith(t, withBatchNormStats(convBNReLUGraph(t)), DynamicConfig{Conv2D: true})
		}, "dynamic", []stepOp{opDynamicConv2D, opFP32, opDynamic}},
		{"dynamic CNN, uint8 per-tensor weights, FC kept FP32", func(t *testing.T) (*Model, *tensor.Tensor) {
			return dynamicWith(t, withBatchNormStats(convBNReLUGraph(t)), DynamicConfig{Conv2D: true, Weights: new(uint8Affine), Overrides: []Override{{Name: "fc", KeepFP32: true}}})
		}, "dynamic", []stepOp{opDynamicConv2D, opFP32}},
		{"fp32 unchanged, every layer kept", func(t *testing.T) (*Model, *tensor.Tensor) {
			return quantizeWith(t, withBatchNormStats(convBNReLUGraph(t)),
				withOverrides(Override{Kind: "Conv2D", KeepFP32: true}, Override{Kind: "Linear", KeepFP32: true}))
		}, "fp32", []stepOp{opFP32}},
		{"fp32 unchanged, no Linear to quantize dynamically", func(t *testing.T) (*Model, *tensor.Tensor) {
			return dynamicWith(t, convOnly(t), DynamicConfig{})
		}, "fp32", []stepOp{opFP32}},
	}
}

// saved returns m's file.
func saved(t testing.TB, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, c := range savedCases() {
		t.Run(c.name, func(t *testing.T) {
			m, x := c.model(t)
			if m.Mode().String() != c.mode {
				t.Fatalf("the case builds a %s model, want %s", m.Mode(), c.mode)
			}
			for _, op := range c.ops {
				if !slices.ContainsFunc(m.steps, func(s *step) bool { return s.op == op }) {
					t.Errorf("no node runs %s: the case does not cover it", op)
				}
			}
			file := saved(t, m)
			loaded, err := LoadModel(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			checkSameModel(t, loaded, m, x)
			if again := saved(t, loaded); !bytes.Equal(again, file) {
				t.Errorf("saving the loaded model gives other bytes (%d, first difference at byte %d)", len(again), firstByteDiff(again, file))
			}
			t.Logf("%d bytes on file for %d bytes of parameters", len(file), m.Bytes())
		})
	}
}

// checkSameModel expects got to describe and compute exactly what want
// does: mode, input shape, bytes, plan, layers, weights, and the bits of
// every node's output and trace on x (tolerance 0).
func checkSameModel(t *testing.T, got, want *Model, x *tensor.Tensor) {
	t.Helper()
	if got.Mode() != want.Mode() || !slices.Equal(got.InputShape(), want.InputShape()) || got.Bytes() != want.Bytes() {
		t.Errorf("mode %s, input %v, %d bytes; want %s, %v, %d", got.Mode(), got.InputShape(), got.Bytes(), want.Mode(), want.InputShape(), want.Bytes())
	}
	if !reflect.DeepEqual(got.Plan(), want.Plan()) {
		t.Errorf("plan:\n%s\nwant:\n%s", got.Plan(), want.Plan())
	}
	if !reflect.DeepEqual(got.Layers(), want.Layers()) {
		t.Errorf("layers:\n%+v\nwant:\n%+v", got.Layers(), want.Layers())
	}
	for _, l := range want.Layers() {
		gw, gok := got.Weights(l.Name)
		ww, wok := want.Weights(l.Name)
		if gok != wok || wok && (!reflect.DeepEqual(gw.Params(), ww.Params()) || !slices.Equal(gw.Shape(), ww.Shape()) ||
			!slices.Equal(gw.Int8s(), ww.Int8s()) || !slices.Equal(gw.Uint8s(), ww.Uint8s())) {
			t.Errorf("%s: weights %v, want %v", l.Name, gw, ww)
		}
	}
	gy, err := got.Outputs(x)
	if err != nil {
		t.Fatal(err)
	}
	wy, err := want.Outputs(x)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range wy {
		if g := gy[name]; g == nil || !slices.Equal(g.Shape(), w.Shape()) || !sameFloat32Bits(g.Data(), w.Data()) {
			t.Errorf("node %s: outputs differ", name)
		}
	}
	gt, err := got.Trace(x)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := want.Trace(x)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gt, wt) {
		t.Errorf("trace:\n%+v\nwant:\n%+v", gt, wt)
	}
}

func firstByteDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// rechecksum rewrites the CRC-32 of a file whose contents were edited.
func rechecksum(d []byte) []byte {
	binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.ChecksumIEEE(d[:len(d)-4]))
	return d
}

// loadErrCase is a file LoadModel must refuse with an error prefixed
// "ptq: load: " that contains want and, when is is set, matches it.
type loadErrCase struct {
	name string
	data []byte
	is   error
	want string
}

func checkLoadErrors(t *testing.T, cases []loadErrCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := LoadModel(bytes.NewReader(c.data))
			switch {
			case err == nil:
				t.Fatalf("loaded a %s model, want an error containing %q", m.Mode(), c.want)
			case c.is != nil && !errors.Is(err, c.is):
				t.Errorf("error %q does not match %v", err, c.is)
			case !strings.HasPrefix(err.Error(), "ptq: load: ") || !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q, want one starting \"ptq: load: \" and containing %q", err, c.want)
			}
		})
	}
}

// TestLoadRefusesDamagedFiles damages the file of every saved case in the
// same ways; each must be refused with an error that says what is wrong.
func TestLoadRefusesDamagedFiles(t *testing.T) {
	for _, sc := range savedCases() {
		t.Run(sc.name, func(t *testing.T) {
			m, _ := sc.model(t)
			good := saved(t, m)
			h := int(binary.LittleEndian.Uint32(good[12:]))
			edit := func(f func(d []byte) []byte) []byte { return f(slices.Clone(good)) }
			var fp32 bytes.Buffer
			if err := nn.Save(&fp32, convOnly(t)); err != nil {
				t.Fatal(err)
			}
			// The first record: its name, where its element type is and
			// where its values start.
			firstName := string(good[16+h+4+2 : 16+h+4+2+int(binary.LittleEndian.Uint16(good[16+h+4:]))])
			elemAt := 16 + h + 4 + 2 + len(firstName)
			valuesAt := elemAt + 2 + 4*int(good[elemAt+1])
			checkLoadErrors(t, []loadErrCase{
				{"empty file", nil, nn.ErrTruncated, "the magic number needs 8 bytes at byte offset 0, but the file ends at byte 0"},
				{"bad magic", edit(func(d []byte) []byte { copy(d, "GGUF"); return d }), nn.ErrBadMagic, `file starts with "GGUFPECQ", want "PTQSPECQ"`},
				{"an FP32 model file", fp32.Bytes(), nn.ErrBadMagic, "this is an FP32 model file of package nn"},
				{"unknown version", edit(func(d []byte) []byte { d[8] = 2; return d }), nn.ErrVersion, "unsupported format version 2 (this code reads version 1)"},
				{"flipped value bit", edit(func(d []byte) []byte { d[len(d)-10] ^= 1; return d }), nn.ErrChecksum, "stored CRC-32"},
				{"flipped header byte", edit(func(d []byte) []byte { d[20] ^= 0x20; return d }), nn.ErrChecksum, "contents hash to"},
				{"flipped checksum", edit(func(d []byte) []byte { d[len(d)-1] ^= 0xff; return d }), nn.ErrChecksum, "checksum mismatch"},
				{"cut in version", good[:10], nn.ErrTruncated, "the format version needs 4 bytes at byte offset 8, but the file ends at byte 10"},
				{"cut in header", good[:16+h/2], nn.ErrTruncated, fmt.Sprintf("the model header needs %d bytes at byte offset 16", h)},
				{"cut before record count", good[:16+h], nn.ErrTruncated, "the tensor record count needs 4 bytes"},
				{"cut in first record name", good[:16+h+7], nn.ErrTruncated, "tensor record 0 name needs"},
				{"cut in first record values", good[:valuesAt+1], nn.ErrTruncated, fmt.Sprintf("tensor record %q values needs", firstName)},
				{"cut in checksum", good[:len(good)-1], nn.ErrTruncated, "the CRC-32 checksum needs 4 bytes at byte offset"},
				{"trailing bytes", append(slices.Clone(good), 0, 0), nil, "2 unexpected bytes after the checksum"},
				{"unknown element type", edit(func(d []byte) []byte { d[elemAt] = 'x'; return d }), nil,
					fmt.Sprintf("tensor record %q at byte offset %d: element type 'x'", firstName, elemAt)},
				{"rank too large", edit(func(d []byte) []byte { d[elemAt+1] = 9; return d }), nil, "rank 9 exceeds 8"},
				{"huge dimension", edit(func(d []byte) []byte {
					binary.LittleEndian.PutUint32(d[elemAt+2:], 1<<31)
					return d
				}), nn.ErrTruncated, fmt.Sprintf("tensor record %q values needs", firstName)},
				{"invalid header JSON", rechecksum(edit(func(d []byte) []byte { d[16] = '['; return d })), nil, "model header at byte offset 16"},
				{"unknown header field", rechecksum(edit(func(d []byte) []byte {
					copy(d[bytes.Index(d, []byte(`"mode"`)):], `"moda"`)
					return d
				})), nil, `unknown field "moda"`},
			})
			// No cut and no flipped byte may be read, or panic: every
			// prefix is truncated (the file ends where the error says),
			// every flip is caught by the structure or the checksum. All
			// of the first and last 256 bytes, and 1,000 positions
			// spread over the rest.
			for _, n := range damagePositions(len(good)) {
				_, err := load(good[:n], "ptq: load")
				if !errors.Is(err, nn.ErrTruncated) || !strings.Contains(err.Error(), fmt.Sprintf("but the file ends at byte %d", n)) {
					t.Fatalf("file cut at byte %d: error %v, want one wrapping nn.ErrTruncated", n, err)
				}
				good[n] ^= 0xff
				m, err := load(good, "ptq: load")
				good[n] ^= 0xff
				if err == nil {
					t.Fatalf("byte %d flipped: loaded a %s model", n, m.Mode())
				}
			}
		})
	}
}

// damagePositions returns the byte positions of a file of n bytes the
// damage test cuts at and flips.
func damagePositions(n int) []int {
	const ends, spread = 256, 1000
	var ps []int
	for i := range n {
		if i < ends || i >= n-ends || i%max(1, n/spread) == 0 {
			ps = append(ps, i)
		}
	}
	return ps
}

// craftModel encodes m's file after f has edited a deep-enough copy of its
// header and records: a file with a valid checksum whose contents are
// whatever f made them.
func craftModel(t testing.TB, m *Model, f func(h *modelHeader, recs []record) []record) []byte {
	t.Helper()
	h, recs, err := m.contents()
	if err != nil {
		t.Fatal(err)
	}
	h.Nodes = slices.Clone(h.Nodes)
	for i := range h.Nodes {
		n := &h.Nodes[i]
		n.Inputs, n.Shape = slices.Clone(n.Inputs), slices.Clone(n.Shape)
		if n.Kernel != nil {
			k := *n.Kernel
			n.Kernel = &k
		}
	}
	recs = f(&h, slices.Clone(recs))
	var b bytes.Buffer
	if err := encodeModel(&b, h, recs, "test"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// headerNode returns the header of the node called name.
func headerNode(t testing.TB, h *modelHeader, name string) *nodeHeader {
	t.Helper()
	for i := range h.Nodes {
		if h.Nodes[i].Name == name {
			return &h.Nodes[i]
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// TestLoadRefusesInconsistentFiles writes files with a valid checksum
// whose contents do not hold together.
func TestLoadRefusesInconsistentFiles(t *testing.T) {
	m, _ := quantizeWith(t, withBatchNormStats(convBNReLUGraph(t)), withOverrides(Override{Name: "fc", KeepFP32: true}))
	// conv1 (int8, bn1 and relu1 fused), pool1 and flat (int8
	// pass-through), fc and softmax (FP32).
	res, _ := quantizeWith(t, withBatchNormStats(residual(t)), Config{})
	// Every node int8, block_conv1 reading the int8 output of stem_conv's
	// group.
	craftFrom := func(m *Model, f func(h *modelHeader, recs []record) []record) []byte { return craftModel(t, m, f) }
	craft := func(f func(h *modelHeader, recs []record) []record) []byte { return craftFrom(m, f) }
	node := func(h *modelHeader, name string) *nodeHeader { return headerNode(t, h, name) }
	recIndex := func(recs []record, name string) int {
		i := slices.IndexFunc(recs, func(r record) bool { return r.Name == name })
		if i < 0 {
			t.Fatalf("no record %q", name)
		}
		return i
	}
	// The byte offset of a record in an unchanged file.
	_, decoded, err := decodeModel(saved(t, m), "test")
	if err != nil {
		t.Fatal(err)
	}
	offsetOf := func(name string) int { return decoded[recIndex(decoded, name)].Offset }
	checkLoadErrors(t, []loadErrCase{
		{"unknown mode", craft(func(h *modelHeader, r []record) []record { h.Mode = "mixed"; return r }), nil,
			`mode "mixed", want static, dynamic or fp32`},
		{"output not the last node", craft(func(h *modelHeader, r []record) []record { h.Output = "fc"; return r }), nil,
			`output "fc" is not the last of the 7 nodes`},
		{"unknown input", craft(func(h *modelHeader, r []record) []record { node(h, "pool1").Inputs = []string{"ghost"}; return r }), nil,
			`node "pool1" (MaxPool2D): unknown input "ghost" (not the model input or an earlier node)`},
		{"name used twice", craft(func(h *modelHeader, r []record) []record {
			n := node(h, "flat")
			n.Name, n.Report.Name = "pool1", "pool1"
			return r
		}), nil, `node "pool1" (Flatten): name used twice`},
		{"unknown role", craft(func(h *modelHeader, r []record) []record { node(h, "fc").Plan.Role = "int4"; return r }), nil,
			`node "fc" (Linear): role "int4", want one of "int8", "int8-transparent", "fused", "fp32"`},
		{"op the role does not run", craft(func(h *modelHeader, r []record) []record { node(h, "conv1").Op = opFP32; return r }), nil,
			`node "conv1" (Conv2D): op "fp32" with role int8; this mode runs [int8_linear int8_conv2d int8_add]`},
		{"report of another node", craft(func(h *modelHeader, r []record) []record { node(h, "fc").Report.Name = "fc2"; return r }), nil,
			`node "fc" (Linear): report describes node "fc2" (Linear)`},
		{"unknown layer kind", craft(func(h *modelHeader, r []record) []record {
			n := node(h, "softmax")
			n.Kind, n.Report.Kind = "Sparsemax", "Sparsemax"
			return r
		}), nn.ErrUnknownKind, `node "softmax" (Sparsemax): unknown layer kind "Sparsemax" (registered: [`},
		{"bad layer attributes", craft(func(h *modelHeader, r []record) []record { node(h, "pool1").Attrs = []byte(`{"k":0}`); return r }), nil,
			`node "pool1" (MaxPool2D): attributes {"k":0}`},
		{"pass-through on FP32 data", craft(func(h *modelHeader, r []record) []record { node(h, "pool1").Inputs = []string{"input"}; return r }), nil,
			`node "pool1" (MaxPool2D): runs on int8 codes, but its input "input" is FP32`},
		{"header shape disagrees", craft(func(h *modelHeader, r []record) []record { node(h, "softmax").Shape = []int{7}; return r }), nil,
			`node "softmax" (Softmax): header says output shape [7], the node computes [3] from input shapes [[3]]`},
		{"kernel shape disagrees with its input", craft(func(h *modelHeader, r []record) []record { node(h, "conv1").Kernel.In = 2; return r }), nn.ErrParamShape,
			fmt.Sprintf(`node "conv1" (Conv2D): parameter does not match the architecture: tensor record "conv1.weight" at byte offset %d has shape [4 1 3 3], the node wants [4 2 3 3]`, offsetOf("conv1.weight"))},
		{"record reshaped", craft(func(h *modelHeader, r []record) []record {
			r[recIndex(r, "fc.weight")].Shape = []int{32, 6}
			return r
		}), nn.ErrParamShape, `tensor record "fc.weight" at byte offset`},
		{"record renamed", craft(func(h *modelHeader, r []record) []record {
			r[recIndex(r, "conv1.weight_scale")].Name = "conv1.scale"
			return r
		}), nn.ErrParamShape, fmt.Sprintf(`the file holds "conv1.scale" at byte offset %d where "conv1.weight_scale" belongs`, offsetOf("conv1.weight_scale"))},
		{"record of another type", craft(func(h *modelHeader, r []record) []record {
			i := recIndex(r, "conv1.weight_scale")
			r[i].Tag, r[i].Values = elemInt32, make([]int32, r[i].Shape[0])
			return r
		}), nn.ErrParamShape, `tensor record "conv1.weight_scale" at byte offset`},
		{"record missing", craft(func(h *modelHeader, r []record) []record { return r[:len(r)-1] }), nn.ErrParamShape,
			`node "fc" (Linear): parameter does not match the architecture: attributes {"in":64,"out":3,"bias":true}: nn: Linear: parameters and buffers of shapes [[3 64] [3]] hold 195 values, more than the 192 allowed`},
		{"record extra", craft(func(h *modelHeader, r []record) []record {
			return append(r, record{Name: "softmax.temperature", Tag: elemFloat32, Shape: []int{1}, Values: []float32{1}})
		}), nn.ErrParamShape, `the file holds 7 tensor records, the model 6 (first extra: "softmax.temperature" at byte offset`},
		{"invalid activation qparams", craft(func(h *modelHeader, r []record) []record {
			node(h, "conv1").Kernel.Output = &actHeader{DType: "int8", Scale: 0}
			return r
		}),
			quant.ErrInvalidParams, `node "conv1" (Conv2D): output qparams: quant: qparams: scale[0] = 0 is not positive and finite`},
		{"weight codes outside their bounds", craft(func(h *modelHeader, r []record) []record { node(h, "conv1").Kernel.Weights.QMax = 3; return r }),
			quant.ErrInvalidParams, `node "conv1" (Conv2D): weights: quant: new qtensor: element`},
		{"unknown weight dtype", craft(func(h *modelHeader, r []record) []record { node(h, "conv1").Kernel.Weights.DType = "int4"; return r }), nil,
			`node "conv1" (Conv2D): weight dtype "int4", want one of "int8", "uint8"`},
		{"stride 0", craft(func(h *modelHeader, r []record) []record {
			c := *node(h, "conv1").Kernel.Conv
			c.Stride = 0
			node(h, "conv1").Kernel.Conv = &c
			return r
		}), nil, `node "conv1" (Conv2D): kernel 3x3, stride 0, pad 1: sizes and stride must be positive, pad non-negative`},
		{"int8 input read with other qparams", craftFrom(res, func(h *modelHeader, r []record) []record {
			a := *node(h, "block_conv1").Kernel.Input
			a.Scale *= 2
			node(h, "block_conv1").Kernel.Input = &a
			return r
		}), nil, `node "block_conv1" (Conv2D): input "stem_relu" arrives in int8 as int8 scale=`},
		{"Add input read with other qparams", craftFrom(res, func(h *modelHeader, r []record) []record {
			n := node(h, "block_add")
			add := *n.Add
			add.Inputs = slices.Clone(add.Inputs)
			add.Inputs[1].ZeroPoint++
			n.Add = &add
			return r
		}), nil, `node "block_add" (Add): input "stem_relu" arrives in int8 as int8 scale=`},
		{"Add of another kind", craftFrom(res, func(h *modelHeader, r []record) []record {
			n := node(h, "block_add")
			n.Kind, n.Report.Kind = "Concat", "Concat"
			return r
		}), nil, `node "block_add" (Concat): op int8_add runs an Add layer of two or more inputs, each with qparams`},
	})
}

// opaque is a layer that cannot be saved: it wraps a ReLU without its
// attributes.
type opaque struct{ nn.Layer }

func (opaque) Kind() string          { return "Opaque" }
func (o opaque) Clone() nn.Layer     { return opaque{o.Layer.Clone()} }
func (o opaque) Params() []*nn.Param { return nil }

func TestSaveFileLoadModelFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.ptq8")
	m, x := quantizeWith(t, withBatchNormStats(residual(t)), Config{})
	if err := m.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadModelFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSameModel(t, loaded, m, x)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries after SaveFile, want just the model", len(entries))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.ptq8")
	if err := os.WriteFile(truncated, data[:30], 0o644); err != nil {
		t.Fatal(err)
	}
	unsaveable, _ := quantizeWith(t, testGraph(t, []int{4},
		planNode{name: "fc", layer: nn.NewLinear(4, 3, testRand())},
		planNode{name: "odd", layer: opaque{nn.NewReLU()}}), Config{})
	cases := []struct {
		name string
		err  func() error
		is   error
		want string
	}{
		{"missing file", func() error { _, err := LoadModelFile(filepath.Join(dir, "none.ptq8")); return err }, os.ErrNotExist, "none.ptq8: no such file"},
		{"truncated file", func() error { _, err := LoadModelFile(truncated); return err }, nn.ErrTruncated, "ptq: load " + truncated + ": truncated file"},
		{"missing directory", func() error { return m.SaveFile(filepath.Join(dir, "no", "m.ptq8")) }, os.ErrNotExist, "ptq: save " + filepath.Join(dir, "no", "m.ptq8")},
		{"layer that cannot be saved", func() error { return unsaveable.SaveFile(filepath.Join(dir, "odd.ptq8")) }, nn.ErrNotSerializable,
			"ptq: save " + filepath.Join(dir, "odd.ptq8") + `: node "odd" (Opaque): layer is not serializable`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.err(); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one matching %v containing %q", err, c.is, c.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "odd.ptq8")); !os.IsNotExist(err) {
		t.Error("a failed SaveFile left a file behind")
	}
	var b bytes.Buffer
	if err := unsaveable.Save(&b); !errors.Is(err, nn.ErrNotSerializable) || b.Len() != 0 {
		t.Errorf("Save of an unsaveable model: %v after writing %d bytes, want nn.ErrNotSerializable before writing", err, b.Len())
	}
}
