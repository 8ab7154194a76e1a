@fast @spec-config
Feature: Quantization configuration: granularity, scheme, calibration method and integer range
  Each choice of a quantization configuration is a trade, and each is shown
  here on data where it matters, with the margin it wins by:

  - granularity: one scale per tensor, or one per output channel (weights);
  - scheme: symmetric (zero point 0, or 128 for uint8) or affine (the zero
    point moves so the codes cover [min, max] widened to include 0);
  - calibration method: how the range of activations is chosen from data:
    minmax, moving_average (PyTorch's, averaging constant 0.01), percentile
    (99.99%), entropy (KL divergence) and mse;
  - integer range: full int8 [-128, 127], restricted [-127, 127] (ONNX
    Runtime's symmetric weights) or reduced to 7 bits (PyTorch's
    reduce_range: int8 [-64, 63], uint8 [0, 127]).

  SQNR (signal-to-quantization-noise ratio) is 10·log10(Σx² / Σ(x-x̂)²) in
  dB, x̂ being the value dequantized back from its code; 6 dB is one bit.
  Weights are symmetric int8 over [-127, 127] unless a scenario says
  otherwise. Every data set is drawn from a fixed seed, shifted by the run's
  seed offset (-ptqspec.seed). Where the seed moves a number, its threshold
  is the worst value over offsets 0 to 60 less 1 dB, rounded down to the
  dB or half dB (thresholds below 1 dB keep half the worst value); the
  acceptance run checks offsets 1 to 20. Measured over those 61 offsets:

  - Uneven channels (largest weight 0.01·1000^(c/15) in channel c):
    per-tensor 38.3 to 39.7 dB, per-channel 47.6 to 49.5, so the floors
    are 37 and 46 dB; per-channel won by 8.3 to 9.9 dB, so 7 dB. With one
    scale of 10/127 for the tensor, weights below 10/254 round to 0, which
    zeroes channels 0, 1 and 2 (largest weights 0.010, 0.016 and 0.025).
  - One shared range: per-channel scales differ from the tensor's only by
    sampling, -0.30 to +0.50 dB, so per-channel may lose at most 0.5 dB.
  - After a ReLU: symmetric 39.6 to 42.0 dB and affine 45.6 to 48.1, so 38
    and 44 dB. Affine won by 5.9 to 6.1 dB, about one bit: symmetric
    spends half its codes on negatives that never come; 5 dB leaves 0.9.
  - Symmetric data: symmetric takes the larger of |min| and |max|, and
    the two extremes of 16,384 normal values differ by up to 1.2 dB of
    range (measured 0 to 1.16 dB apart), so the schemes stay within 1.5 dB.
  - Outliers (64 × 1,024 = 65,536 values, 0.01% of them, 7 values, set to
    ±50 standard deviations at places the seed draws): the outliers have a
    fixed size, so the numbers barely move with the seed (measured over
    offsets 0 to 40, 61, 31337 and 123456789; the floors are the worst less
    a margin). An earlier generator scaled normal values by 50, so on some
    seeds every outlier was small and MinMax lost nothing. On the values
    within 4 standard deviations, percentile kept 24.1 to 24.3 dB (floor
    23), entropy 38.7 to 41.4 (36), mse 19.3 to 19.7 (18), the moving
    average of 16 batches 24.9 to 39.6 (22: an outlier in its first batch
    fades by only 1% a batch). MinMax spends its codes on the outliers:
    18.9 to 19.0 dB, so its cap is 21 dB. Against MinMax on the same data,
    percentile gained 5.2 to 5.4 dB (5), entropy 19.8 to 22.5 (18), the
    moving average 6.0 to 20.7 (5), and mse 0.40 to 0.80 (0.3): mse
    minimises the error over all values, outliers included, so it gains
    little on the bulk but is the best method over all values, 20.1 to
    20.4 dB (19), where the clipping methods trade the outliers away:
    percentile 11.0 to 15.5 dB (10), entropy 7.4 to 7.7 (7), the moving
    average 7.6 to 15.3 (7).
  - Every mix of formats on the example residual network, calibrated on
    256 samples: 25.5 to 37.6 dB on 64 held-out samples, so 24 dB, 4 bits
    of signal. The rows differ by less than the seed moves them: a held-out
    sample beyond the calibrated range saturates.
  - Scales "to 6 significant digits": a float32 scale carries 7, and the
    qparams are checked against PyTorch's formulas, computed by hand in the
    comments.

  @R-config-1
  Rule: Per-channel weights lose less than per-tensor weights when channels differ in range

    Scenario Outline: <granularity> int8 weights on a Conv2D with uneven channels
      Given a 3x3 Conv2D layer with 8 input and 16 output channels whose output channels span weight ranges from 0.01 to 10
      When its weights are quantized <granularity> to int8
      Then the weight SQNR is at least <sqnr> dB
      And <zeroed> of its 16 output channels are quantized to all zeros

      Examples:
        | granularity | sqnr | zeroed |
        | per-tensor  | 37   | 3      |
        | per-channel | 46   | 0      |

    Scenario: Per-channel wins by a wide margin on uneven channels
      Given a 3x3 Conv2D layer with 8 input and 16 output channels whose output channels span weight ranges from 0.01 to 10
      When its weights are quantized both per-tensor and per-channel to int8
      Then per-channel quantization beats per-tensor quantization by at least 7 dB of SQNR

    Scenario: Per-channel costs nothing when the channels share one range
      Given a 3x3 Conv2D layer with 8 input and 16 output channels whose output channels share one weight range
      When its weights are quantized both per-tensor and per-channel to int8
      Then per-channel quantization beats per-tensor quantization by at least -0.5 dB of SQNR

  @R-config-2
  Rule: Affine quantization wins on one-sided data such as ReLU outputs

    Scenario Outline: <scheme> int8 on activations after a ReLU
      Given 16,384 activations after a ReLU: standard normal values with the negatives set to 0
      When they are quantized per tensor to int8 <scheme>
      Then the SQNR is at least <sqnr> dB

      Examples:
        | scheme    | sqnr |
        | symmetric | 38   |
        | affine    | 44   |

    Scenario: Affine wins by about one bit on one-sided data
      Given 16,384 activations after a ReLU: standard normal values with the negatives set to 0
      When they are quantized per tensor to int8 both symmetric and affine
      Then affine quantization beats symmetric quantization by at least 5 dB of SQNR

    Scenario: On data symmetric around zero the two schemes are alike
      Given 16,384 activations drawn from a standard normal distribution
      When they are quantized per tensor to int8 both symmetric and affine
      Then the two schemes are within 1.5 dB of SQNR of each other

    Scenario: int8 and uint8 affine activations hold the same values
      Given 16,384 activations after a ReLU: standard normal values with the negatives set to 0
      When they are quantized per tensor to both int8 and uint8 affine
      Then int8 and uint8 give the same dequantized values, bit for bit, with codes exactly 128 apart

  @R-config-3
  Rule: Clipping calibration methods beat MinMax on the bulk of data with outliers

    Scenario Outline: <method> calibration keeps the bulk of data with outliers
      Given 64 samples of 1,024 standard normal values, 0.01% of them outliers 50 times larger, in batches of 4
      When their range is calibrated with <method> for int8 affine per tensor
      Then the SQNR on the values within 4 standard deviations is at least <bulk> dB

      Examples:
        | method         | bulk |
        | percentile     | 23   |
        | entropy        | 36   |
        | mse            | 18   |
        | moving_average | 22   |

    Scenario Outline: <method> calibration beats MinMax on the bulk of data with outliers
      Given 64 samples of 1,024 standard normal values, 0.01% of them outliers 50 times larger, in batches of 4
      When their range is calibrated with <method> for int8 affine per tensor
      Then on the values within 4 standard deviations it beats MinMax by at least <gain> dB

      Examples:
        | method         | gain |
        | percentile     | 5    |
        | entropy        | 18   |
        | mse            | 0.3  |
        | moving_average | 5    |

    Scenario Outline: <method> calibration over all values, outliers included
      Given 64 samples of 1,024 standard normal values, 0.01% of them outliers 50 times larger, in batches of 4
      When their range is calibrated with <method> for int8 affine per tensor
      Then the SQNR over all values, outliers included, is at least <all> dB

      Examples:
        | method         | all |
        | percentile     | 10   |
        | entropy        | 7    |
        | mse            | 19   |
        | moving_average | 7    |

    Scenario: MinMax stretches its range to the largest outlier
      Given 64 samples of 1,024 standard normal values, 0.01% of them outliers 50 times larger, in batches of 4
      When their range is calibrated with minmax for int8 affine per tensor
      Then the calibrated range reaches the largest absolute value

    Scenario: MinMax loses the bulk of data with outliers
      Given 64 samples of 1,024 standard normal values, 0.01% of them outliers 50 times larger, in batches of 4
      When their range is calibrated with minmax for int8 affine per tensor
      Then the SQNR on the values within 4 standard deviations is at most 21 dB

  @R-config-4
  Rule: Weights and activations are configured separately, and every mix runs end to end

    Scenario Outline: <weights> weights with <activations> activations are what the model holds
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 64 standard normal samples in batches of 32
      And the model is configured with <weights> weights and <activations> activations
      When the model is quantized statically
      Then every layer with int8 weights reports <weights> weights
      And every int8 output in the report has a positive scale, a zero point within [<zmin>, <zmax>] and a range that contains 0

      Examples:
        | weights                                     | activations               | zmin | zmax |
        | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor    | -128 | 127  |
        | int8 symmetric per-channel over [-127, 127] | uint8 affine per-tensor   | 0    | 255  |
        | int8 symmetric per-tensor over [-127, 127]  | int8 affine per-tensor    | -128 | 127  |
        | int8 symmetric per-channel over [-128, 127] | int8 symmetric per-tensor | 0    | 0    |
        | int8 affine per-channel over [-64, 63]      | int8 affine per-tensor    | -128 | 127  |
        | uint8 affine per-tensor over [0, 255]       | uint8 affine per-tensor   | 0    | 255  |

    Scenario Outline: <weights> weights with <activations> activations stay close to FP32
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 256 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      And the model is configured with <weights> weights and <activations> activations
      When the model is quantized statically
      Then on the held-out set the quantized output has an SQNR of at least <sqnr> dB against FP32

      Examples:
        | weights                                     | activations               | sqnr |
        | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor    | 24   |
        | int8 symmetric per-channel over [-127, 127] | uint8 affine per-tensor   | 24   |
        | int8 symmetric per-tensor over [-127, 127]  | int8 affine per-tensor    | 24   |
        | int8 symmetric per-channel over [-128, 127] | int8 symmetric per-tensor | 24   |
        | int8 affine per-channel over [-64, 63]      | int8 affine per-tensor    | 24   |
        | uint8 affine per-tensor over [0, 255]       | uint8 affine per-tensor   | 24   |

    Scenario: int8 and uint8 affine activations give the same model outputs
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 64 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      When the model is quantized statically once with int8 affine activations and once with uint8 affine activations
      Then both runs give bit-identical outputs on the held-out set

    Scenario: Per-channel activations are refused
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 64 standard normal samples in batches of 32
      And activations are configured as int8 affine per-channel
      When the model is quantized statically
      Then it is refused as an invalid configuration
      And the error message names "activations", "per tensor"

  @R-config-4
  Rule: The integer range bounds every code: full, restricted or reduced

    # [-1, 1] spans 2, so every scale is 2 / (qmax - qmin); the zero point
    # is the code that stands for 0.
    Scenario Outline: <dtype> <scheme> qparams over [<qmin>, <qmax>]
      Given 101 values evenly spaced from -1 to 1
      When their range is calibrated with minmax for <dtype> <scheme> per tensor over [<qmin>, <qmax>]
      Then the scale is <scale> to 6 significant digits and the zero point <zp>

      Examples:
        | dtype | scheme    | qmin | qmax | scale      | zp  |
        | int8  | symmetric | -128 | 127  | 0.00784314 | 0   |
        | int8  | symmetric | -127 | 127  | 0.00787402 | 0   |
        | int8  | symmetric | -64  | 63   | 0.0157480  | 0   |
        | int8  | affine    | -128 | 127  | 0.00784314 | -1  |
        | int8  | affine    | -64  | 63   | 0.0157480  | 0   |
        | uint8 | affine    | 0    | 255  | 0.00784314 | 127 |
        | uint8 | affine    | 0    | 127  | 0.0157480  | 64  |
        | uint8 | symmetric | 0    | 255  | 0.00784314 | 128 |

    Scenario Outline: <dtype> <scheme> codes stay within [<qmin>, <qmax>]
      Given 101 values evenly spaced from -1 to 1
      When their range is calibrated with minmax for <dtype> <scheme> per tensor over [<qmin>, <qmax>]
      Then values from -4 to 4 quantized with those qparams get codes from <qmin> to <qmax>

      Examples:
        | dtype | scheme    | qmin | qmax |
        | int8  | symmetric | -128 | 127  |
        | int8  | symmetric | -127 | 127  |
        | int8  | symmetric | -64  | 63   |
        | int8  | affine    | -128 | 127  |
        | int8  | affine    | -64  | 63   |
        | uint8 | affine    | 0    | 255  |
        | uint8 | affine    | 0    | 127  |
        | uint8 | symmetric | 0    | 255  |

    # Full range: scale 1/127.5, so 1 lands between codes 127 and 128 and
    # saturates. Restricted: scale 1/127, so 1 is exactly code 127.
    Scenario Outline: The largest weight of a tensor in the <qmin> to 127 symmetric range
      Given 101 values evenly spaced from -1 to 1
      When their range is calibrated with minmax for int8 symmetric per tensor over [<qmin>, 127]
      Then the value 1 quantizes to code 127 and dequantizes to <back> to 6 significant digits
      And the value -1 quantizes to code -127 and dequantizes to -<back> to 6 significant digits

      Examples:
        | qmin | back     |
        | -128 | 0.996078 |
        | -127 | 1        |

  @R-config-4
  Rule: Quantization parameters and rounding match PyTorch and ONNX, and can be checked by hand

    # The range seen is [1, 8], widened to include 0: [0, 8].
    # Affine: scale 8/(qmax - qmin), zero point qmin - round(0/scale).
    # Symmetric: scale 8/((qmax - qmin)/2), zero point 0 (int8) or the
    # middle code (uint8: 128, or 64 over [0, 127]).
    Scenario: PyTorch's MinMaxObserver after the batches 1 to 6 and 4 to 8
      Given a MinMax observer has seen the values 1, 2, 3, 4, 5, 6 and then 4, 5, 6, 7, 8
      Then it gives these qparams:
        | dtype | scheme    | range       | scale     | zero point |
        | uint8 | affine    | [0, 255]    | 0.0313725 | 0          |
        | int8  | affine    | [-128, 127] | 0.0313725 | -128       |
        | int8  | symmetric | [-128, 127] | 0.0627451 | 0          |
        | uint8 | symmetric | [0, 255]    | 0.0627451 | 128        |
        | int8  | symmetric | [-127, 127] | 0.0629921 | 0          |
        | uint8 | affine    | [0, 127]    | 0.0629921 | 0          |
        | int8  | affine    | [-64, 63]   | 0.0629921 | -64        |
        | uint8 | symmetric | [0, 127]    | 0.125984  | 64         |

    # Each channel's scale is its largest absolute weight / 127.
    Scenario: Per-channel symmetric weights get one scale per output channel
      Given the weights of a layer with 3 output channels:
        | channel | weights               |
        | 0       | 1.27, -0.6, 0.5       |
        | 1       | 0.0254, 0.01, -0.012  |
        | 2       | -12.7, 3, 0           |
      When the weights are quantized as int8 symmetric per-channel over [-127, 127]
      Then each output channel gets:
        | channel | scale  | zero point | codes        |
        | 0       | 0.01   | 0          | 127, -60, 50 |
        | 1       | 0.0002 | 0          | 127, 50, -60 |
        | 2       | 0.1    | 0          | -127, 30, 0  |

    Scenario: Ties round half to even and values beyond the range saturate
      Given the int8 grid with scale 1 and zero point 0
      Then these values quantize to these codes:
        | value  | code |
        | 0.5    | 0    |
        | 1.5    | 2    |
        | 2.5    | 2    |
        | -2.5   | -2   |
        | -0.5   | 0    |
        | 3.5    | 4    |
        | 126.5  | 126  |
        | 300    | 127  |
        | -300   | -128 |

    Scenario: On a uint8 grid the zero point stands for 0
      Given the uint8 grid with scale 0.5 and zero point 128
      Then these values quantize to these codes:
        | value | code |
        | 0     | 128  |
        | 0.25  | 128  |
        | 0.75  | 130  |
        | -1    | 126  |
        | -64   | 0    |
        | -70   | 0    |
        | 63.5  | 255  |
        | 100   | 255  |
