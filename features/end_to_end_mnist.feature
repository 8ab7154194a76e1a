@spec-e2e
Feature: End-to-end quantization of MNIST classifiers
  The promise of post-training quantization, measured on real data: a
  classifier trained on MNIST and quantized to int8 classifies the test
  images almost as well as in FP32 and takes under a third of the bytes.

  Static quantization uses the default configuration: per-channel symmetric
  int8 weights, per-tensor affine int8 activations and MinMax calibration
  on the first training images. Dynamic quantization stores the same int8
  weights and quantizes each Linear layer's input per call, reading no
  data. Accuracy is counted in points: one point is 1% of the test images
  classified. The bytes of a model are those of its parameters: FP32
  weights, biases and buffers at 4 bytes each; int8 weights at 1 byte with
  their scales, int32 biases, and the scales and zero points of the
  activations.

  Which data: accuracy is measured on MNIST test images only, never on the
  training images calibration reads. The @slow scenarios use models trained
  on all 60,000 training images (seed 1, cached on disk) and classify all
  10,000 test images; the @fast ones train a small MLP for one epoch on the
  first 6,000 training images (its seed shifted by the seed offset) and
  classify the first 2,000 test images.

  Why these numbers:
  - Less than 1 point below FP32: the specification's promise. On the
    10,000 test images it is 100 images, on the first 2,000 it is 20
    images. Measured on the 10,000 test images: the static MLP gains 0.05
    points, the static CNN gains 0.01 and the dynamic MLP loses 0.01 (one
    image). On the first 2,000 the small MLP loses at most 0.3 points
    statically and 0.2 dynamically (6 and 4 images) over seed offsets
    0..100.
  - FP32 floors 97.5% (MLP) and 98.8% (CNN): the accuracies the cached
    models reach (97.75% and 98.90%) rounded down, so that the drop is
    measured on models that learnt the task; 80% for the small MLP, whose
    worst over seed offsets 0..100 is 82.2% (chance is 10%).
  - At most 30% of the bytes: an int8 weight takes 1 byte of FP32's 4
    (25%), and scales, zero points and 32-bit biases add under 1% for these
    models (measured 25.4% for the MLP, 25.5% for the CNN and the small
    MLP).

  Time: each @slow scenario has 20 minutes (@budget-20m), training on a
  cold cache included. The @fast scenarios share one small MLP, trained
  once per run by the first of them to start (about a second on an idle
  machine, with reading MNIST), so each has 5 seconds (@budget-5s).

  @slow @mnist @R-e2e-1 @budget-20m
  Rule: Trained on all of MNIST, a model loses less than one point in int8 on the full test set

    Scenario Outline: The "<model>" model, trained for 3 epochs and quantized statically with 1,000 training images
      Given the "<model>" model trained on MNIST for 3 epochs with seed 1
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      And the FP32 and int8 models classify the 10,000 MNIST test images
      Then the FP32 model's accuracy is at least <fp32 floor>%
      And the int8 model's accuracy is less than <max drop> point below the FP32 model's

      Examples:
        | model | fp32 floor | max drop |
        | mlp   | 97.5       | 1        |
        | cnn   | 98.8       | 1        |

    @R-dynamic-3
    Scenario: The "mlp" model, trained for 3 epochs and quantized dynamically
      Given the "mlp" model trained on MNIST for 3 epochs with seed 1
      When it is quantized dynamically, with int8 weights and FP32 activations
      And the FP32 and int8 models classify the 10,000 MNIST test images
      Then the FP32 model's accuracy is at least 97.5%
      And the int8 model's accuracy is less than 1 point below the FP32 model's

  @slow @mnist @R-e2e-3 @budget-20m
  Rule: The int8 MNIST models take under a third of the bytes and calibrate on the stated batches

    Scenario Outline: The statically quantized "<model>" model takes at most 30% of the FP32 bytes
      Given the "<model>" model trained on MNIST for 3 epochs with seed 1
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      Then the quantized model's parameters take at most 30% of the FP32 model's bytes

      Examples:
        | model |
        | mlp   |
        | cnn   |

    Scenario Outline: Calibration of the "<model>" model reads 10 batches of 100 training images
      Given the "<model>" model trained on MNIST for 3 epochs with seed 1
      When it is quantized statically to int8, calibrated on the first 1,000 MNIST training images in batches of 100
      Then the report records 10 calibration batches and 1000 samples

      Examples:
        | model |
        | mlp   |
        | cnn   |

  @fast @mnist @budget-5s
  Rule: A small, briefly trained model keeps its accuracy in int8 too

    Background:
      Given an MLP for MNIST with one hidden layer of 32 units, seed 1, trained for one epoch on the first 6,000 MNIST training images

    @R-e2e-2
    Scenario: Quantized statically with 200 training images, the small MLP loses less than a point
      When it is quantized statically to int8, calibrated on the first 200 MNIST training images in batches of 100
      And the FP32 and int8 models classify the first 2,000 MNIST test images
      Then the FP32 model's accuracy is at least 80%
      And the int8 model's accuracy is less than 1 point below the FP32 model's

    @R-e2e-2 @R-dynamic-3
    Scenario: Quantized dynamically, the small MLP loses less than a point
      When it is quantized dynamically, with int8 weights and FP32 activations
      And the FP32 and int8 models classify the first 2,000 MNIST test images
      Then the FP32 model's accuracy is at least 80%
      And the int8 model's accuracy is less than 1 point below the FP32 model's

    @R-e2e-3
    Scenario: The statically quantized small MLP takes at most 30% of the FP32 bytes
      When it is quantized statically to int8, calibrated on the first 200 MNIST training images in batches of 100
      Then the quantized model's parameters take at most 30% of the FP32 model's bytes

    @R-e2e-3
    Scenario: Calibration of the small MLP reads 2 batches of 100 training images
      When it is quantized statically to int8, calibrated on the first 200 MNIST training images in batches of 100
      Then the report records 2 calibration batches and 200 samples
