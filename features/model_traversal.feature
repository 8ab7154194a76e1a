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

  The models have seeded random weights and BatchNorm2D statistics.
  Calibration and held-out sets are standard normal samples drawn with
  seeds of their own, so the SQNR and the Softmax error are measured on
  samples calibration never saw; the residual Add's error is a property of
  its int8 arithmetic on the ranges it was calibrated for, and is measured
  on the calibration set itself.

  Why these numbers:
  - 30 dB SQNR of the fused Conv2D, BatchNorm2D and ReLU against FP32 on
    64 held-out samples: about 5 bits of signal. int8 keeps about 8 bits of
    a signal spread evenly over its range, and a ReLU output whose range is
    set by its largest values over 128 samples spends 2 to 3 of them on the
    tail; measured 33.7 to 39.2 dB over seed offsets 0..120.
  - Row sums within 0.00001 of 1: the Softmax runs in FP32, so a row sums
    to 1 up to float32 rounding (measured at most 0.00000004).
  - Probabilities move by at most 0.5 times the largest error of their
    row's int8 logits: a probability's slopes with respect to the logits sum
    to at most one half, so a Softmax run in FP32 on the dequantized logits
    can move it by no more, whatever the model, the data or the seed (plus
    1e-6 for float32 rounding). A fixed bound cannot be promised: the worst
    element over 64 held-out samples was 0.035 over seed offsets 0..120
    (median 0.005) but 0.054 at offset 31337. A Softmax run on int8 codes
    would move probabilities by its own rounding, unrelated to the logits.
  - 0.5 output steps for the residual Add: rounding the exact sum once to
    the output grid errs by at most half a step (measured 0.47 to 0.5);
    rounding each input to the output grid before adding can err by a whole
    step, and a wrong scale by more.

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

    Scenario: A BatchNorm2D that does not follow a Conv2D gets the role fp32
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

    Scenario: The example residual network: the Add runs in int8
      Given the example residual network for 3x12x12 images with 5 classes
      When the model is traversed for quantization
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

  @R-traversal-2
  Rule: BatchNorm2D folds into the Conv2D before it and ReLU fuses into its output

    Scenario: Conv2D, BatchNorm2D and ReLU run as one int8 layer
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
      Then nodes bn1 and relu1 carry the int8 output of "conv1" unchanged

    Scenario: The fused int8 layer stays close to the FP32 Conv2D, BatchNorm2D and ReLU
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
      Then on the held-out set the output of "conv1" matches the FP32 output of "relu1" with an SQNR of at least 30 dB

    Scenario: A BatchNorm2D that does not follow a Conv2D runs in FP32 between a dequantize and a quantize step
      Given a model for 1x8x8 inputs with the layers:
        | name  | layer                     |
        | conv1 | Conv2D 1->4 3x3 padding 1 |
        | relu1 | ReLU                      |
        | bn1   | BatchNorm2D               |
        | conv2 | Conv2D 4->4 3x3 padding 1 |
        | flat  | Flatten                   |
        | fc    | Linear 256->3             |
      When the model is traversed for quantization
      Then the plan has exactly these boundaries:
        | from  | to     | step       |
        | input | conv1  | quantize   |
        | relu1 | bn1    | dequantize |
        | bn1   | conv2  | quantize   |
        | fc    | output | dequantize |

  @R-traversal-3
  Rule: A Softmax at the end stays FP32 behind a dequantize step

    Background:
      Given a model for 1x8x8 inputs with the layers Conv2D 1->4 3x3 padding 1, ReLU, Flatten, Linear 256->5, Softmax
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples

    Scenario: The classifier's int8 logits are dequantized before the Softmax
      When the model is calibrated and converted to int8
      Then the plan has exactly these boundaries:
        | from     | to       | step       |
        | input    | conv2d1  | quantize   |
        | linear1  | softmax1 | dequantize |

    Scenario: The FP32 Softmax gives rows that sum to 1
      When the model is calibrated and converted to int8
      Then every row of the quantized model's output on the held-out set sums to 1 within 0.00001

    Scenario: The probabilities move no more than the Softmax's slopes allow
      When the model is calibrated and converted to int8
      Then on the held-out set every probability moves by at most 0.5 times the largest error of its row's int8 logits

  @R-traversal-3
  Rule: A residual Add runs in int8, its two inputs brought to one output scale

    Background:
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 128 standard normal samples in batches of 32

    Scenario: Both inputs of the Add arrive in int8, with no quantize step between
      When the model is calibrated and converted to int8
      Then both inputs of "block_add" arrive in int8

    Scenario: The int8 Add is within half an output step of the sum of its inputs
      When the model is calibrated and converted to int8
      Then on the calibration set the int8 output of "block_add" is within 0.5 output steps of the sum of its inputs, clamped to its output range, at every element

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
      Then the printed plan has a header and then one row per node, in model order, reading:
        | node    | kind        | role             | output | inputs           |
        | conv1   | Conv2D      | int8             | int8   | input (quantize) |
        | bn1     | BatchNorm2D | fused            | int8   | conv1            |
        | relu1   | ReLU        | fused            | int8   | bn1              |
        | pool1   | MaxPool2D   | int8-transparent | int8   | relu1            |
        | flat    | Flatten     | int8-transparent | int8   | pool1            |
        | fc      | Linear      | int8             | int8   | flat             |
        | softmax | Softmax     | fp32             | fp32   | fc (dequantize)  |
