@fast @spec-sensitivity
Feature: Sensitivity analysis ranks the layers by what int8 costs them
  Before keeping layers in FP32, a user needs to know which layers int8
  hurts. For every layer the configuration quantizes, the analysis measures
  the model's metric in two views:

    only this layer int8   every other layer stays FP32; the layer's drop
                           is the FP32 metric minus this one
    only this layer FP32   every other layer is int8; the layer's recovery
                           is this metric minus the all-int8 model's

  and the SQNR of the layer's own output against FP32 when it alone is
  int8. On labelled samples the metric is top-1 accuracy, counted in
  points (one point is 1% of the samples); on unlabelled samples it is the
  SQNR of the model's output against FP32, in dB, identical outputs
  scoring 200 dB. Layers are ranked by the larger of their drop and
  recovery, most sensitive first; a layer whose drop or recovery reaches
  the threshold is sensitive.

  The blob classifier is an MLP linear1 (9->32), relu1, linear2 (32->32),
  relu2, linear3 (32->8), trained with seed 7 for 15 epochs on 800 samples
  of 8 Gaussian blobs in 9 features with spread 4; 400 more samples are
  held out, and the 800 calibrate in batches of 100. The last feature of
  every sample is 0, and so are the last units of relu1 and relu2. Outlier
  weights on one of these always-zero inputs of a layer leave the FP32
  outputs bit-identical, but make every int8 weight step of the layer the
  outlier divided by 127: with 1000, the layer is deliberately fragile.

  @R-sensitivity-1
  Rule: Every quantizable layer is reported in both views, with its SQNR

    Scenario: A classifier without outliers loses little in any layer
      Given the blob classifier without outlier weights
      When the sensitivity of its layers is analysed on the held-out samples
      Then the analysis reports the layers linear1, linear2 and linear3, each with its metric in both views, its drop, its recovery and its SQNR
      And no layer's drop or recovery exceeds 1 point
      And every layer's SQNR is at least 30 dB
      And the all-int8 model's accuracy is within 1 point of FP32's

  @R-sensitivity-2
  Rule: A deliberately fragile layer ranks first in both views

    Scenario Outline: Outlier weights of 1000 on <layer>
      Given the blob classifier with outlier weights of 1000 on <layer>
      When the sensitivity of its layers is analysed on the held-out samples
      Then "<layer>" is the most sensitive layer
      And "<layer>" ranks first both by drop and by recovery, at least 50 points ahead of every other layer in each
      And the SQNR of "<layer>" is below 3 dB and that of every other layer at least 30 dB

      Examples:
        | layer   |
        | linear1 |
        | linear2 |
        | linear3 |

  @R-sensitivity-2
  Rule: The threshold decides which layers are sensitive

    Scenario Outline: A threshold of <threshold> points
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the sensitivity of its layers is analysed on the held-out samples with a threshold of <threshold> points
      Then the sensitive layers, in rank order, are <sensitive>

      Examples:
        | threshold | sensitive           |
        | 5         | linear1 and linear2 |
        | 40        | linear1             |
        | 90        | none                |

  @R-sensitivity-3
  Rule: Without labels the metric is the output SQNR against FP32

    Scenario: Unlabelled held-out samples
      Given the blob classifier with outlier weights of 1000 on linear1
      And the held-out samples have no labels
      When the sensitivity of its layers is analysed on the held-out samples
      Then the metric is the output SQNR in dB, the FP32 model scoring 200 dB
      And "linear1" is the most sensitive layer
      And with only "linear1" in int8 the output SQNR is below 3 dB, and with only any other layer in int8 at least 30 dB
      And keeping only "linear1" in FP32 raises the output SQNR over the all-int8 model's by at least 30 dB

  @R-sensitivity-3
  Rule: The result does not depend on how many layers are analysed at once

    Scenario: One worker, then one worker per core
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the sensitivity of its layers is analysed on the held-out samples once with 1 worker and once with one worker per core
      Then both analyses rank the layers alike, with bit-identical numbers for every layer

  @R-sensitivity-4
  Rule: The analysis is written as Markdown, CSV and JSON

    Scenario: Markdown and CSV tables list the layers in rank order
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the sensitivity of its layers is analysed on the held-out samples with a threshold of 5 points
      Then the Markdown report is a table with the columns rank, layer, kind, only this int8, only this FP32, drop, recovery, SQNR dB and sensitive, one row per layer in rank order, accuracies in % to 2 decimals
      And the CSV report has the header "rank,layer,kind,only_this_int8,only_this_fp32,drop,recovery,sqnr_db,sensitive" and one row per layer in rank order, numbers to 6 decimals

    Scenario: The JSON report follows its schema "ptqspec.sensitivity/v1"
      Given the blob classifier with outlier weights of 1000 on linear1 and 100 on linear2
      When the sensitivity of its layers is analysed on the held-out samples with a threshold of 5 points
      Then the JSON report is an object with exactly these fields, in this order:
        | field     | type             | value                    |
        | schema    | string           | "ptqspec.sensitivity/v1" |
        | metric    | string           | "accuracy"               |
        | fp32      | number           |                          |
        | all_int8  | number           |                          |
        | threshold | number           | 0.05                     |
        | samples   | integer          | 400                      |
        | layers    | array of objects |                          |
        | sensitive | array of strings | ["linear1","linear2"]    |
        | seconds   | number           |                          |
      And every object in "layers" has exactly these fields, in this order:
        | field          | type    |
        | layer          | string  |
        | kind           | string  |
        | only_this_int8 | number  |
        | only_this_fp32 | number  |
        | drop           | number  |
        | recovery       | number  |
        | sqnr_db        | number  |
        | sensitive      | boolean |
      And the JSON report reads back into the same analysis
