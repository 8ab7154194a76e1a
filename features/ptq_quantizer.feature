@fast @spec-quantizer
Feature: One call quantizes a model and reports what it did
  The quantizer takes an FP32 model, calibration data, a configuration and,
  optionally, a held-out set, and in one call traverses the model,
  calibrates it, converts it to int8 and measures the result against FP32.
  Its report lists every layer with its role, its int8 weights (data type,
  scheme, granularity and a summary of the per-channel scales), the qparams
  of its int8 output and its SQNR against FP32, how calibration went and
  how long each phase took. The model handed to the quantizer is never
  modified.

  The example residual network here ends in a Softmax; its nodes are
  stem_conv, stem_bn, stem_relu, block_conv1, block_bn1, block_relu1,
  block_conv2, block_bn2, block_add (block_bn2 + stem_relu), block_relu2,
  pool, flatten, fc and softmax. Its weights are seeded and its BatchNorm
  statistics those of its own inputs. Samples are standard normal. The
  held-out set is drawn apart from the calibration set and never
  calibrated on: the quantizer measures the report's SQNR figures on it,
  and says so. Without a held-out set it measures them on the first
  calibration samples, the data its ranges were fitted to, and says that.

  Thresholds: each is the worst value over seed offsets 0 to 60
  (-ptqspec.seed) less a margin of about 1.5 dB, rounded down; the
  acceptance run checks offsets 1 to 20.
  - 26 dB of output SQNR (signal-to-quantization-noise ratio, 10·log10 of
    signal energy over error energy) is over 4 bits of signal at 6 dB a
    bit: the error's RMS is 5% of the output's. int8 carries 8 bits;
    folding BatchNorm, the residual Add, requantizing between layers and
    held-out values beyond the calibrated range cost the rest. On the 64
    held-out samples the output SQNR ran from 28.1 to 40.4 dB (median
    36.4), and from 27.9 to 41.1 dB with layers kept in FP32.
  - 30 dB (5 bits) on the 256 calibration samples themselves, which ran
    from 35.2 to 40.0 dB: the figure is optimistic, as the report says.
  - 24 dB (4 bits) for every quantized layer's own output: before the
    Softmax squeezes them, the int8 logits of fc and the output of
    block_add carry more error than the probabilities; the lowest layer on
    the held-out set ran from 25.9 to 32.4 dB.
  - 0.00001 for the Softmax rows: the Softmax runs in FP32 on dequantized
    logits, so its rows sum to 1 up to float32 rounding; they measured
    2e-8 to 5e-8 off, and 0.00001 is a hundred times float32's 1.2e-7.
  - 0.01 dB between the report and a measurement made outside it: both sum
    the same squares, at most in another order, which moves the result by
    far less than that (it measured 0).

  Background:
    Given the example residual network for 3x12x12 images with 5 classes and a Softmax at the end
    And a calibration set of 256 standard normal samples in batches of 32
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

    Scenario: The Softmax kept in FP32 still gives probabilities
      When the model is quantized statically
      Then every row of the quantized model's output on the held-out set sums to 1 within 0.00001

    Scenario: The int8 model stays close to FP32 on the held-out set
      When the model is quantized statically
      Then on the held-out set the quantized output has an SQNR of at least 26 dB against FP32

  @R-quantizer-2
  Rule: The report gives every quantized layer's qparams and accuracy

    Scenario: Every layer with int8 weights reports its per-channel scales
      When the model is quantized statically
      Then every layer with int8 weights reports one weight scale per output channel and the smallest, mean and largest of those scales

    Scenario: Every int8 output reports its qparams and the range they cover
      When the model is quantized statically
      Then every int8 output in the report has a positive scale, a zero point within [-128, 127] and a range that contains 0

    Scenario: Every quantized layer reports its SQNR on the held-out set
      When the model is quantized statically
      Then every quantized layer in the report has an SQNR of at least 24 dB, measured on the 64 held-out samples

    Scenario: The report's output SQNR is measured on the held-out set
      When the model is quantized statically
      Then the report gives an output SQNR of at least 26 dB, measured on the 64 held-out samples
      And the report's output SQNR is within 0.01 dB of the quantized output's SQNR against FP32 on the held-out set

    Scenario: Without a held-out set the report says its SQNR is measured on calibration samples
      When the model is quantized statically without its held-out set
      Then the report gives an output SQNR of at least 30 dB, measured on the 256 calibration samples
      And a note of the report says its SQNR was measured on the calibration samples

  @R-quantizer-3
  Rule: The report records how calibration went and how long each phase took

    Scenario: Calibration batches and samples are recorded
      When the model is quantized statically
      Then the report records 8 calibration batches and 256 samples

    Scenario: The time of every phase is recorded
      When the model is quantized statically
      Then the report records a positive duration for traversal, calibration, conversion and evaluation

  @R-quantizer-4
  Rule: The model handed to the quantizer is not modified

    Scenario: Parameters, BatchNorm statistics and outputs are unchanged
      When the model is quantized statically
      Then the FP32 model's parameters, buffers and outputs are unchanged

  @R-quantizer-4
  Rule: Overrides keep the layers they select in FP32

    Scenario Outline: Keeping layers by <selector> keeps exactly those layers
      Given an override keeps the layers selected by <selector> "<value>" in FP32
      When the model is quantized statically
      Then the report shows the layers <kept> in FP32 with a reason naming the override
      And every other Conv2D and Linear layer in the report is int8

      Examples:
        | selector | value       | kept                      |
        | name     | block_conv1 | block_conv1               |
        | pattern  | block_conv* | block_conv1, block_conv2  |
        | kind     | Linear      | fc                        |

    Scenario Outline: The model with layers kept by <selector> stays close to FP32
      Given an override keeps the layers selected by <selector> "<value>" in FP32
      When the model is quantized statically
      Then on the held-out set the quantized output has an SQNR of at least <sqnr> dB against FP32

      Examples:
        | selector | value       | sqnr |
        | name     | block_conv1 | 26   |
        | pattern  | block_conv* | 26   |
        | kind     | Linear      | 26   |
