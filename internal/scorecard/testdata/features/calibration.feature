@fast @spec-calibration
Feature: Calibration collects activation statistics and turns them into qparams
  Calibration runs the FP32 model on sample data and records, for every
  activation a quantized layer reads or writes, how many batches and samples
  it saw and the range of its values. With the MinMax method (the default)
  the qparams follow from that range alone, as PyTorch's MinMaxObserver
  computes them for int8 affine activations over the codes [-128, 127]:

    the range is first widened to include 0: lo = min(min, 0), hi = max(max, 0)
    scale      = (hi - lo) / 255
    zero point = -128 - round(lo / scale), rounding halves to even

  Weights are int8 symmetric per output channel over [-127, 127]:
  scale = max |w| / 127 and zero point 0.

  Calibration has converged when no activation scale has moved by more than
  a tolerance, relative to its value, for a number of consecutive batches;
  it may then stop.

  @R-calibration-1
  Rule: Calibration records what it saw for every observed tensor

    Scenario: Batches, samples and ranges are counted
      Given a one-layer model "fc" mapping 2 inputs to 2 outputs with the weights and biases:
        | weights | bias |
        | 1, 0    | 0    |
        | 0, 2    | 1    |
      And a calibration set of 100 samples whose features all equal one value, running evenly from -2 to 6, in batches of 25
      When the model is calibrated
      Then calibration saw 4 batches and 100 samples
      And these tensors were observed over these ranges:
        | tensor | min | max |
        | input  | -2  | 6   |
        | fc     | -3  | 13  |

  @R-calibration-2
  Rule: MinMax qparams can be checked by hand

    Scenario Outline: Inputs spanning [<low>, <high>] give scale <scale> and zero point <zero point>
      Given a one-layer model "fc" mapping 2 inputs to 2 outputs with the weights and biases:
        | weights | bias |
        | 1, 0    | 0    |
        | 0, 2    | 1    |
      And a calibration set of 64 samples whose features all equal one value, running evenly from <low> to <high>, in batches of 16
      When the model is calibrated
      Then tensor "input" gets scale <scale> to 6 significant digits and zero point <zero point>

      Examples: the range [lo, hi] and the arithmetic above
        | low | high | scale      | zero point | worked out                                   |
        | -2  | 6    | 0.0313725  | -64        | 8/255;  -128 - round(-63.75)  = -128 + 64    |
        | 0   | 2.55 | 0.01       | -128       | 2.55/255; -128 - round(0)                    |
        | -3  | 1    | 0.0156863  | 63         | 4/255;  -128 - round(-191.25) = -128 + 191   |
        | -1  | -0.5 | 0.00392157 | 127        | widened to [-1, 0]: 1/255; -128 + 255        |
        | 0.5 | 1    | 0.00392157 | -128       | widened to [0, 1]: 1/255; -128 - round(0)    |

    Scenario: The output of a layer and its weights by hand
      Given a one-layer model "fc" mapping 2 inputs to 2 outputs with the weights and biases:
        | weights | bias |
        | 1, 0    | 0    |
        | 0, 2    | 1    |
      And a calibration set of 100 samples whose features all equal one value, running evenly from -2 to 6, in batches of 25
      When the model is calibrated and converted to int8
      Then tensor "fc" gets scale 0.0627451 to 6 significant digits and zero point -80
      And the weights of "fc" get the scales 0.00787402 and 0.0157480 to 6 significant digits, with zero point 0
      And the int8 weights of "fc" are the codes:
        | 127, 0 |
        | 0, 127 |

  @R-calibration-2
  Rule: MinMax gives the same qparams however the samples are batched

    Scenario Outline: Calibrating in batches of <size>
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 64 standard normal samples in batches of <size>
      When the model is calibrated
      Then calibration saw <batches> batches and 64 samples
      And every observed tensor gets exactly the scale and zero point that one batch of all 64 samples gives

      Examples:
        | size | batches |
        | 1    | 64      |
        | 7    | 10      |
        | 64   | 1       |

  @R-calibration-3
  Rule: Calibration converges, and can stop early or after a set number of batches

    Scenario: Scales settle within 20 batches
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 1024 standard normal samples in batches of 32
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      When the model is calibrated
      Then calibration converged within 20 batches
      And calibration went through all 32 batches

    Scenario: Early stop ends calibration at the batch where it converged
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 1024 standard normal samples in batches of 32
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      And calibration stops early once converged
      When the model is calibrated
      Then calibration stopped right after the batch at which it converged
      And calibration saw at most 20 of the 32 batches

    Scenario: A batch limit caps calibration
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 1024 standard normal samples in batches of 32
      And calibration is limited to 5 batches
      When the model is calibrated
      Then calibration saw 5 batches and 160 samples

  @R-calibration-4
  Rule: Calibration keeps a history of every batch

    Scenario: One history entry per batch, with the scale change it caused
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 512 standard normal samples in batches of 32
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      When the model is calibrated
      Then the calibration history holds 16 entries, the samples seen so far growing by 32 per batch
      And each history entry records the largest relative change of any scale in its batch, 0 for the first
      And the history marks calibration converged from the batch at which it converged onwards, and only there
