@fast @spec-e2e
Feature: ONNX interop: quantize models from other frameworks and ship them to ONNX Runtime
  People train in PyTorch or elsewhere, exchange models as ONNX files and deploy
  with ONNX Runtime. ptqspec imports an FP32 ONNX file, quantizes it, and writes
  FP32 or int8 ONNX files. ONNX Runtime 1.30, pinned in tools/, is the judge:
  it runs what ptqspec writes, and its outputs are compared with ptqspec's own.

  Data: the ONNX files imported here were written by PyTorch's exporter from
  models trained in PyTorch; nothing in them comes from ptqspec. Beside each
  file are 8 MNIST test images and the logits PyTorch computed on them.
  ptqspec's own models are trained on the first 200 or 1,000 MNIST training
  images. Calibration always uses MNIST training images and every comparison
  MNIST test images, so no number is measured on the data it was calibrated on;
  each step names how many images it uses.

  Thresholds:
  - 1e-4 of the largest output (FP32 import and export): float32 rounding of
    sums of hundreds of products added in another order (PyTorch's MKL or
    ONNX Runtime's kernels against ptqspec's). It moved these logits by 1e-7
    to 4e-7 of the largest; a wrong weight layout, padding or folded
    BatchNorm moves them by whole units.
  - Bit-identical (FP32 export imported back): the same operators on the
    same float32 weights in the same order.
  - 99% of int8 output values within one output quantization step, 99.9% of
    top-1 classes agreeing (int8 export): ONNX Runtime computes the same
    integer arithmetic and may differ only where a requantization rounds a
    value lying on a rounding boundary (it scales in float, ptqspec with a
    fixed-point multiplier); such a value moves by one step. The class
    changes only when two logits are within a step of each other: 99.9% is at
    most 1 image in 1,000 (10 in 10,000). Accuracy is not checked
    separately: with at most 1 image in 1,000 classified differently the two
    accuracies cannot differ by more than 0.1 point.
  - Less than 1 point of accuracy lost to int8: the loss a user accepts for a
    4x smaller model; these classifiers with per-channel weights stay within a
    few tenths. On 1,000 test images one image is 0.1 point.

  Rule: An ONNX file that PyTorch wrote imports with the outputs PyTorch computed
    The import rebuilds the model from ONNX operators as ptqspec layers.

    Scenario Outline: <file> imports and reproduces PyTorch's logits
      Given the ONNX file "<file>" that PyTorch's exporter wrote
      When ptqspec imports it
      Then on the 8 MNIST test images stored beside it, ptqspec's FP32 output is within 1e-4 of PyTorch's stored output, relative to the largest magnitude of PyTorch's output

      Examples:
        | file              |
        | mnist_mlp         |
        | mnist_lenet_bn    |
        | mnist_tiny_resnet |

  Rule: An operator ptqspec has no layer for is refused, naming the node
    Scenario: a classifier ending in Sigmoid is refused at its Sigmoid node
      Given the ONNX file "unsupported_sigmoid" that PyTorch's exporter wrote
      When ptqspec imports it
      Then the import is refused with an error naming the node "/Sigmoid" and the operator "Sigmoid"

  Rule: An FP32 model exported by ptqspec runs in ONNX Runtime with ptqspec's outputs

    Scenario Outline: the <model> model exported in FP32
      Given a "<model>" model with seed 1, trained for one epoch on the first 200 MNIST training images
      When the model is exported to ONNX in FP32
      And ONNX Runtime runs the exported file on the first 1,000 MNIST test images
      Then ONNX Runtime's output is within 1e-4 of ptqspec's FP32 output, relative to the largest magnitude of ptqspec's output

      Examples:
        | model    |
        | mlp      |
        | cnn      |
        | residual |

  Rule: An FP32 export imports back to the same model

    Scenario: the residual model exported in FP32 and imported back, bit for bit
      Given a "residual" model with seed 1, trained for one epoch on the first 200 MNIST training images
      When the model is exported to ONNX in FP32
      And the exported file is imported back
      Then the imported model's outputs on the first 500 MNIST test images are bit-identical to the exported model's

  Rule: An int8 model exported by ptqspec computes in ONNX Runtime what it computes in ptqspec
    QDQ is what ONNX Runtime's own quantizer writes; QOperator uses the
    default domain's integer operators. Both carry ptqspec's int8 weights,
    int32 biases and activation scales, so ONNX Runtime runs the same integer
    arithmetic. One behaviour, the same outputs, is judged at two levels: the
    output values and the class they choose. Calibration uses 300 images:
    agreement does not depend on how good the scales are.

    Scenario Outline: <file> quantized with <weights> weights and <activations> activations, exported in <format>
      Given the ONNX file "<file>" that PyTorch's exporter wrote
      And ptqspec imports it
      And the model is configured with <weights> weights and <activations> activations
      When it is quantized statically to int8, calibrated on the first 300 MNIST training images in batches of 100
      And the int8 model is exported to ONNX in <format> format
      And ONNX Runtime runs the exported file on the first 1,000 MNIST test images
      Then at least 99% of ONNX Runtime's output values are within one output quantization step of ptqspec's int8 output
      And ONNX Runtime and ptqspec's int8 model agree on the top-1 class of at least 99.9% of the images

      Examples: per-channel int8 weights, int8 activations (the default)
        | file              | format    | weights                                     | activations            |
        | mnist_mlp         | QDQ       | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor |
        | mnist_mlp         | QOperator | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor |
        | mnist_lenet_bn    | QDQ       | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor |
        | mnist_lenet_bn    | QOperator | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor |
        | mnist_tiny_resnet | QDQ       | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor |

      Examples: per-tensor int8 weights, uint8 activations
        | file           | format    | weights                                    | activations             |
        | mnist_mlp      | QDQ       | int8 symmetric per-tensor over [-127, 127] | uint8 affine per-tensor |
        | mnist_lenet_bn | QOperator | int8 symmetric per-tensor over [-127, 127] | uint8 affine per-tensor |

      @slow
      Examples: the remaining combinations (ptqspec runs the residual network slowly)
        | file              | format    | weights                                     | activations             |
        | mnist_tiny_resnet | QOperator | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor  |
        | mnist_tiny_resnet | QDQ       | int8 symmetric per-tensor over [-127, 127]  | uint8 affine per-tensor |
        | mnist_lenet_bn    | QDQ       | int8 symmetric per-tensor over [-127, 127]  | uint8 affine per-tensor |
        | mnist_mlp         | QOperator | int8 symmetric per-tensor over [-127, 127]  | uint8 affine per-tensor |

    Scenario Outline: ptqspec's own <model> model quantized and exported in <format>
      Given a "<model>" model with seed 1, trained for one epoch on the first 1,000 MNIST training images
      When it is quantized statically to int8, calibrated on the first 300 MNIST training images in batches of 100
      And the int8 model is exported to ONNX in <format> format
      And ONNX Runtime runs the exported file on the first 1,000 MNIST test images
      Then at least 99% of ONNX Runtime's output values are within one output quantization step of ptqspec's int8 output
      And ONNX Runtime and ptqspec's int8 model agree on the top-1 class of at least 99.9% of the images

      Examples:
        | model | format    |
        | mlp   | QDQ       |
        | mlp   | QOperator |
        | cnn   | QDQ       |

      @slow
      Examples:
        | model | format    |
        | cnn   | QOperator |

    @slow @mnist
    Scenario Outline: the trained MNIST <model> in <format> with <weights> weights and <activations> activations, on the 10,000 test images
      Given the "<model>" model trained on MNIST for 3 epochs with seed 1
      And the model is configured with <weights> weights and <activations> activations
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the int8 model is exported to ONNX in <format> format
      And ONNX Runtime runs the exported file on the first 10,000 MNIST test images
      Then at least 99% of ONNX Runtime's output values are within one output quantization step of ptqspec's int8 output
      And ONNX Runtime and ptqspec's int8 model agree on the top-1 class of at least 99.9% of the images

      Examples:
        | model | format    | weights                                     | activations             |
        | mlp   | QDQ       | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor  |
        | cnn   | QDQ       | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor  |
        | mlp   | QOperator | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor  |
        | cnn   | QOperator | int8 symmetric per-channel over [-127, 127] | int8 affine per-tensor  |
        | mlp   | QDQ       | int8 symmetric per-tensor over [-127, 127]  | uint8 affine per-tensor |
        | cnn   | QDQ       | int8 symmetric per-tensor over [-127, 127]  | uint8 affine per-tensor |

    @slow @mnist
    Scenario Outline: <file> quantized on 1,000 training images, in ONNX Runtime on the 10,000 test images
      Given the ONNX file "<file>" that PyTorch's exporter wrote
      And ptqspec imports it
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the int8 model is exported to ONNX in QDQ format
      And ONNX Runtime runs the exported file on the first 10,000 MNIST test images
      Then at least 99% of ONNX Runtime's output values are within one output quantization step of ptqspec's int8 output
      And ONNX Runtime and ptqspec's int8 model agree on the top-1 class of at least 99.9% of the images

      Examples:
        | file              |
        | mnist_mlp         |
        | mnist_lenet_bn    |
        | mnist_tiny_resnet |

  Rule: A model imported from another framework loses less than 1 point when quantized statically
    The fast scenarios measure it on 1,000 test images; the slow ones on all
    10,000, the residual network included.

    Scenario Outline: <file> quantized on 1,000 training images
      Given the ONNX file "<file>" that PyTorch's exporter wrote
      And ptqspec imports it
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the FP32 and int8 models classify the first 1,000 MNIST test images
      Then the int8 model's accuracy is less than 1 point below the FP32 model's

      Examples:
        | file           |
        | mnist_mlp      |
        | mnist_lenet_bn |

    @slow @mnist
    Scenario Outline: <file> quantized on 1,000 training images, on the 10,000 test images
      Given the ONNX file "<file>" that PyTorch's exporter wrote
      And ptqspec imports it
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the FP32 and int8 models classify the 10,000 MNIST test images
      Then the int8 model's accuracy is less than 1 point below the FP32 model's

      Examples:
        | file              |
        | mnist_mlp         |
        | mnist_lenet_bn    |
        | mnist_tiny_resnet |
