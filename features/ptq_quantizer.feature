@fast @spec-quantizer
Feature: One call quantizes a model and reports what it did
  The quantizer takes an FP32 model, calibration data and a configuration,
  and in one call traverses the model, calibrates it, converts it to int8
  and measures the result against FP32. Its report lists every layer with
  its role, its int8 weights (data type, scheme, granularity and a summary
  of the per-channel scales), the qparams of its int8 output and its SQNR
  against FP32, how calibration went and how long each phase took. The
  model handed to the quantizer is never modified.

  The example residual network here ends in a Softmax; its nodes are
  stem_conv, stem_bn, stem_relu, block_conv1, block_bn1, block_relu1,
  block_conv2, block_bn2, block_add (block_bn2 + stem_relu), block_relu2,
  pool, flatten, fc and softmax. Samples are standard normal; the held-out
  set is never calibrated on.

  Background:
    Given the example residual network for 3x12x12 images with 5 classes and a Softmax at the end
    And a calibration set of 128 standard normal samples in batches of 32
    And a held-out set of 64 standard normal samples

  @R-quantizer-1
  Rule: Every quantizable layer is quantized and every other layer is kept

    Scenario: The report lists every layer with its role and its weights
      When the model is quantized statically
      Then the report lists these layers:
        | layer       | kind        | role             | weights                    |
        | stem_conv   | Conv2D      | int8             | int8 symmetric per-channel |
        | stem_bn     | BatchNorm2D | fused            | -                          |
        | stem_relu   | ReLU        | fused            | -                          |
        | block_conv1 | Conv2D      | int8             | int8 symmetric per-channel |
        | block_bn1   | BatchNorm2D | fused            | -                          |
        | block_relu1 | ReLU        | fused            | -                          |
        | block_conv2 | Conv2D      | int8             | int8 symmetric per-channel |
        | block_bn2   | BatchNorm2D | fused            | -                          |
        | block_add   | Add         | int8             | -                          |
        | block_relu2 | ReLU        | int8-transparent | -                          |
        | pool        | MaxPool2D   | int8-transparent | -                          |
        | flatten     | Flatten     | int8-transparent | -                          |
        | fc          | Linear      | int8             | int8 symmetric per-channel |
        | softmax     | Softmax     | fp32             | -                          |
      And every row of the quantized model's output on the held-out set sums to 1 within 0.00001
      And on the held-out set the quantized output has an SQNR of at least 30 dB against FP32

  @R-quantizer-2
  Rule: The report gives every quantized layer's qparams and accuracy

    Scenario: Weight scales, output qparams and SQNR per layer
      When the model is quantized statically
      Then every layer with int8 weights reports one weight scale per output channel and the smallest, mean and largest of those scales
      And every int8 output in the report has a positive scale, a zero point within [-128, 127] and a range that contains 0
      And every quantized layer in the report has an SQNR of at least 30 dB
      And the report gives an output SQNR of at least 30 dB

    @R-quantizer-3
    Scenario: Calibration and the time of every phase are recorded
      When the model is quantized statically
      Then the report records 4 calibration batches and 128 samples
      And the report records a positive duration for traversal, calibration, conversion and evaluation

  @R-quantizer-4
  Rule: The model handed to the quantizer is not modified

    Scenario: Parameters, BatchNorm statistics and outputs are unchanged
      When the model is quantized statically
      Then the FP32 model's parameters, buffers and outputs are unchanged

  @R-quantizer-4
  Rule: Overrides keep the layers they select in FP32

    Scenario Outline: Keeping layers by <selector>
      Given an override keeps the layers selected by <selector> "<value>" in FP32
      When the model is quantized statically
      Then the report shows the layers <kept> in FP32 with a reason naming the override
      And every other Conv2D and Linear layer in the report is int8
      And on the held-out set the quantized output has an SQNR of at least <sqnr> dB against FP32

      Examples:
        | selector | value       | kept                      | sqnr |
        | name     | block_conv1 | block_conv1               | 30   |
        | pattern  | block_conv* | block_conv1, block_conv2  | 30   |
        | kind     | Linear      | fc                        | 30   |
