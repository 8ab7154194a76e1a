@fast @spec-traversal
Feature: Traversal decides what quantization does with every layer
  Before calibrating, the quantizer walks the model in order and gives every
  node one role, with a reason a reader can check:

    int8              the layer runs an int8 kernel: Conv2D, Linear, a residual Add
    fused             the layer is folded into the int8 layer before it: a
                      BatchNorm2D into a Conv2D's weights and bias, a ReLU into
                      the clamp of a Conv2D's or Linear's int8 output
    int8-transparent  the layer works on int8 data as it is: ReLU, pooling, Flatten
    fp32              the layer stays in floating point: Softmax, a BatchNorm2D
                      that cannot be folded, a layer the user keeps in FP32

  It places a quantize step where FP32 data enters an int8 layer and a
  dequantize step where int8 data leaves for an FP32 layer or for the model
  output. The example residual network has the nodes stem_conv, stem_bn,
  stem_relu, block_conv1, block_bn1, block_relu1, block_conv2, block_bn2,
  block_add (which adds block_bn2 and stem_relu), block_relu2, pool, flatten
  and fc.

  @R-traversal-1
  Rule: Every node gets a role and a reason

    Scenario: A convolutional classifier ending in Softmax
      Given a model for 1x8x8 inputs with the layers:
        | name    | layer                     |
        | conv1   | Conv2D 1->4 3x3 padding 1 |
        | bn1     | BatchNorm2D               |
        | relu1   | ReLU                      |
        | pool1   | MaxPool2D 2x2             |
        | conv2   | Conv2D 4->8 3x3 padding 1 |
        | relu2   | ReLU                      |
        | gap     | GlobalAvgPool             |
        | fc      | Linear 8->3               |
        | softmax | Softmax                   |
      When the model is traversed for quantization
      Then the plan gives these roles:
        | node    | role             | reason                                    |
        | conv1   | int8             | Conv2D has an int8 kernel                 |
        | bn1     | fused            | folded into the weights and bias of conv1 |
        | relu1   | fused            | fused into conv1                          |
        | pool1   | int8-transparent | max commutes with monotone quantization   |
        | conv2   | int8             | Conv2D has an int8 kernel                 |
        | relu2   | fused            | fused into conv2                          |
        | gap     | int8-transparent | averages int8 codes                       |
        | fc      | int8             | Linear has an int8 kernel                 |
        | softmax | fp32             | Softmax stays FP32                        |

    Scenario: A BatchNorm2D that does not follow a Conv2D stays FP32
      Given a model for 1x8x8 inputs with the layers:
        | name  | layer                     |
        | conv1 | Conv2D 1->4 3x3 padding 1 |
        | relu1 | ReLU                      |
        | bn1   | BatchNorm2D               |
        | conv2 | Conv2D 4->4 3x3 padding 1 |
        | flat  | Flatten                   |
        | fc    | Linear 256->3             |
      When the model is traversed for quantization
      Then the plan gives these roles:
        | node  | role             | reason                    |
        | conv1 | int8             | Conv2D has an int8 kernel |
        | relu1 | fused            | fused into conv1          |
        | bn1   | fp32             | cannot be folded          |
        | conv2 | int8             | Conv2D has an int8 kernel |
        | flat  | int8-transparent | reshapes int8 data        |
        | fc    | int8             | Linear has an int8 kernel |
      And the plan has exactly these boundaries:
        | from  | to     | step       |
        | input | conv1  | quantize   |
        | relu1 | bn1    | dequantize |
        | bn1   | conv2  | quantize   |
        | fc    | output | dequantize |

  @R-traversal-2
  Rule: BatchNorm2D folds into the Conv2D before it and ReLU fuses into its output

    Scenario: Conv2D, BatchNorm2D and ReLU become one int8 layer
      Given a model for 3x8x8 inputs with the layers:
        | name  | layer                     |
        | conv1 | Conv2D 3->8 3x3 padding 1 |
        | bn1   | BatchNorm2D               |
        | relu1 | ReLU                      |
        | flat  | Flatten                   |
        | fc    | Linear 512->4             |
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      When the model is calibrated and converted to int8
      Then on the held-out set the output of "conv1" matches the FP32 output of "relu1" with an SQNR of at least 35 dB
      And nodes bn1 and relu1 carry the int8 output of "conv1" unchanged

  @R-traversal-3
  Rule: A Softmax at the end stays FP32 behind a dequantize step

    # 0.03 of a probability: the largest error over 64 held-out samples is
    # 0.010 to 0.027 over seed offsets 0..20, one logit step of the int8
    # output moving a probability by at most a quarter of that step.
    Scenario: The classifier's int8 logits are dequantized before the Softmax
      Given a model for 1x8x8 inputs with the layers Conv2D 1->4 3x3 padding 1, ReLU, Flatten, Linear 256->5, Softmax
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      When the model is calibrated and converted to int8
      Then the plan has exactly these boundaries:
        | from     | to       | step       |
        | input    | conv2d1  | quantize   |
        | linear1  | softmax1 | dequantize |
      And every row of the quantized model's output on the held-out set sums to 1 within 0.00001
      And the quantized model's output on the held-out set is within 0.03 of FP32 at every element

  @R-traversal-3
  Rule: A residual Add runs in int8, its two inputs brought to one output scale

    Scenario: The skip connection of the example residual network
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 128 standard normal samples in batches of 32
      When the model is calibrated and converted to int8
      Then the plan gives these roles:
        | node        | role             | reason                                          |
        | stem_conv   | int8             | Conv2D has an int8 kernel                       |
        | stem_bn     | fused            | folded into the weights and bias of stem_conv   |
        | stem_relu   | fused            | fused into stem_conv                            |
        | block_conv1 | int8             | Conv2D has an int8 kernel                       |
        | block_bn1   | fused            | folded into the weights and bias of block_conv1 |
        | block_relu1 | fused            | fused into block_conv1                          |
        | block_conv2 | int8             | Conv2D has an int8 kernel                       |
        | block_bn2   | fused            | folded into the weights and bias of block_conv2 |
        | block_add   | int8             | inputs rescaled to one output scale             |
        | block_relu2 | int8-transparent | clamps at the zero point                        |
        | pool        | int8-transparent | max commutes with monotone quantization         |
        | flatten     | int8-transparent | reshapes int8 data                              |
        | fc          | int8             | Linear has an int8 kernel                       |
      And both inputs of "block_add" arrive in int8
      And on the calibration set the int8 output of "block_add" is within 0.5 output steps of the sum of its inputs, clamped to its output range, at every element

  @R-traversal-4
  Rule: Quantization keeps the model's structure

    Scenario: Names, order, edges and output shapes are those of the FP32 model
      Given the example residual network for 3x12x12 images with 5 classes and a Softmax at the end
      And a calibration set of 64 standard normal samples in batches of 32
      And a held-out set of 16 standard normal samples
      When the model is calibrated and converted to int8
      Then the quantized model keeps the FP32 model's node names, order, inputs and output shapes

  @R-traversal-1
  Rule: The plan prints as a table a reviewer can read

    Scenario: One row per node with its kind, role, output type, inputs and reason
      Given a model for 1x8x8 inputs with the layers:
        | name    | layer                     |
        | conv1   | Conv2D 1->4 3x3 padding 1 |
        | bn1     | BatchNorm2D               |
        | relu1   | ReLU                      |
        | pool1   | MaxPool2D 2x2             |
        | flat    | Flatten                   |
        | fc      | Linear 64->3              |
        | softmax | Softmax                   |
      When the model is traversed for quantization
      Then the plan prints as:
        """
        NODE     KIND         ROLE              OUT   INPUTS            REASON
        conv1    Conv2D       int8              int8  input (quantize)  Conv2D has an int8 kernel (per-channel weights)
        bn1      BatchNorm2D  fused             int8  conv1             folded into the weights and bias of conv1
        relu1    ReLU         fused             int8  bn1               fused into conv1 as a clamp of its int8 output
        pool1    MaxPool2D    int8-transparent  int8  relu1             MaxPool2D max commutes with monotone quantization
        flat     Flatten      int8-transparent  int8  pool1             Flatten reshapes int8 data
        fc       Linear       int8              int8  flat              Linear has an int8 kernel (per-channel weights)
        softmax  Softmax      fp32              fp32  fc (dequantize)   Softmax stays FP32: its output is a probability, not an activation worth int8
        """
