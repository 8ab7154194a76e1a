package tensor_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestShapeSentinelsWrapErrShape checks that every package's shape
// sentinel matches tensor.ErrShape, keeps its own identity and message,
// and that errors wrapping it do too.
func TestShapeSentinelsWrapErrShape(t *testing.T) {
	cases := []struct {
		name string
		err  error
		msg  string
	}{
		{"tensor.ShapeError", &tensor.ShapeError{Op: "copy", Got: []int{2}, Want: []int{3}}, "tensor: copy: shape [2] does not match [3]"},
		{"nn.ErrLayerShape", nn.ErrLayerShape, "shape does not fit the layer"},
		{"nn.ErrInputShape", nn.ErrInputShape, "input shape mismatch"},
		{"nn.ErrParamShape", nn.ErrParamShape, "parameter does not match the architecture"},
		{"quant.ErrShape", quant.ErrShape, "quant: shape mismatch"},
		{"onnx.ErrShape", onnx.ErrShape, "shape mismatch"},
		{"ptq.ErrShape", ptq.ErrShape, "shape mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, c.err, tensor.ErrShape)
			assert.EqualError(t, c.err, c.msg)
			wrapped := fmt.Errorf("node %q: %w", "fc1", c.err)
			assert.ErrorIs(t, wrapped, tensor.ErrShape)
			assert.ErrorIs(t, wrapped, c.err)
		})
	}
	assert.False(t, errors.Is(nn.ErrLayerShape, nn.ErrInputShape), "sentinels stay distinct")
}

// A layer's shape error matches both its package's sentinel and
// tensor.ErrShape.
func TestLayerShapeErrorMatchesErrShape(t *testing.T) {
	g, err := nn.Sequential([]int{3}, nn.NewLinear(3, 2, nil))
	assert.NoError(t, err)
	_, err = g.Forward(tensor.New(1, 4), nn.Eval)
	assert.ErrorIs(t, err, nn.ErrInputShape)
	assert.ErrorIs(t, err, tensor.ErrShape)
	_, err = nn.NewLinear(3, 2, nil).Forward([]*tensor.Tensor{tensor.New(1, 4)}, nn.Eval)
	assert.ErrorIs(t, err, nn.ErrLayerShape)
	assert.ErrorIs(t, err, tensor.ErrShape)
}
