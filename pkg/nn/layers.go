package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// This file holds the plumbing shared by the built-in layers: their sentinel
// errors, shape messages, parameter allocation and attribute decoding.
// The goroutines that spread a batch over the processors are in
// internal/workpool, the matrix products in gemm.go.

// Sentinel errors of the built-in layers, matched with errors.Is.
var (
	// ErrLayerShape reports inputs (or an output gradient) whose shape does
	// not fit a layer. The message names the layer kind and both shapes, as
	// in "nn: Linear: input shape [N 783] does not fit weight [10 784]".
	ErrLayerShape = tensor.NewShapeSentinel("shape does not fit the layer")
	// ErrLayerConfig reports a layer whose hyperparameters or parameter
	// tensors are invalid, for example a zero stride, a weight of the wrong
	// shape, or attributes that do not decode.
	ErrLayerConfig = errors.New("invalid layer configuration")
)

// layerError is an error of one built-in layer kind; it matches a sentinel
// with errors.Is while its message carries only the specifics.
type layerError struct {
	kind string
	msg  string
	is   error
}

func (e *layerError) Error() string        { return "nn: " + e.kind + ": " + e.msg }
func (e *layerError) Is(target error) bool { return target == e.is }
func (e *layerError) Unwrap() error        { return e.is }

// shapeErrorf returns an ErrLayerShape error for kind.
func shapeErrorf(kind, format string, args ...any) error {
	return &layerError{kind: kind, msg: fmt.Sprintf(format, args...), is: ErrLayerShape}
}

// configErrorf returns an ErrLayerConfig error for kind.
func configErrorf(kind, format string, args ...any) error {
	return &layerError{kind: kind, msg: fmt.Sprintf(format, args...), is: ErrLayerConfig}
}

// noForwardError reports a Backward that has no Train-mode Forward to
// differentiate.
func noForwardError(kind string) error {
	return fmt.Errorf("nn: %s: %w", kind, ErrNoForward)
}

// batchShape formats a per-sample shape with the batch dimension shown as N:
// [784] becomes "[N 784]".
func batchShape(s []int) string {
	var b strings.Builder
	b.WriteString("[N")
	for _, d := range s {
		fmt.Fprintf(&b, " %d", d)
	}
	b.WriteByte(']')
	return b.String()
}

// oneShape checks that OutputShape got exactly one input shape.
func oneShape(kind string, inputs [][]int) ([]int, error) {
	if len(inputs) != 1 {
		return nil, shapeErrorf(kind, "takes 1 input, got %d", len(inputs))
	}
	return inputs[0], nil
}

// oneInput checks that Forward got exactly one non-nil input of rank at
// least 1 (the batch dimension).
func oneInput(kind string, inputs []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(inputs) != 1 {
		return nil, shapeErrorf(kind, "takes 1 input, got %d", len(inputs))
	}
	x := inputs[0]
	if x == nil {
		return nil, shapeErrorf(kind, "input is a nil tensor")
	}
	if x.Dims() == 0 {
		return nil, shapeErrorf(kind, "input is a scalar; want a batch [N ...]")
	}
	return x, nil
}

// checkGradOut checks that a Backward's output gradient has the shape of the
// output of the recorded forward pass.
func checkGradOut(kind string, g *tensor.Tensor, want []int) error {
	if g == nil {
		return shapeErrorf(kind, "output gradient is a nil tensor, want shape %v", want)
	}
	if got := g.Shape(); !slices.Equal(got, want) {
		return shapeErrorf(kind, "output gradient shape %v does not fit output shape %v", got, want)
	}
	return nil
}

// newParam allocates a zero-filled parameter with a nil Grad: Backward
// allocates the gradient of a trainable one when it first needs it
// (gradOf), so that layers built for inference, or by a loader, hold
// their values only.
func newParam(name string, shape ...int) *Param {
	return &Param{Name: name, Value: tensor.New(shape...)}
}

// cloneParam deep-copies p; a nil p stays nil.
func cloneParam(p *Param) *Param {
	if p == nil {
		return nil
	}
	c := &Param{Name: p.Name}
	if p.Value != nil {
		c.Value = p.Value.Clone()
	}
	if p.Grad != nil {
		c.Grad = p.Grad.Clone()
	}
	return c
}

// checkParam checks that a parameter the layer needs is present with the
// given shape.
func checkParam(kind, what string, p *Param, shape ...int) error {
	if p == nil || p.Value == nil {
		return configErrorf(kind, "%s is nil", what)
	}
	if got := p.Value.Shape(); !slices.Equal(got, shape) {
		return configErrorf(kind, "%s has shape %v, want %v", what, got, shape)
	}
	if p.Grad != nil && !p.Grad.SameShape(p.Value) {
		return configErrorf(kind, "%s gradient has shape %v, want %v", what, p.Grad.Shape(), shape)
	}
	return nil
}

// gradOf returns p's gradient, allocating a zero one if the layer was built
// without it.
func gradOf(p *Param) []float32 {
	if p.Grad == nil {
		p.Grad = tensor.New(p.Value.Shape()...)
	}
	return p.Grad.Data()
}

// decodeAttrs unmarshals a layer's JSON attributes into v, rejecting unknown
// fields. Empty input and null leave v unchanged.
func decodeAttrs(kind string, raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configErrorf(kind, "attrs %s: %v", raw, err)
	}
	if dec.More() {
		return configErrorf(kind, "attrs %s: trailing data", raw)
	}
	return nil
}

// noAttrs is the Attrs value of layers without hyperparameters; it marshals
// to {}.
type noAttrs struct{}
