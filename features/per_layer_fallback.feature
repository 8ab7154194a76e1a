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
  every layer, and while the accuracy on held-out samples is more than a
  budget below FP32's, reverts one more layer to FP32, in order of
  decreasing recovery (the accuracy gained by keeping that layer alone in
  FP32) in a sensitivity analysis, recording the accuracy after each step.

  Accuracy is counted in points: one point is 1% of the held-out samples.
  The blob classifier is the one of the sensitivity analysis: an MLP
  linear1 (9->32), relu1, linear2 (32->32), relu2, linear3 (32->8) trained
  on 800 samples of 8 Gaussian blobs in 9 features with spread 4, with 400
  held-out samples, calibrated on the 800 in batches of 100. Outlier
  weights of 1000 on an always-zero input of a layer leave FP32 unchanged
  and wreck that layer in int8; outliers of 100 damage it partly.

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
      And the plan has exactly the boundaries <boundaries>

      Examples:
        | selector | value   | kept                          | fp32 nodes                                | boundaries                                                                                                  |
        | name     | conv2d2 | conv2d2                       | conv2d2, relu2, flatten1                  | quantize input->conv2d1, dequantize relu1->conv2d2, quantize flatten1->linear1, dequantize linear2->output |
        | pattern  | *2      | conv2d2, relu2 and linear2    | conv2d2, relu2, flatten1, linear2         | quantize input->conv2d1, dequantize relu1->conv2d2, quantize flatten1->linear1, dequantize relu3->linear2  |
        | pattern  | linear* | linear1 and linear2           | linear1, relu3, linear2                   | quantize input->conv2d1, dequantize flatten1->linear1                                                       |
        | kind     | Conv2D  | conv2d1 and conv2d2           | conv2d1, relu1, conv2d2, relu2, flatten1  | quantize flatten1->linear1, dequantize linear2->output                                                      |

  @R-fallback-2
  Rule: Keeping the fragile layer in FP32 restores the accuracy int8 loses

    Scenario: In int8 the fragile layer costs more than 50 points
      Given the blob classifier with outlier weights of 1000 on linear1
      And its accuracy on the held-out samples is at least 85%
      When the model is quantized statically
      Then the quantized model's accuracy on the held-out samples is at least 50 points below FP32's

    Scenario: With the fragile layer in FP32 the accuracy is within 1 point of FP32's
      Given the blob classifier with outlier weights of 1000 on linear1
      And an override keeps the layers selected by name "linear1" in FP32
      When the model is quantized statically
      Then the quantized model's accuracy on the held-out samples is within 1 point of FP32's
      And the layers linear2 and linear3 hold int8 weights

  @R-fallback-2
  Rule: A mixed-precision model runs, and its accuracy is measured

    Scenario: linear2 in FP32 between int8 layers
      Given the blob classifier without outlier weights
      And an override keeps the layers selected by name "linear2" in FP32
      When the model is quantized statically
      Then running the held-out set through the quantized model gives these output types:
        | node    | output |
        | linear1 | int8   |
        | relu1   | int8   |
        | linear2 | fp32   |
        | relu2   | fp32   |
        | linear3 | int8   |
      And the quantized model's accuracy on the held-out samples is within 1 point of FP32's
      And the quantized model's parameters take at most 85% of the FP32 model's bytes

  @R-fallback-3
  Rule: Keeping the most sensitive layers in FP32 never does worse than all-int8

    Scenario Outline: The <k> most sensitive layers in FP32
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the <k> most sensitive layers by a sensitivity analysis are kept in FP32 and the others quantized to int8
      Then the layers kept in FP32 are <kept>
      And the quantized model's accuracy on the held-out samples is at least the all-int8 model's and at least <accuracy>%

      Examples:
        | k | kept                         | accuracy |
        | 0 | none                         | 12       |
        | 1 | linear1                      | 60       |
        | 2 | linear1 and linear2          | 88       |
        | 3 | linear1, linear2 and linear3 | 88       |

  @R-fallback-4
  Rule: The accuracy-aware fallback reverts layers by recovery until the drop fits the budget

    Scenario Outline: A budget of <budget> points
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the model is quantized with a budget of at most <budget> points of accuracy drop
      Then the layers reverted to FP32 are, in order, <reverted>
      And they were reverted in order of decreasing recovery in the sensitivity analysis
      And after each reverted layer the fallback recorded the accuracy of the model with the layers reverted so far in FP32
      And the quantized model's accuracy on the held-out samples is at most <budget> points below FP32's

      Examples:
        | budget | reverted            |
        | 85     | none                |
        | 35     | linear1             |
        | 1      | linear1 and linear2 |
