@fast @spec-fallback
Feature: Per-layer FP32 fallback keeps chosen layers in floating point
  Some layers lose too much in int8. An override keeps layers in FP32 by
  exact name, by name pattern (* matches any run of characters, ? one
  character, [..] a class) or by kind, and every other layer stays int8.
  Where int8 data enters an FP32 layer the plan places a dequantize step,
  and where FP32 data enters an int8 layer a quantize step. Layers that
  run on int8 data as it is (ReLU, pooling, Flatten) run in FP32 when an
  FP32 layer feeds them.

  The accuracy-aware fallback chooses the layers itself: it quantizes
  every layer, and while the accuracy on the selection samples is more
  than a budget below FP32's, reverts one more layer to FP32, in order of
  decreasing recovery (the accuracy gained by keeping that layer alone in
  FP32) in a sensitivity analysis on the same samples, recording the
  accuracy after each step. Keeping the k most sensitive layers in FP32
  chooses on such an analysis too.

  Which data. Layers are chosen on one set of samples and judged on
  another: the sensitivity analysis and the fallback measure, and choose,
  on the 400 selection samples; every "accuracy on the test samples"
  below is measured on 400 other test samples, and the fallback's own
  record on the selection samples. No sample is in two of the training
  (calibration), selection and test sets.

  Accuracy is counted in points: one point is 1% of the samples, 4 of
  400. The blob classifier is the one of sensitivity_analysis.feature,
  built rather than trained so that the numbers below hold for every seed
  offset: an MLP linear1 (9->9), relu1, linear2 (9->9), relu2, linear3
  (9->8) that classifies 8 well-separated Gaussian blobs in 9 features
  with a logit margin of at least 1, 100% in FP32, calibrated on its 800
  training samples in batches of 100. Outlier weights of 1000 on an
  always-zero input of a layer leave FP32 bit-identical and reduce that
  layer to its bias in int8: the model then predicts one class, 12.5%
  (chance). Outliers of 100 on linear2 lose exactly its 2 weak classes of
  8 in int8, 25 points, and nothing else.

  Why these thresholds:
  - 0.25 points is one sample in 400: where no wrecked layer is int8, int8
    rounds a logit by at most 0.12, below half the margin of 1, so no
    sample changes class.
  - 87.5 points: the wrecked model is at chance, 100 - 12.5.
  - 12.5%, 75% and 100%: the accuracy with linear1 in int8 (chance), with
    only linear2's 2 weak classes of 8 lost, and with neither fragile
    layer in int8.
  - 90, 35 and 1 points of budget: the all-int8 model is 87.5 points
    below FP32, 25 with linear1 reverted, 0 with linear2 reverted too;
    each budget falls between two of them.
  - 70% of the FP32 bytes: linear2 kept in FP32 holds 90 of the 260
    parameters (360 of 1,040 bytes); linear1 and linear3 in int8 take a
    byte per weight and 12 per output unit (int32 bias, weight scale and
    zero point), 357 bytes: 717 bytes in all, 68.9%.

  @R-fallback-1
  Rule: Layers are kept in FP32 by name, by pattern or by kind, behind dequantize and quantize steps

    Background:
      Given a model for 1x8x8 inputs with the layers Conv2D 1->4 3x3 padding 1, ReLU, Conv2D 4->4 3x3 padding 1, ReLU, Flatten, Linear 256->16, ReLU, Linear 16->3
      And a calibration set of 128 standard normal samples in batches of 32
      And a held-out set of 32 standard normal samples

    Scenario Outline: Keeping the layers selected by <selector> "<value>" in FP32
      Given an override keeps the layers selected by <selector> "<value>" in FP32
      When the model is quantized statically
      Then the report shows the layers <kept> in FP32 with a reason naming the override
      And on the held-out set the nodes <fp32 nodes> output FP32 and every other node outputs int8

      Examples:
        | selector | value   | kept                       | fp32 nodes                               |
        | name     | conv2d2 | conv2d2                    | conv2d2, relu2, flatten1                 |
        | pattern  | *2      | conv2d2, relu2 and linear2 | conv2d2, relu2, flatten1, linear2        |
        | pattern  | linear* | linear1 and linear2        | linear1, relu3, linear2                  |
        | kind     | Conv2D  | conv2d1 and conv2d2        | conv2d1, relu1, conv2d2, relu2, flatten1 |

    Scenario Outline: The layers selected by <selector> "<value>" sit behind dequantize and quantize steps
      Given an override keeps the layers selected by <selector> "<value>" in FP32
      When the model is quantized statically
      Then the plan has exactly the boundaries <boundaries>

      Examples:
        | selector | value   | boundaries                                                                                                  |
        | name     | conv2d2 | quantize input->conv2d1, dequantize relu1->conv2d2, quantize flatten1->linear1, dequantize linear2->output |
        | pattern  | *2      | quantize input->conv2d1, dequantize relu1->conv2d2, quantize flatten1->linear1, dequantize relu3->linear2  |
        | pattern  | linear* | quantize input->conv2d1, dequantize flatten1->linear1                                                       |
        | kind     | Conv2D  | quantize flatten1->linear1, dequantize linear2->output                                                      |

  @R-fallback-2
  Rule: Keeping the fragile layer in FP32 restores the accuracy int8 loses

    Background:
      Given the blob classifier, calibrated on its 800 training samples in batches of 100
      And outlier weights of 1000 on linear1

    Scenario: In int8 the fragile layer brings the accuracy down to chance
      When the model is quantized statically
      Then the quantized model's accuracy on the test samples is at least 87.5 points below FP32's

    Scenario: With the fragile layer in FP32 no test sample is lost
      Given an override keeps the layers selected by name "linear1" in FP32
      When the model is quantized statically
      Then the quantized model's accuracy on the test samples is within 0.25 points of FP32's

    Scenario: Only the fragile layer is kept in FP32
      Given an override keeps the layers selected by name "linear1" in FP32
      When the model is quantized statically
      Then the layers linear2 and linear3 hold int8 weights

  @R-fallback-2
  Rule: A mixed-precision model runs, and its accuracy is measured

    Background:
      Given the blob classifier, calibrated on its 800 training samples in batches of 100
      And an override keeps the layers selected by name "linear2" in FP32

    Scenario: linear2 runs in FP32 between int8 layers
      When the model is quantized statically
      Then running the held-out set through the quantized model gives these output types:
        | node    | output |
        | linear1 | int8   |
        | relu1   | int8   |
        | linear2 | fp32   |
        | relu2   | fp32   |
        | linear3 | int8   |

    Scenario: The mixed-precision model loses no test sample
      When the model is quantized statically
      Then the quantized model's accuracy on the test samples is within 0.25 points of FP32's

    Scenario: The mixed-precision model is smaller than FP32
      When the model is quantized statically
      Then the quantized model's parameters take at most 70% of the FP32 model's bytes

  @R-fallback-3
  Rule: Keeping the most sensitive layers in FP32 never does worse than all-int8

    Background:
      Given the blob classifier, calibrated on its 800 training samples in batches of 100
      And outlier weights of 1000 on linear1 and 100 on linear2

    Scenario Outline: The <k> most sensitive layers in FP32
      When the <k> most sensitive layers by a sensitivity analysis on the selection samples are kept in FP32 and the others quantized to int8
      Then the layers kept in FP32 are <kept>
      And the quantized model's accuracy on the test samples is at least the all-int8 model's and at least <accuracy>%

      Examples:
        | k | kept                         | accuracy |
        | 0 | none                         | 12.5     |
        | 1 | linear1                      | 75       |
        | 2 | linear1 and linear2          | 100      |
        | 3 | linear1, linear2 and linear3 | 100      |

  @R-fallback-4
  Rule: The accuracy-aware fallback reverts layers by recovery until the drop fits the budget

    Background:
      Given the blob classifier, calibrated on its 800 training samples in batches of 100
      And outlier weights of 1000 on linear1 and 100 on linear2

    Scenario Outline: A budget of <budget> points
      When the model is quantized with a budget of at most <budget> points of accuracy drop on the selection samples
      Then the layers reverted to FP32 are, in order, <reverted>
      And the quantized model's accuracy on the test samples is at most <budget> points below FP32's

      Examples:
        | budget | reverted            |
        | 90     | none                |
        | 35     | linear1             |
        | 1      | linear1 and linear2 |

    Scenario: The layers are reverted in order of recovery
      When the model is quantized with a budget of at most 1 points of accuracy drop on the selection samples
      Then they were reverted in order of decreasing recovery in the sensitivity analysis

    Scenario: The fallback records the accuracy after every step
      When the model is quantized with a budget of at most 1 points of accuracy drop on the selection samples
      Then after each reverted layer the fallback recorded the accuracy on the selection samples of the model with the layers reverted so far in FP32
