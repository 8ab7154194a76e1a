@fast @spec-config
Feature: Quantized operators compute what the ONNX specification says
  The integer arithmetic of every quantized model follows the ONNX
  operators, so a model quantized here means what it would mean in any
  ONNX runtime:

  - QuantizeLinear: y = saturate(round(x / scale) + zero point), rounding
    half to even, saturating to the type's range;
  - DequantizeLinear: x = (y - zero point) · scale;
  - DynamicQuantizeLinear: the range of x widened to include 0, scale =
    (max - min) / 255, zero point = round(-min / scale), uint8;
  - MatMulInteger: the int32 product of (A - zero point A) and
    (B - zero point B);
  - QLinearMatMul: that product requantized to the output grid with the
    multiplier scale A · scale B / scale Y.

  Data: every tensor and matrix is written in its scenario. They are the
  examples of the ONNX specification and its backend tests, except the
  ties, which are odd integers over scale 2: each lies exactly halfway
  between two codes, so half-to-even and half-away-from-zero give
  different codes (numpy.round, which the specification's reference
  implementation uses, gives 0, 2, 2, 4, 0, -2, -2 for 0.5, 1.5, 2.5,
  3.5, -0.5, -1.5, -2.5). Each example can be checked by hand.

  Thresholds: codes and integer products are compared exactly, since the
  specification defines them to the last bit and one code off is a
  different model. The one tolerance is DynamicQuantizeLinear's scale,
  compared to 6 significant digits: it is a float32 quotient (float32
  holds about 7 digits) and the specification's examples print it to 6,
  while a wrong range moves it in the first or second digit.

  @R-config-4
  Rule: QuantizeLinear rounds x / scale half to even

    # 1/2 = 0.5 -> 0, 3/2 = 1.5 -> 2, 5/2 = 2.5 -> 2, 7/2 = 3.5 -> 4, and the mirror images.
    Scenario Outline: values halfway between two <dtype> codes go to the even code
      Given the float tensor 1, 3, 5, 7, -1, -3, -5
      When it is quantized by QuantizeLinear to <dtype> with scale 2 and zero point <zp>
      Then the codes are <codes>

      Examples:
        | dtype | zp  | codes                               |
        | int8  | 0   | 0, 2, 2, 4, 0, -2, -2               |
        | uint8 | 128 | 128, 130, 130, 132, 128, 126, 126   |

  @R-config-4
  Rule: QuantizeLinear saturates to the type's range

    # 1000 / 2 = 500 and -1000 / 2 = -500 lie outside both types; 3 / 2 = 1.5 rounds to 2.
    Scenario Outline: the ONNX example quantized to <dtype>
      Given the float tensor 0, 2, 3, 1000, -254, -1000
      When it is quantized by QuantizeLinear to <dtype> with scale 2 and zero point <zp>
      Then the codes are <codes>

      Examples:
        | dtype | zp  | codes                    |
        | uint8 | 128 | 128, 129, 130, 255, 1, 0 |
        | int8  | 0   | 0, 1, 2, 127, -127, -128 |

  @R-config-4
  Rule: DequantizeLinear maps a code back to (code - zero point) · scale

    # Values on the grid come back unchanged; 3 comes back as 4 (its code 2), 1000 as the largest grid value.
    Scenario Outline: the ONNX example's <dtype> codes dequantized
      Given the float tensor 0, 2, 3, 1000, -254, -1000
      When it is quantized by QuantizeLinear to <dtype> with scale 2 and zero point <zp>
      Then DequantizeLinear with the same qparams gives <back>

      Examples:
        | dtype | zp  | back                     |
        | uint8 | 128 | 0, 2, 4, 254, -254, -256 |
        | int8  | 0   | 0, 2, 4, 254, -254, -256 |

  @R-config-4
  Rule: Per-axis QuantizeLinear uses each channel's own scale and zero point (the ONNX axis example)

    Background:
      Given a float tensor of shape 1x3x3x2 whose channels (axis 1) hold:
        | channel | values                            |
        | 0       | -162, 10, -100, 232, -20, -50     |
        | 1       | -76, 0, 0, 252, 32, -44           |
        | 2       | 245, -485, -960, -270, -375, -470 |

    # Channel 1, value 252: 252 / 4 + 24 = 87; with channel 0's parameters it would be 210.
    Scenario: each channel is quantized with its own scale and zero point
      When it is quantized by QuantizeLinear to uint8 along axis 1 with scales 2, 4, 5 and zero points 84, 24, 196
      Then the codes of each channel are:
        | channel | codes                     |
        | 0       | 3, 89, 34, 200, 74, 59    |
        | 1       | 5, 24, 24, 87, 32, 13     |
        | 2       | 245, 99, 4, 142, 121, 102 |

    # Every value of the example is a multiple of its channel's scale inside the range.
    Scenario: per-axis codes dequantize back to the tensor exactly
      When it is quantized by QuantizeLinear to uint8 along axis 1 with scales 2, 4, 5 and zero points 84, 24, 196
      Then DequantizeLinear with the same qparams gives back the tensor exactly

  @R-config-4
  Rule: DynamicQuantizeLinear takes its uint8 qparams from the data itself

    # Mixed signs: scale = (2 - (-3)) / 255 = 0.0196078, zero point = round(3 / 0.0196078) = 153.
    Scenario Outline: DynamicQuantizeLinear on <case>
      Given the float tensor <x>
      When it is quantized by DynamicQuantizeLinear
      Then the scale is <scale> to 6 significant digits and the zero point <zp>
      And the codes are <codes>

      Examples:
        | case                 | x                                                     | scale     | zp  | codes                                                   |
        | mixed signs          | 0, 2, -3, -2.5, 1.34, 0.5                             | 0.0196078 | 153 | 153, 255, 0, 26, 221, 179                               |
        | negative values only | -1, -2.1, -1.3, -2.5, -3.34, -4                       | 0.0156863 | 255 | 191, 121, 172, 96, 42, 0                                |
        | positive values only | 1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345 | 0.0156863 | 0   | 64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149 |
        | zeros only           | 0, 0, 0, 0                                            | 1         | 0   | 0, 0, 0, 0                                              |

  @R-config-4
  Rule: Integer matrix products subtract zero points, accumulate in int32 and requantize

    # Row 1: (11-12)·1 + (7-12)·2 + (3-12)·3 = -38.
    Scenario: MatMulInteger (the ONNX example)
      Given the uint8 matrix A with zero point 12:
        | 11 | 7 | 3 |
        | 10 | 6 | 2 |
        | 9  | 5 | 1 |
        | 8  | 4 | 0 |
      And the uint8 matrix B with zero point 0:
        | 1 | 4 |
        | 2 | 5 |
        | 3 | 6 |
      When A and B are multiplied by MatMulInteger
      Then the int32 product is:
        | -38 | -83  |
        | -44 | -98  |
        | -50 | -113 |
        | -56 | -128 |

    # Multiplier 0.0066 · 0.00705 / 0.0107 = 0.0043486; one 1% larger would turn the 1 into 0 (-117.04 steps becomes -118.21).
    Scenario: QLinearMatMul (the ONNX example)
      Given the uint8 matrix A with scale 0.0066 and zero point 113:
        | 208 | 236 | 0   | 238 |
        | 3   | 214 | 255 | 29  |
      And the uint8 matrix B with scale 0.00705 and zero point 114:
        | 152 | 51  | 244 |
        | 60  | 26  | 255 |
        | 0   | 127 | 246 |
        | 127 | 254 | 247 |
      When A and B are multiplied by QLinearMatMul into uint8 with scale 0.0107 and zero point 118
      Then the uint8 product is:
        | 168 | 115 | 255 |
        | 1   | 66  | 151 |
