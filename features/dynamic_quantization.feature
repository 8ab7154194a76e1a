@fast @spec-dynamic
Feature: Dynamic quantization stores int8 weights and keeps activations in FP32
  Dynamic quantization needs no calibration data. The weights of every
  Linear layer are quantized once, to int8 symmetric over [-127, 127] with
  one scale per output channel unless configured otherwise. On every call
  the layer quantizes its FP32 input to uint8 with a range taken from that
  input alone (as ONNX DynamicQuantizeLinear does), multiplies in integers
  with int32 accumulation and returns FP32. So every layer boundary stays
  FP32, no activation scale or zero point is stored, and every other layer
  runs unchanged in FP32. On request, Conv2D layers are quantized the same
  way. Dynamic quantization on a trained MNIST model is measured in
  end_to_end_mnist.feature.

  The MLP here has the MNIST architecture with seeded random weights:
  flatten1 (Flatten), linear1 (Linear 784->256), relu1 (ReLU) and linear2
  (Linear 256->10). The CNN has seeded random weights and realistic
  BatchNorm statistics. Every number below is measured on a held-out set of
  images of standard normal pixels, drawn with a seed of their own (dynamic
  quantization reads no data, so no sample was seen before). The largest
  output error is measured against the largest FP32 output magnitude of the
  held-out set.

  Why these numbers:
  - Cosine similarity 0.9995 to FP32: an error carrying 1/1000 of the
    output's energy, 30 dB or about 5 bits of signal, where 8-bit inputs
    and weights give each layer about 40 dB; measured at least 0.99984
    (about 35 dB) for the MLP and the CNN over seed offsets 0..100.
  - Largest error 2.5% of the largest output for the MLP: one step of the
    uint8 input grid is 1/255 (0.4%) of an input's range, and two layers
    over 64 to 256 samples add up to at most 1.9% over seed offsets 0..100;
    3% for the CNN, whose three quantized layers reach 2.48% on the worst
    offset of 0..100 (1.3% on offset 0).
  - 206,456 bytes: 784·256 + 256·10 int8 codes (203,264 bytes), 8 bytes per
    scale and zero point of the 256 + 10 channels (2,128) and 4 bytes per
    FP32 bias (1,064); FP32 stores 4 bytes for each of the 203,530 weights
    and biases (814,120). Exact counts: any stored activation parameter
    would add to them.

  @R-dynamic-1
  Rule: Linear weights are stored as int8, one scale per output channel unless configured otherwise

    Background:
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10

    Scenario: The report lists each Linear layer's weight type, scales and zero points
      When the model is quantized dynamically
      Then the report lists the int8 weights of every Linear layer as:
        | layer   | dtype | scheme    | granularity | scales | zero points |
        | linear1 | int8  | symmetric | per-channel | 256    | 0           |
        | linear2 | int8  | symmetric | per-channel | 10     | 0           |
      And every weight scale is the largest absolute weight it covers divided by 127

    Scenario: Per-tensor weights get one scale for the whole layer
      Given weights are configured as int8 symmetric per-tensor over [-127, 127]
      When the model is quantized dynamically
      Then the report lists the int8 weights of every Linear layer as:
        | layer   | dtype | scheme    | granularity | scales | zero points |
        | linear1 | int8  | symmetric | per-tensor  | 1      | 0           |
        | linear2 | int8  | symmetric | per-tensor  | 1      | 0           |
      And every weight scale is the largest absolute weight it covers divided by 127

  @R-dynamic-2
  Rule: Activations stay FP32 at every layer boundary, and no activation qparams are stored

    Background:
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10

    Scenario: Every node of the quantized model outputs FP32
      Given a held-out set of 64 standard normal samples
      When the model is quantized dynamically
      Then running the held-out set through the quantized model gives these output types:
        | node     | output |
        | flatten1 | fp32   |
        | linear1  | fp32   |
        | relu1    | fp32   |
        | linear2  | fp32   |

    Scenario: No activation qparams are stored and no calibration is run
      When the model is quantized dynamically
      Then no layer in the report holds an activation scale or zero point, and no calibration was run

    Scenario: The quantized model stores its int8 weights, their scales and the FP32 biases, nothing else
      When the model is quantized dynamically
      Then the quantized model stores 206,456 bytes of parameters against 814,120 in FP32

    Scenario: An input 100 times larger than any before is quantized with its own range
      Given a held-out set of 64 standard normal samples
      When the model is quantized dynamically
      And the held-out samples are multiplied by 100
      Then on the held-out set the quantized output has a cosine similarity of at least 0.9995 to FP32
      And on the held-out set the largest output error is at most 2.5% of the largest FP32 output magnitude

  @R-dynamic-3
  Rule: Outputs match FP32 within stated tolerances on held-out inputs

    Scenario Outline: <granularity> int8 weights
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10
      And a held-out set of 256 standard normal samples
      And weights are configured as int8 symmetric <granularity> over [-127, 127]
      When the model is quantized dynamically
      Then on the held-out set the quantized output has a cosine similarity of at least <cosine> to FP32
      And on the held-out set the largest output error is at most <error>% of the largest FP32 output magnitude

      Examples:
        | granularity | cosine | error |
        | per-channel | 0.9995 | 2.5   |
        | per-tensor  | 0.9995 | 2.5   |

  @R-dynamic-4
  Rule: The model handed in is not modified

    Scenario: Parameters and outputs of the FP32 model are unchanged
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10
      And a held-out set of 64 standard normal samples
      When the model is quantized dynamically
      Then the FP32 model's parameters, buffers and outputs are unchanged

  @R-dynamic-4
  Rule: Layers without int8 weights run unchanged in FP32

    Scenario: A model without Linear layers is returned unchanged
      Given a model for 2x8x8 inputs with the layers Conv2D 2->4 3x3 padding 1, ReLU, GlobalAvgPool
      And a held-out set of 16 standard normal samples
      When the model is quantized dynamically
      Then the report says the model has no quantizable layer and was returned unchanged
      And on the held-out set the quantized model's outputs are bit-identical to FP32

    Scenario: A Linear layer kept by an override stays FP32 and the others hold int8 weights
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10
      And an override keeps the layers selected by name "linear2" in FP32
      When the model is quantized dynamically
      Then the report shows the layers linear2 in FP32 with a reason naming the override
      And the layers linear1 hold int8 weights

    Scenario: The model with a Linear layer kept in FP32 stays close to FP32
      Given a model for 1x28x28 inputs with the layers Flatten, Linear 784->256, ReLU, Linear 256->10
      And a held-out set of 64 standard normal samples
      And an override keeps the layers selected by name "linear2" in FP32
      When the model is quantized dynamically
      Then on the held-out set the quantized output has a cosine similarity of at least 0.9995 to FP32

  @R-dynamic-1 @R-dynamic-3
  Rule: Conv2D layers are quantized dynamically on request

    The BatchNorm2D after the first Conv2D is not folded and runs in FP32.

    Background:
      Given a model for 1x16x16 inputs with the layers Conv2D 1->8 3x3 padding 1, BatchNorm2D, ReLU, MaxPool2D 2x2, Conv2D 8->16 3x3 stride 2 padding 1, ReLU, Flatten, Linear 256->10
      And a held-out set of 64 standard normal samples
      And Conv2D layers are configured to be quantized dynamically too

    Scenario: Conv2D layers hold int8 weights with one scale per output channel
      When the model is quantized dynamically
      Then the report lists the int8 weights of every Conv2D and Linear layer as:
        | layer   | dtype | scheme    | granularity | scales | zero points |
        | conv2d1 | int8  | symmetric | per-channel | 8      | 0           |
        | conv2d2 | int8  | symmetric | per-channel | 16     | 0           |
        | linear1 | int8  | symmetric | per-channel | 10     | 0           |

    Scenario: Every node of the CNN outputs FP32, the BatchNorm2D included
      When the model is quantized dynamically
      Then running the held-out set through the quantized model gives these output types:
        | node         | output |
        | conv2d1      | fp32   |
        | batchnorm2d1 | fp32   |
        | relu1        | fp32   |
        | maxpool2d1   | fp32   |
        | conv2d2      | fp32   |
        | relu2        | fp32   |
        | flatten1     | fp32   |
        | linear1      | fp32   |

    Scenario: The CNN with dynamically quantized Conv2D layers stays close to FP32
      When the model is quantized dynamically
      Then on the held-out set the quantized output has a cosine similarity of at least 0.9995 to FP32
      And on the held-out set the largest output error is at most 3% of the largest FP32 output magnitude
