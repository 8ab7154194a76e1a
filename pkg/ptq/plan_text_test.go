package ptq

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlanText pins the exact text of Plan.String: the header, one row per
// node in model order, columns aligned by two blanks, quantize and
// dequantize steps marked on the input they apply to, two inputs joined by
// ", ". The features check what the table says about each node; the
// layout a reviewer reads is checked here.
func TestPlanText(t *testing.T) {
	cases := []struct {
		name string
		plan func(t *testing.T) *Plan
		want string
	}{
		{
			name: "static plan of a classifier ending in Softmax",
			plan: func(t *testing.T) *Plan { return mustTraverse(t, convBNReLUGraph(t), Config{}) },
			want: "" +
				"NODE     KIND         ROLE              OUT   INPUTS            REASON\n" +
				"conv1    Conv2D       int8              int8  input (quantize)  Conv2D has an int8 kernel (per-channel weights)\n" +
				"bn1      BatchNorm2D  fused             int8  conv1             folded into the weights and bias of conv1\n" +
				"relu1    ReLU         fused             int8  bn1               fused into conv1 as a clamp of its int8 output\n" +
				"pool1    MaxPool2D    int8-transparent  int8  relu1             MaxPool2D max commutes with monotone quantization\n" +
				"flat     Flatten      int8-transparent  int8  pool1             Flatten reshapes int8 data\n" +
				"fc       Linear       int8              int8  flat              Linear has an int8 kernel (per-channel weights)\n" +
				"softmax  Softmax      fp32              fp32  fc (dequantize)   Softmax stays FP32: its output is a probability, not an activation worth int8\n",
		},
		{
			name: "a Linear layer kept in FP32 by name",
			plan: func(t *testing.T) *Plan {
				return mustTraverse(t, convBNReLUGraph(t), withOverrides(Override{Name: "fc", KeepFP32: true}))
			},
			want: "" +
				"NODE     KIND         ROLE              OUT   INPUTS             REASON\n" +
				"conv1    Conv2D       int8              int8  input (quantize)   Conv2D has an int8 kernel (per-channel weights)\n" +
				"bn1      BatchNorm2D  fused             int8  conv1              folded into the weights and bias of conv1\n" +
				"relu1    ReLU         fused             int8  bn1                fused into conv1 as a clamp of its int8 output\n" +
				"pool1    MaxPool2D    int8-transparent  int8  relu1              MaxPool2D max commutes with monotone quantization\n" +
				"flat     Flatten      int8-transparent  int8  pool1              Flatten reshapes int8 data\n" +
				"fc       Linear       fp32              fp32  flat (dequantize)  kept FP32 by override name \"fc\"\n" +
				"softmax  Softmax      fp32              fp32  fc                 Softmax stays FP32: its output is a probability, not an activation worth int8\n",
		},
		{
			name: "residual Add with two int8 inputs",
			plan: func(t *testing.T) *Plan { return mustTraverse(t, residual(t), Config{}) },
			want: "" +
				"NODE         KIND         ROLE              OUT   INPUTS                REASON\n" +
				"stem_conv    Conv2D       int8              int8  input (quantize)      Conv2D has an int8 kernel (per-channel weights)\n" +
				"stem_bn      BatchNorm2D  fused             int8  stem_conv             folded into the weights and bias of stem_conv\n" +
				"stem_relu    ReLU         fused             int8  stem_bn               fused into stem_conv as a clamp of its int8 output\n" +
				"block_conv1  Conv2D       int8              int8  stem_relu             Conv2D has an int8 kernel (per-channel weights)\n" +
				"block_bn1    BatchNorm2D  fused             int8  block_conv1           folded into the weights and bias of block_conv1\n" +
				"block_relu1  ReLU         fused             int8  block_bn1             fused into block_conv1 as a clamp of its int8 output\n" +
				"block_conv2  Conv2D       int8              int8  block_relu1           Conv2D has an int8 kernel (per-channel weights)\n" +
				"block_bn2    BatchNorm2D  fused             int8  block_conv2           folded into the weights and bias of block_conv2\n" +
				"block_add    Add          int8              int8  block_bn2, stem_relu  residual Add: inputs rescaled to one output scale\n" +
				"block_relu2  ReLU         int8-transparent  int8  block_add             ReLU clamps at the zero point in int8\n" +
				"pool         MaxPool2D    int8-transparent  int8  block_relu2           MaxPool2D max commutes with monotone quantization\n" +
				"flatten      Flatten      int8-transparent  int8  pool                  Flatten reshapes int8 data\n" +
				"fc           Linear       int8              int8  flatten               Linear has an int8 kernel (per-channel weights)\n",
		},
		{
			name: "dynamic plan of an MLP: no quantize or dequantize step, every output FP32",
			plan: func(t *testing.T) *Plan {
				m, _, err := QuantizeDynamic(context.Background(), mlp(t, 16), nil)
				require.NoError(t, err)
				return m.Plan()
			},
			want: "" +
				"NODE      KIND     ROLE  OUT   INPUTS    REASON\n" +
				"flatten1  Flatten  fp32  fp32  input     Flatten runs in FP32 under dynamic quantization\n" +
				"linear1   Linear   int8  fp32  flatten1  Linear: int8 weights, input quantized per call to uint8, output dequantized to FP32\n" +
				"relu1     ReLU     fp32  fp32  linear1   ReLU runs in FP32 under dynamic quantization\n" +
				"linear2   Linear   int8  fp32  relu1     Linear: int8 weights, input quantized per call to uint8, output dequantized to FP32\n",
		},
		{
			name: "nil plan",
			plan: func(*testing.T) *Plan { return nil },
			want: "",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.plan(t).String())
		})
	}
}
