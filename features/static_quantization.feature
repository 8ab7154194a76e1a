@fast @spec-static
Feature: Static quantization runs calibrated models on int8 weights and int8 activations
  Static post-training quantization runs the FP32 model on calibration data,
  fixes from what it saw the scale and zero point of every activation that
  enters or leaves a quantized layer, and then runs Conv2D and Linear layers
  on int8 weights and int8 activations with 32-bit accumulation. Between two
  quantized layers the data stays int8; the model still takes and returns
  FP32 tensors.

  The models below have seeded random weights. Their BatchNorm2D layers hold
  the mean and variance of their inputs on random data, with random scales
  and shifts, as training would leave them, so folding them changes the
  weights. Calibration and held-out samples are drawn independently from a
  standard normal distribution: the held-out set is never calibrated on,
  and every SQNR and cosine below is measured on it.

  Thresholds: each is the worst value over seed offsets 0 to 60
  (-ptqspec.seed) less about 1 dB, rounded down; the acceptance run checks
  offsets 1 to 20.
  - 29 and 30 dB of output SQNR (10·log10 of signal energy over error
    energy) are about 5 bits of signal at 6 dB a bit: the error's RMS is
    3% of the output's. int8 carries 8 bits; rounding the weights, the
    activations at every layer boundary and the requantized sums cost the
    rest. The plain classifier measured 30.9 to 39.6 dB (median 36.3), the
    mixed model 31.4 to 38.7 dB (median 34.7).
  - A cosine similarity of 0.999 checks the direction of each output
    vector, which is what an argmax reads, whatever its scale. For an error
    unrelated to the signal, 1 - cosine is about half the error-to-signal
    energy ratio, so 0.999 is about 27 dB: a looser, scale-free view of the
    same closeness. Both models measured 0.9996 or more.
  - 30% of the FP32 bytes: int8 weights take a quarter of their FP32
    bytes; the 32-bit biases and one 4-byte scale per output channel add
    the rest. The model measured 25.8%, the same for every seed since its
    size does not depend on its values.

  @R-static-1
  Rule: Weights and the activations between quantized layers are int8

    Scenario: Conv2D and Linear layers hold int8 weights
      Given a model for 3x8x8 inputs with the layers Conv2D 3->8 3x3 padding 1, ReLU, MaxPool2D 2x2, Conv2D 8->16 3x3 padding 1, ReLU, Flatten, Linear 256->10
      And a calibration set of 128 standard normal samples in batches of 32
      When the model is calibrated and converted to int8
      Then the layers conv2d1, conv2d2 and linear1 hold int8 weights

    Scenario: The data stays int8 from the first convolution to the classifier
      Given a model for 3x8x8 inputs with the layers:
        | name  | layer                      |
        | conv1 | Conv2D 3->8 3x3 padding 1  |
        | relu1 | ReLU                       |
        | pool1 | MaxPool2D 2x2              |
        | conv2 | Conv2D 8->16 3x3 padding 1 |
        | relu2 | ReLU                       |
        | flat  | Flatten                    |
        | fc    | Linear 256->10             |
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 64 standard normal samples
      When the model is calibrated and converted to int8
      Then running the held-out set through the quantized model gives these output types:
        | node  | output |
        | conv1 | int8   |
        | relu1 | int8   |
        | pool1 | int8   |
        | conv2 | int8   |
        | relu2 | int8   |
        | flat  | int8   |
        | fc    | int8   |

    @R-static-2
    Scenario: Int8 weights take about a quarter of the FP32 bytes
      Given a model for 3x8x8 inputs with the layers Conv2D 3->8 3x3 padding 1, ReLU, Conv2D 8->16 3x3 padding 1, ReLU, Flatten, Linear 1024->10
      And a calibration set of 64 standard normal samples in batches of 32
      When the model is calibrated and converted to int8
      Then the quantized model's parameters take at most 30% of the FP32 model's bytes

  @R-static-3
  Rule: Calibration collects statistics for every tensor the int8 model needs qparams for

    Scenario: The input and the output of every quantized layer group are observed
      Given a model for 3x8x8 inputs with the layers:
        | name  | layer                      |
        | conv1 | Conv2D 3->8 3x3 padding 1  |
        | relu1 | ReLU                       |
        | pool1 | MaxPool2D 2x2              |
        | conv2 | Conv2D 8->16 3x3 padding 1 |
        | relu2 | ReLU                       |
        | flat  | Flatten                    |
        | fc    | Linear 256->10             |
      And a calibration set of 128 standard normal samples in batches of 32
      When the model is calibrated
      Then calibration observed exactly these tensors, each over 4 batches and 128 samples:
        | tensor | needed by |
        | input  | conv1     |
        | relu1  | conv1     |
        | relu2  | conv2     |
        | fc     | fc        |

    Scenario: Every observed tensor gets a usable range
      Given a model for 3x8x8 inputs with the layers Conv2D 3->8 3x3 padding 1, ReLU, MaxPool2D 2x2, Conv2D 8->16 3x3 padding 1, ReLU, Flatten, Linear 256->10
      And a calibration set of 128 standard normal samples in batches of 32
      When the model is calibrated
      Then every observed tensor has a finite range with its minimum below its maximum

  @R-static-4
  Rule: Quantized outputs stay close to FP32 on data calibration never saw

    Scenario: A plain Conv2D classifier stays close to FP32
      Given a model for 3x8x8 inputs with the layers Conv2D 3->8 3x3 padding 1, ReLU, MaxPool2D 2x2, Conv2D 8->16 3x3 padding 1, ReLU, Flatten, Linear 256->10
      And a calibration set of 256 standard normal samples in batches of 32
      And a held-out set of 128 standard normal samples
      When the model is calibrated and converted to int8
      Then on the held-out set the quantized output has an SQNR of at least 29 dB against FP32
      And on the held-out set the quantized output has a cosine similarity of at least 0.999 to FP32

    Scenario: The mixed model with BatchNorm, pooling and a residual Add stays close to FP32
      Given a model for 3x12x12 inputs with the layers:
        | name  | layer                     | inputs       |
        | conv1 | Conv2D 3->8 3x3 padding 1 |              |
        | bn1   | BatchNorm2D               |              |
        | relu1 | ReLU                      |              |
        | conv2 | Conv2D 8->8 3x3 padding 1 |              |
        | bn2   | BatchNorm2D               |              |
        | add   | Add                       | bn2, relu1   |
        | relu2 | ReLU                      |              |
        | pool  | MaxPool2D 2x2             |              |
        | flat  | Flatten                   |              |
        | fc    | Linear 288->10            |              |
      And a calibration set of 256 standard normal samples in batches of 32
      And a held-out set of 128 standard normal samples
      When the model is calibrated and converted to int8
      Then on the held-out set the quantized output has an SQNR of at least 30 dB against FP32
      And on the held-out set the quantized output has a cosine similarity of at least 0.999 to FP32

  @R-static-4
  Rule: Quantizing the same model on the same data twice gives the same bits

    Scenario: Two runs of the quantizer on the mixed model agree bit for bit
      Given the example residual network for 3x12x12 images with 5 classes
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 32 standard normal samples
      When the model is quantized statically twice
      Then both runs give bit-identical int8 weights for every quantized layer
      And both runs give bit-identical activation scales and zero points
      And both runs give bit-identical outputs on the held-out set
