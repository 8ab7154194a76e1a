package nn

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// builtinCase is one built-in layer with an input batch it accepts.
type builtinCase struct {
	kind   string
	layer  func(rng *rand.Rand) Layer
	inputs [][]int // batch shapes of the inputs
}

// randInputs draws a batch of each of c's input shapes, uniform in [-1, 1).
func (c builtinCase) randInputs(rng *rand.Rand) []*tensor.Tensor {
	inputs := make([]*tensor.Tensor, len(c.inputs))
	for i, s := range c.inputs {
		inputs[i] = randTensorIn(rng, -1, 1, s...)
	}
	return inputs
}

// builtinCases lists every built-in layer kind (Conv2D with and without
// bias) with inputs it accepts.
func builtinCases() []builtinCase {
	noBias := func(rng *rand.Rand) Layer {
		l := NewConv2D(2, 3, 3, 2, 1, rng)
		l.Bias = nil
		return l
	}
	return []builtinCase{
		{"Linear", func(rng *rand.Rand) Layer { return NewLinear(6, 4, rng) }, [][]int{{3, 6}}},
		{"Conv2D", func(rng *rand.Rand) Layer { return NewConv2D(2, 3, 3, 1, 1, rng) }, [][]int{{3, 2, 5, 4}}},
		{"Conv2D", noBias, [][]int{{3, 2, 5, 4}}},
		{"BatchNorm2D", func(rng *rand.Rand) Layer {
			l := NewBatchNorm2D(2)
			l.Eps, l.Momentum = 1e-3, 0.25
			for _, p := range append(l.Params(), l.Buffers()...) {
				for i := range p.Value.Data() {
					p.Value.Data()[i] = float32(0.5 + rng.Float64())
				}
			}
			return l
		}, [][]int{{3, 2, 2, 3}}},
		{"ReLU", func(*rand.Rand) Layer { return NewReLU() }, [][]int{{3, 5}}},
		{"MaxPool2D", func(*rand.Rand) Layer { return NewMaxPool2D(3, 2) }, [][]int{{2, 2, 5, 5}}},
		{"AvgPool2D", func(*rand.Rand) Layer { return NewAvgPool2D(2, 1) }, [][]int{{2, 2, 3, 4}}},
		{"GlobalAvgPool", func(*rand.Rand) Layer { return NewGlobalAvgPool() }, [][]int{{2, 3, 2, 2}}},
		{"Flatten", func(*rand.Rand) Layer { return NewFlatten() }, [][]int{{2, 3, 2, 2}}},
		{"Add", func(*rand.Rand) Layer { return NewAdd() }, [][]int{{2, 3}, {2, 3}, {2, 3}}},
		{"Dropout", func(*rand.Rand) Layer { return NewDropout(0.25, 17) }, [][]int{{2, 8}}},
		{"Softmax", func(*rand.Rand) Layer { return NewSoftmax() }, [][]int{{2, 5}}},
		{"LogSoftmax", func(*rand.Rand) Layer { return NewLogSoftmax() }, [][]int{{2, 5}}},
		{"Identity", func(*rand.Rand) Layer { return NewIdentity() }, [][]int{{2, 5}}},
	}
}

func TestBuiltinKindsRegistered(t *testing.T) {
	for _, k := range []string{"Linear", "Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "AvgPool2D",
		"GlobalAvgPool", "Flatten", "Add", "Dropout", "Softmax", "LogSoftmax", "Identity"} {
		if _, ok := Lookup(k); !ok {
			t.Errorf("kind %q is not registered", k)
		}
	}
}

// paramsAndBuffers returns l's parameters, then its buffers.
func paramsAndBuffers(l Layer) []*Param {
	ps := l.Params()
	if b, ok := l.(Buffered); ok {
		ps = append(ps, b.Buffers()...)
	}
	return ps
}

// paramShapes lists "name shape" for the parameters, then the buffers.
func paramShapes(l Layer) []string {
	var out []string
	for _, p := range paramsAndBuffers(l) {
		out = append(out, p.Name+" "+tensorShape(p.Value))
	}
	return out
}

func tensorShape(t *tensor.Tensor) string {
	b, _ := json.Marshal(t.Shape())
	return string(b)
}

func TestAttrsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	for _, c := range builtinCases() {
		t.Run(c.kind, func(t *testing.T) {
			l := c.layer(rng)
			if l.Kind() != c.kind {
				t.Fatalf("Kind() = %q", l.Kind())
			}
			s, ok := l.(Serializable)
			if !ok {
				t.Fatal("not Serializable")
			}
			raw, err := json.Marshal(s.Attrs())
			if err != nil {
				t.Fatal(err)
			}
			ctor, _ := Lookup(c.kind)
			r, err := ctor(raw, tensor.MaxElements())
			if err != nil {
				t.Fatalf("constructor(%s): %v", raw, err)
			}
			if r.Kind() != c.kind {
				t.Fatalf("rebuilt kind %q", r.Kind())
			}
			raw2, _ := json.Marshal(r.(Serializable).Attrs())
			if string(raw2) != string(raw) {
				t.Fatalf("attrs %s, rebuilt %s", raw, raw2)
			}
			if got, want := paramShapes(r), paramShapes(l); !slices.Equal(got, want) {
				t.Fatalf("rebuilt params %v, want %v", got, want)
			}
			for _, p := range r.Params() {
				if p.Grad != nil {
					t.Fatalf("rebuilt param %s has a gradient before any Backward", p.Name)
				}
			}
			shapes := make([][]int, len(c.inputs))
			for i, s := range c.inputs {
				shapes[i] = s[1:]
			}
			want, err := l.OutputShape(shapes)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.OutputShape(shapes); err != nil || !slices.Equal(got, want) {
				t.Fatalf("rebuilt OutputShape = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestConstructorDefaultsAndErrors(t *testing.T) {
	ctor := func(kind string) Constructor { c, _ := Lookup(kind); return c }
	bn, err := ctor("BatchNorm2D")(json.RawMessage(`{"channels": 4}`), tensor.MaxElements())
	if err != nil {
		t.Fatal(err)
	}
	if b := bn.(*BatchNorm2D); b.Eps != 1e-5 || b.Momentum != 0.1 {
		t.Fatalf("BatchNorm2D defaults eps %g momentum %g", b.Eps, b.Momentum)
	}
	for _, kind := range []string{"ReLU", "Flatten", "Identity", "Add", "Softmax", "LogSoftmax", "GlobalAvgPool"} {
		for _, raw := range []string{"", "null", "{}"} {
			if _, err := ctor(kind)(json.RawMessage(raw), 0); err != nil {
				t.Fatalf("%s(%q): %v", kind, raw, err)
			}
		}
	}
	cases := []struct {
		name, kind, attrs, wantMsg string
	}{
		{"linear zero out", "Linear", `{"in": 3, "out": 0, "bias": true}`, "nn: Linear: in 3 and out 0 must be positive"},
		{"linear unknown field", "Linear", `{"in": 3, "out": 2, "bais": true}`, `nn: Linear: attrs {"in": 3, "out": 2, "bais": true}: json: unknown field "bais"`},
		{"linear wrong type", "Linear", `{"in": "3"}`, ""},
		{"conv zero stride", "Conv2D", `{"in_channels":1,"out_channels":2,"kernel_h":3,"kernel_w":3,"stride":0,"pad":0}`, ""},
		{"conv negative pad", "Conv2D", `{"in_channels":1,"out_channels":2,"kernel_h":3,"kernel_w":3,"stride":1,"pad":-1}`, ""},
		{"batchnorm no channels", "BatchNorm2D", `{}`, ""},
		{"batchnorm negative eps", "BatchNorm2D", `{"channels": 2, "eps": -1}`, ""},
		{"maxpool zero kernel", "MaxPool2D", `{"kernel": 0, "stride": 1}`, "nn: MaxPool2D: kernel 0 and stride 1 must be positive"},
		{"avgpool missing stride", "AvgPool2D", `{"kernel": 2}`, ""},
		{"dropout p 2", "Dropout", `{"p": 2, "seed": 1}`, "nn: Dropout: probability 2 is not in [0, 1]"},
		{"relu with attrs", "ReLU", `{"inplace": true}`, ""},
		{"trailing data", "Identity", `{} {}`, "nn: Identity: attrs {} {}: trailing data"},
		{"not an object", "Softmax", `[1]`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ctor(c.kind)(json.RawMessage(c.attrs), tensor.MaxElements())
			if !errors.Is(err, ErrLayerConfig) {
				t.Fatalf("err = %v, want ErrLayerConfig", err)
			}
			if c.wantMsg != "" && err.Error() != c.wantMsg {
				t.Fatalf("message %q, want %q", err, c.wantMsg)
			}
		})
	}
}

// TestConcurrentEvalForward runs Eval passes of every built-in layer from
// several goroutines at once (meaningful under -race): outputs must match
// a serial pass bit for bit, and the layer must be left unchanged, with no
// record of a forward pass.
func TestConcurrentEvalForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	for _, c := range builtinCases() {
		t.Run(c.kind, func(t *testing.T) {
			l := c.layer(rng)
			inputs := c.randInputs(rng)
			before := paramValues(l)
			want, err := l.Forward(inputs, Eval)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						y, err := l.Forward(inputs, Eval)
						if err != nil {
							errs <- err
							return
						}
						if !slices.Equal(y.Data(), want.Data()) {
							errs <- errors.New("concurrent Eval output differs from the serial one")
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if !slices.Equal(paramValues(l), before) {
				t.Fatal("Eval changed a parameter or buffer")
			}
			if _, err := l.Backward(want); !errors.Is(err, ErrNoForward) {
				t.Fatalf("Backward after Eval passes only: %v, want ErrNoForward", err)
			}
		})
	}
}

// paramValues concatenates the values of l's parameters, then its buffers.
func paramValues(l Layer) []float32 {
	var v []float32
	for _, p := range paramsAndBuffers(l) {
		v = append(v, p.Value.Data()...)
	}
	return v
}

// TestCloneIsDeep checks that a clone shares no storage with its original
// and carries no record of a forward pass.
func TestCloneIsDeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(95, 96))
	for _, c := range builtinCases() {
		t.Run(c.kind, func(t *testing.T) {
			l := c.layer(rng)
			inputs := c.randInputs(rng)
			y, err := l.Forward(inputs, Train)
			if err != nil {
				t.Fatal(err)
			}
			cl := l.Clone()
			if _, err := cl.Backward(y); !errors.Is(err, ErrNoForward) {
				t.Fatalf("clone Backward: %v, want ErrNoForward", err)
			}
			before := paramValues(l)
			for _, p := range paramsAndBuffers(cl) {
				p.Value.Fill(42)
				if p.Grad != nil {
					p.Grad.Fill(42)
				}
			}
			if !slices.Equal(paramValues(l), before) {
				t.Fatal("clone shares parameter storage")
			}
			for _, p := range l.Params() {
				if p.Grad == nil {
					continue
				}
				for _, v := range p.Grad.Data() {
					if v == 42 {
						t.Fatal("clone shares gradient storage")
					}
				}
			}
		})
	}
}
