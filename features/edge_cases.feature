@fast @spec-edge
Feature: Edge cases are handled, or refused with a message that says what is wrong
  Quantization never invents numbers it did not measure: without calibration
  data there is no scale, and a made-up scale of 1 would silently ruin the
  model. Data that cannot be used is refused with an error naming what was
  wrong and where: the batch, the sample, the layer, both shapes, the
  override. Small and degenerate models still quantize.

  Thresholds, each measured over seed offsets 0 to 20 (-ptqspec.seed):
  - 25 dB of output SQNR (about 4 bits, at 6 dB a bit) for a model
    calibrated on one batch of 256 samples, measured on 64 held-out samples
    it never saw: it ran from 28.9 to 37.7 dB (median 35.8). One batch is
    enough; a few samples are not: the same convolution with 2 outputs,
    calibrated on one batch of 16 samples, gave 11.9 to 35.9 dB on
    held-out samples (median 18.6), because held-out values beyond the
    range 16 samples span saturate. The number of samples, not of batches,
    sets the range calibration sees.
  - The one-neuron model y = wx + b is judged in steps of its output grid,
    not in dB: its SQNR over 64 held-out samples swings with the seed (22
    to 40 dB) because one sample beyond the calibrated range saturates the
    input. Inside that range the error is at most 1 output step: half an
    input step times |w| (the output range is at least |w| times the input
    range, so that is at most half an output step) plus half an output
    step from rounding the output. It measured 0.49 to 0.99 steps.

  @R-edge-1
  Rule: Calibration needs data

    Scenario: An empty calibration set is refused
      Given a model for 4 inputs with the layers Linear 4->3
      And an empty calibration set
      When the model is quantized statically
      Then it is refused because there is no calibration data
      And no quantized model is returned

    Scenario: Converting a model before any calibration batch is refused, naming the layer
      Given a model for 3x8x8 inputs with the layers:
        | name  | layer                     |
        | conv1 | Conv2D 3->4 3x3 padding 1 |
        | flat  | Flatten                   |
        | fc    | Linear 256->2             |
      When the model is converted to int8 before any calibration batch
      Then it is refused because the model is not calibrated
      And the error message names "conv1"

    Scenario: A single batch of 16 samples is enough to calibrate
      Given a model for 3x8x8 inputs with the layers Conv2D 3->4 3x3 padding 1, ReLU, Flatten, Linear 256->2
      And a calibration set of 16 standard normal samples in batches of 16
      When the model is quantized statically
      Then the report records 1 calibration batch and 16 samples

    Scenario: A model calibrated on a single batch stays close to FP32 on held-out samples
      Given a model for 3x8x8 inputs with the layers Conv2D 3->4 3x3 padding 1, ReLU, Flatten, Linear 256->10
      And a calibration set of 256 standard normal samples in batches of 256
      And a held-out set of 64 standard normal samples
      When the model is quantized statically
      Then the report gives an output SQNR of at least 25 dB, measured on the 64 held-out samples

    Scenario: Calibration data that is all zeros still gives every tensor a valid scale
      Given a model for 4 inputs with the layers Linear 4->3
      And a calibration set of 32 all-zero samples in batches of 8
      When the model is calibrated
      Then every observed tensor gets a positive, finite scale

  @R-edge-2
  Rule: Data that cannot be used is refused, naming where it is wrong

    Scenario Outline: NaN in sample <sample> of calibration batch <batch>
      Given a model for 3x8x8 inputs with the layers:
        | name  | layer                     |
        | conv1 | Conv2D 3->4 3x3 padding 1 |
        | flat  | Flatten                   |
        | fc    | Linear 256->2             |
      And a calibration set of 4 batches of 8 standard normal samples where sample <sample> of batch <batch> holds NaN
      When the model is quantized statically
      Then it is refused because the data holds NaN or infinity
      And the error message names "calibration batch <batch>", "sample <sample>" and "conv1"

      Examples:
        | batch | sample |
        | 0     | 0      |
        | 2     | 5      |
        | 3     | 7      |

    Scenario: A layer whose output overflows to infinity is refused, naming it
      Given a one-layer model "huge" mapping 2 inputs to 1 outputs with the weights and biases:
        | weights      | bias |
        | 3e38, 3e38   | 0    |
      And a calibration set of 8 samples whose features all equal one value, running evenly from 1 to 2, in batches of 4
      When the model is quantized statically
      Then it is refused because the data holds NaN or infinity
      And the error message names "calibration batch 0" and "huge"

    Scenario: Calibration data of the wrong shape is refused, naming both shapes
      Given a model for 3x8x8 inputs with the layers Conv2D 3->4 3x3 padding 1, Flatten, Linear 256->2
      And a calibration set of 8 standard normal samples of shape 1x28x28 in batches of 8
      When the model is quantized statically
      Then it is refused because the data does not fit the model
      And the error message names the data shape 8x1x28x28 and the model input shape 3x8x8

  @R-edge-3
  Rule: A configuration that names what is not there is refused

    Scenario: An override that matches no layer is refused, naming it
      Given a model for 3x8x8 inputs with the layers Conv2D 3->4 3x3 padding 1, Flatten, Linear 256->2
      And a calibration set of 16 standard normal samples in batches of 8
      And an override keeps the layers selected by name "conv9" in FP32
      When the model is quantized statically
      Then it is refused because an override matches no layer
      And the error message names "conv9"

  @R-edge-4
  Rule: Small and degenerate models still quantize

    Scenario: A model of one neuron
      Given a model for 1 inputs with the layers Linear 1->1
      And a calibration set of 256 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      When the model is quantized statically
      Then on the held-out samples inside the calibrated input range the quantized output is within 1 output step of FP32

    Scenario: A model with no quantizable layer is returned unchanged
      Given a model for 2x3x3 inputs with the layers MaxPool2D 2x2 stride 1, Flatten, Softmax
      And a calibration set of 16 standard normal samples in batches of 8
      And a held-out set of 16 standard normal samples
      When the model is quantized statically
      Then the report says the model has no quantizable layer and was returned unchanged
      And on the held-out set the quantized model's outputs are bit-identical to FP32
