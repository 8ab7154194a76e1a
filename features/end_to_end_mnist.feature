@spec-e2e
Feature: End-to-end static quantization of MNIST classifiers
  The promise of post-training quantization, measured on real data: a
  classifier trained on MNIST and quantized statically to int8, with
  calibration on a small part of its training images only, classifies the
  test images almost as well as in FP32 and takes under a third of the
  bytes.

  Quantization uses the default configuration: per-channel symmetric int8
  weights, per-tensor affine int8 activations and MinMax calibration on
  the first training images. Accuracy is counted in points: one point is
  1% of the test images classified. The bytes of a model are those of its
  parameters: FP32 weights, biases and buffers at 4 bytes each; int8
  weights at 1 byte with their scales, int32 biases, and the scales and
  zero points of the activations.

  Time: a @fast scenario has 2 seconds; each @slow scenario has 20
  minutes (@budget-20m), training on a cold cache included.

  @slow @mnist @R-e2e-1 @R-e2e-3 @budget-20m
  Rule: Trained on all of MNIST, a model loses less than one point in int8 on the full test set

    Scenario Outline: The "<model>" model, trained for 3 epochs and calibrated on 1,000 training images
      Given the "<model>" model trained on MNIST for 3 epochs with seed 1
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the FP32 and int8 models classify the 10,000 MNIST test images
      Then the FP32 model's accuracy is at least <fp32 floor>%
      And the int8 model's accuracy is less than <max drop> point below the FP32 model's
      And the quantized model's parameters take at most 30% of the FP32 model's bytes
      And the report records 10 calibration batches and 1000 samples

      Examples:
        | model | fp32 floor | max drop |
        | mlp   | 97.5       | 1        |
        | cnn   | 98.8       | 1        |

  @fast @mnist @R-e2e-2 @R-e2e-3
  Rule: A small, briefly trained model keeps its accuracy in int8 too

    Scenario: A small MLP trained for one epoch on 6,000 images and calibrated on 200
      Given an MLP for MNIST with one hidden layer of 32 units, seed 1, trained for one epoch on the first 6,000 MNIST training images
      When it is quantized statically to int8, calibrated on the first 200 MNIST training images in batches of 100
      And the FP32 and int8 models classify the first 2,000 MNIST test images
      Then the FP32 model's accuracy is at least 80%
      And the int8 model's accuracy is less than 1 point below the FP32 model's
      And the quantized model's parameters take at most 30% of the FP32 model's bytes
      And the report records 2 calibration batches and 200 samples
