@fast @spec-config
Feature: Quantized operators compute what the ONNX specification says
  The integer arithmetic of every quantized model follows the ONNX
  operators, so a model quantized here means what it would mean in any
  ONNX runtime. The examples are those of the ONNX specification and its
  backend tests; each can be checked by hand:

  - QuantizeLinear: y = saturate(round(x / scale) + zero point), rounding
    half to even, saturating to the type's range;
  - DequantizeLinear: x = (y - zero point) · scale;
  - DynamicQuantizeLinear: the range of x widened to include 0, scale =
    (max - min) / 255, zero point = round(-min / scale), uint8;
  - MatMulInteger: the int32 product of (A - zero point A) and
    (B - zero point B);
  - QLinearMatMul: that product requantized to the output grid with the
    multiplier scale A · scale B / scale Y.

  @R-config-4
  Rule: QuantizeLinear rounds half to even and saturates; DequantizeLinear inverts it on the grid

    # 3 / 2 = 1.5 rounds to 2; 1000 / 2 = 500 saturates.
    Scenario Outline: Per-tensor QuantizeLinear to <dtype>
      Given the float tensor 0, 2, 3, 1000, -254, -1000
      When it is quantized by QuantizeLinear to <dtype> with scale 2 and zero point <zp>
      Then the codes are <codes>
      And DequantizeLinear with the same qparams gives <back>

      Examples:
        | dtype | zp  | codes                        | back                          |
        | uint8 | 128 | 128, 129, 130, 255, 1, 0     | 0, 2, 4, 254, -254, -256      |
        | int8  | 0   | 0, 1, 2, 127, -127, -128     | 0, 2, 4, 254, -254, -256      |

    Scenario: Per-axis QuantizeLinear: one scale and zero point per channel (the ONNX axis example)
      Given a float tensor of shape 1x3x3x2 whose channels (axis 1) hold:
        | channel | values                            |
        | 0       | -162, 10, -100, 232, -20, -50     |
        | 1       | -76, 0, 0, 252, 32, -44           |
        | 2       | 245, -485, -960, -270, -375, -470 |
      When it is quantized by QuantizeLinear to uint8 along axis 1 with scales 2, 4, 5 and zero points 84, 24, 196
      Then the codes of each channel are:
        | channel | codes                     |
        | 0       | 3, 89, 34, 200, 74, 59    |
        | 1       | 5, 24, 24, 87, 32, 13     |
        | 2       | 245, 99, 4, 142, 121, 102 |
      And DequantizeLinear with the same qparams gives back the tensor exactly

  @R-config-4
  Rule: DynamicQuantizeLinear takes its uint8 qparams from the data itself

    Scenario Outline: DynamicQuantizeLinear on <case>
      Given the float tensor <x>
      When it is quantized by DynamicQuantizeLinear
      Then the scale is <scale> to 6 significant digits and the zero point <zp>
      And the codes are <codes>

      Examples:
        | case                 | x                                                     | scale     | zp  | codes                                                  |
        | mixed signs          | 0, 2, -3, -2.5, 1.34, 0.5                             | 0.0196078 | 153 | 153, 255, 0, 26, 221, 179                              |
        | negative values only | -1, -2.1, -1.3, -2.5, -3.34, -4                       | 0.0156863 | 255 | 191, 121, 172, 96, 42, 0                               |
        | positive values only | 1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345 | 0.0156863 | 0   | 64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149 |
        | zeros only           | 0, 0, 0, 0                                            | 1         | 0   | 0, 0, 0, 0                                             |

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
