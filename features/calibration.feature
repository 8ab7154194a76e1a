@spec-calibration
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

  Convergence. After each batch calibration records the largest relative
  change, |new - old| / old, of any activation scale. A batch is calm when
  that change is at most the tolerance; the first batch is never calm.
  Calibration is converged after a batch when the last batches, as many
  as the patience, were all calm (patience 3: that batch and the two
  before it). Batches are numbered from 0. A later batch that
  moves a scale by more than the tolerance loses convergence, and as many
  calm batches as the patience regain it. "Converged" in the result means
  converged at the end of calibration; early stop stops right after the
  first batch at which it converged.

  The numbers, and why:
  - Tolerance 1%, patience 3 (the library's defaults): a scale that moves
    by 1% moves the int8 step by 1%, which changes the signal-to-noise
    ratio of that tensor by under 0.1 dB (20 log10 1.01 = 0.086 dB);
    three calm batches in a row rule out one lucky batch.
  - 3% and 0.5% moves: 3% is three times the tolerance, the size of the
    move (3.56%) with which `ptq mnist` lost convergence at batch 7; 0.5%
    is half the tolerance, so it must stay calm.
  - 19 of 32 batches: a set of 16 batches read twice. After the first pass
    MinMax has seen the range of the whole set, so the second pass moves
    no scale at all (0%), whatever the seed: calibration is converged at
    the latest after the third batch of the second pass, the 19th batch
    (16 + 3), and stays converged to the end.
  - 6 significant digits: a float32 scale carries about 7.
  - Observed ranges are exact up to float32 rounding (a relative 1e-6);
    scale changes in a history table are exact up to 0.001 points.
  - MNIST: 60 batches of 100 training images. Over the seed offsets 0 to
    40, the small MLP converged first at batch 4 to 11 and lost it 2 to 6
    times, each time to a batch holding an image that drives a hidden
    activation past any before it; "at least once" is the behaviour the
    scenario states, not a fitted number. The @slow scenario is what
    `ptq mnist` does (the MLP trained on all of MNIST, seed 1, calibrated
    on 10 batches of 100): it converges at batch 6 and loses it at batch 7
    when relu1's scale moves by 3.6% to 3.8% (the figure depends on the
    training run), so it ends not converged. The @fast MNIST scenario has
    10 seconds: loading MNIST and training the small MLP take most of it.

  Data: the hand-checked examples and the streams of scaled batches use
  evenly spaced values, with no randomness; the other synthetic scenarios
  use standard normal samples drawn from a seeded stream that the run's
  seed offset shifts; the MNIST scenarios use the first MNIST training
  images, the small MLP trained on them from a seed the offset shifts,
  the `ptq mnist` MLP trained on all of them with seed 1.

  @fast @R-calibration-1
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

  @fast @R-calibration-2
  Rule: MinMax qparams can be checked by hand

    Background:
      Given a one-layer model "fc" mapping 2 inputs to 2 outputs with the weights and biases:
        | weights | bias |
        | 1, 0    | 0    |
        | 0, 2    | 1    |

    Scenario Outline: Inputs spanning [<low>, <high>] give scale <scale> and zero point <zero point>
      Given a calibration set of 64 samples whose features all equal one value, running evenly from <low> to <high>, in batches of 16
      When the model is calibrated
      Then tensor "input" gets scale <scale> to 6 significant digits and zero point <zero point>

      Examples: the range [lo, hi] and the arithmetic above
        | low | high | scale      | zero point | worked out                                   |
        | -2  | 6    | 0.0313725  | -64        | 8/255;  -128 - round(-63.75)  = -128 + 64    |
        | 0   | 2.55 | 0.01       | -128       | 2.55/255; -128 - round(0)                    |
        | -3  | 1    | 0.0156863  | 63         | 4/255;  -128 - round(-191.25) = -128 + 191   |
        | -1  | -0.5 | 0.00392157 | 127        | widened to [-1, 0]: 1/255; -128 + 255        |
        | 0.5 | 1    | 0.00392157 | -128       | widened to [0, 1]: 1/255; -128 - round(0)    |

    Scenario: The output of a layer by hand: its range [-3, 13] gives scale 16/255 and zero point -128 + 48
      Given a calibration set of 100 samples whose features all equal one value, running evenly from -2 to 6, in batches of 25
      When the model is calibrated
      Then tensor "fc" gets scale 0.0627451 to 6 significant digits and zero point -80

    Scenario: The weights of a layer by hand: max |w| / 127 per output channel, the largest weight at code 127
      Given a calibration set of 100 samples whose features all equal one value, running evenly from -2 to 6, in batches of 25
      When the model is calibrated and converted to int8
      Then the weights of "fc" get the scales 0.00787402 and 0.0157480 to 6 significant digits, with zero point 0
      And the int8 weights of "fc" are the codes:
        | 127, 0 |
        | 0, 127 |

  @fast @R-calibration-2
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

  @fast @R-calibration-3
  Rule: Convergence holds at the end of calibration: a later move above the tolerance loses it
    On a model without bias every scale follows the largest input
    amplitude so far exactly, so a stream of equal batches scaled by chosen
    amplitudes moves the scales by chosen amounts: amplitude 1.03 after 1
    moves them by 3%, a later 1 moves none.

    Background:
      Given a one-layer model "fc" mapping 2 inputs to 2 outputs with the weights and biases:
        | weights | bias |
        | 1, 0    | 0    |
        | 0, 2    | 0    |
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches

    Scenario: Three calm batches converge, and a 0.5% move keeps it
      Given a calibration stream of batches of 16 samples running evenly from -2 to 6, each batch scaled by the next of 1, 1, 1, 1, 1.005, 1, 1
      When the model is calibrated
      Then the calibration history reads:
        | batch | largest scale change | converged | event     |
        | 0     | 0%                   | no        |           |
        | 1     | 0%                   | no        |           |
        | 2     | 0%                   | no        |           |
        | 3     | 0%                   | yes       | converged |
        | 4     | 0.5%                 | yes       |           |
        | 5     | 0%                   | yes       |           |
        | 6     | 0%                   | yes       |           |
      And calibration is converged at the end, since batch 3

    Scenario: A 3% move after convergence loses it, and calibration ends not converged
      Given a calibration stream of batches of 16 samples running evenly from -2 to 6, each batch scaled by the next of 1, 1, 1, 1, 1.03, 1, 1
      When the model is calibrated
      Then the calibration history reads:
        | batch | largest scale change | converged | event     |
        | 0     | 0%                   | no        |           |
        | 1     | 0%                   | no        |           |
        | 2     | 0%                   | no        |           |
        | 3     | 0%                   | yes       | converged |
        | 4     | 3%                   | no        | lost      |
        | 5     | 0%                   | no        |           |
        | 6     | 0%                   | no        |           |
      And calibration is not converged at the end

    Scenario: Three calm batches after the loss regain convergence
      Given a calibration stream of batches of 16 samples running evenly from -2 to 6, each batch scaled by the next of 1, 1, 1, 1, 1.03, 1, 1, 1
      When the model is calibrated
      Then the calibration history reads:
        | batch | largest scale change | converged | event     |
        | 0     | 0%                   | no        |           |
        | 1     | 0%                   | no        |           |
        | 2     | 0%                   | no        |           |
        | 3     | 0%                   | yes       | converged |
        | 4     | 3%                   | no        | lost      |
        | 5     | 0%                   | no        |           |
        | 6     | 0%                   | no        |           |
        | 7     | 0%                   | yes       | regained  |
      And calibration is converged at the end, since batch 7

    Scenario: Early stop stops at the first convergence, before the move that would lose it
      Given a calibration stream of batches of 16 samples running evenly from -2 to 6, each batch scaled by the next of 1, 1, 1, 1, 1.03, 1, 1
      And calibration stops early once converged
      When the model is calibrated
      Then calibration saw 4 batches and 64 samples
      And calibration is converged at the end, since batch 3

  @fast @R-calibration-3
  Rule: On standard normal data read twice, calibration converges, stops early when asked and honours a batch limit

    Background:
      Given the example residual network for 3x8x8 images with 4 classes
      And a calibration set of 512 standard normal samples in batches of 32, read twice
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches

    Scenario: The second pass moves no scale
      When the model is calibrated
      Then calibration went through all 32 batches
      And no batch of the second pass moves any scale by more than 0%

    Scenario: Calibration converges within 19 batches and stays converged to the end
      When the model is calibrated
      Then calibration converged within 19 batches and stayed converged to the end

    Scenario: Early stop ends calibration at the batch where it first converged
      Given calibration stops early once converged
      When the model is calibrated
      Then calibration stopped right after the batch at which a full calibration on the same data first converged
      And calibration saw at most 19 of the 32 batches

    Scenario: A batch limit caps calibration
      Given calibration is limited to 5 batches
      When the model is calibrated
      Then calibration saw 5 batches and 160 samples

  @fast @R-calibration-4
  Rule: Calibration keeps a history of every batch

    Background:
      Given the example residual network for 3x8x8 images with 4 classes

    Scenario: One history entry per batch, with the scale change it caused
      Given a calibration set of 512 standard normal samples in batches of 32
      When the model is calibrated
      Then the calibration history holds 16 entries, the samples seen so far growing by 32 per batch
      And each history entry records the largest relative change of any scale in its batch, 0 for the first

    Scenario: The history marks convergence where the rule holds, and the result is its last mark
      Given a calibration set of 512 standard normal samples in batches of 32, read twice
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      When the model is calibrated
      Then the history marks calibration converged after exactly the batches where the rule holds, and the result is the mark of the last batch

  @mnist @R-calibration-3
  Rule: On MNIST images convergence describes the images seen so far, and unusual images lose it

    @fast @budget-10s
    Scenario: Calibrating a small MLP on 6,000 MNIST training images converges, then loses it at least once
      Given an MLP for MNIST with one hidden layer of 32 units, seed 1, trained for one epoch on the first 6,000 MNIST training images
      And a calibration set of the first 6,000 MNIST training images in batches of 100
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      When the model is calibrated
      Then calibration converged within 60 batches, for the first time
      And a later batch lost convergence at least 1 time, moving a scale by more than 1%
      And the history marks calibration converged after exactly the batches where the rule holds, and the result is the mark of the last batch

    @slow @budget-20m
    Scenario: The calibration of `ptq mnist` converges within its 10 batches, loses it, and ends not converged
      Given the "mlp" model trained on MNIST for 3 epochs with seed 1
      And a calibration set of the first 1,000 MNIST training images in batches of 100
      And calibration counts as converged when every scale moves by at most 1% for 3 consecutive batches
      When the model is calibrated
      Then calibration converged within 10 batches, for the first time
      And a later batch lost convergence at least 1 time, moving a scale by more than 1%
      And calibration is not converged at the end
