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

  Which data. The analysis is how layers get chosen, so every number it
  reports is measured on the samples it is given, the selection samples,
  and the report names them. Here they are 400 samples of their own: none
  is among the 800 training samples that calibrate, nor among the 400 test
  samples on which per_layer_fallback.feature judges the layers chosen.
  Every number in this feature is measured on the selection samples.

  The blob classifier is built, not trained, so that what int8 does to it
  follows from its weights for every seed offset. It tells 8 classes apart
  in 9 features: class k's center lies 8 from the origin on a feature of
  its own (which feature and which side are drawn from the seed), and a
  sample is its center plus noise of spread 1, cut at 3, in every feature
  but the last, which is always 0. The MLP linear1 (9->9), relu1, linear2
  (9->9), relu2, linear3 (9->8) computes each class's evidence, the
  sample's value on the class's feature, in linear1 (weights 1 and -1) and
  passes it on to the class's logit (weights 1), except for two weak
  classes, drawn from the seed, whose evidence linear2 scales by 1/3 and
  linear3 by 3, with a bias of -1. The last unit of relu1 and of relu2 is
  always 0. A sample's own evidence is at least 8 - 3 = 5 and any other at
  most 3, so its own logit leads every other by at least 1: FP32 gets 100%
  of every set. Int8 gets the same: its activation steps are about 1/255
  of a range of 11, which rounds a logit by at most 0.12 (0.11 measured
  over seed offsets 0 to 5), less than half the lead, and clipping to the
  range seen in calibration only lowers the largest own-class logits,
  which stay above every other.

  An outlier weight of M on an always-zero input of a layer (the last
  feature for linear1, the last hidden unit for linear2 and linear3)
  leaves FP32 bit-identical, but makes the layer's int8 weight step M/127,
  so every weight of the layer below M/254 rounds to 0. With 1000 (a step
  of 7.9) every other weight of the layer, at most 3, rounds to 0: the
  layer outputs its bias alone, the same for every sample, the model
  predicts one class for all of them, and the accuracy is 12.5% (50 of 400
  samples, chance). With 100 on linear2 (a step of 0.79) the weak classes'
  weights of 1/3 round to 0 and every other weight of 1 to 0.79 alike:
  exactly the 2 weak classes of 8 are lost, 25 points.

  Why these thresholds:
  - 0.25 points is one sample in 400: without outliers no sample changes
    class in int8, since the error per logit stays below half the margin.
  - 38 dB: an int8 activation step of 1/255 of the range puts a robust
    layer's own error, and the output error with one robust layer in int8,
    about 43 dB below the signal; the lowest over seed offsets 0 to 299 was
    41.0 dB, and 38 dB leaves 3 dB below that.
  - 1 dB: a layer that outputs only its bias errs by as much as its signal,
    0 dB.
  - 87.5 points: a wrecked layer drops the accuracy from 100% to chance,
    12.5%, in both views, while every other layer costs nothing.
  - 5, 40 and 90 points: with 1000 on linear1 and 100 on linear2 the drops
    are 87.5 (linear1), 25 (linear2) and 0 (linear3) points; each threshold
    falls between two of them.
  - 35 dB: two robust int8 layers together put the output about 40 dB
    below the signal (each about 43 dB), against 0 dB for the all-int8
    model; the least gain over seed offsets 0 to 299 was 41.5 dB.

  Background:
    Given the blob classifier, calibrated on its 800 training samples in batches of 100

  @R-sensitivity-1
  Rule: Every quantizable layer is reported in both views, with its SQNR, on the selection samples it names

    Scenario: Every layer is reported
      When the sensitivity of its layers is analysed on the selection samples
      Then the analysis reports the layers linear1, linear2 and linear3, each with its metric in both views, its drop, its recovery and its SQNR

    Scenario: The analysis names the data it measured on
      When the sensitivity of its layers is analysed on the selection samples
      Then the analysis says it measured every number on the 400 selection samples, none of them a calibration or test sample

    Scenario: Without outliers no layer costs a sample
      When the sensitivity of its layers is analysed on the selection samples
      Then no layer's drop or recovery exceeds 0.25 points
      And the all-int8 model's accuracy is within 0.25 points of FP32's

    Scenario: Without outliers every layer's own SQNR is at least 38 dB
      When the sensitivity of its layers is analysed on the selection samples
      Then every layer's SQNR is at least 38 dB

  @R-sensitivity-2
  Rule: A deliberately fragile layer ranks first in both views

    Scenario Outline: Outlier weights of 1000 on <layer> rank it first
      Given outlier weights of 1000 on <layer>
      When the sensitivity of its layers is analysed on the selection samples
      Then "<layer>" is the most sensitive layer
      And "<layer>" ranks first both by drop and by recovery, at least 87.5 points ahead of every other layer in each

      Examples:
        | layer   |
        | linear1 |
        | linear2 |
        | linear3 |

    Scenario Outline: Outlier weights of 1000 on <layer> ruin its own SQNR only
      Given outlier weights of 1000 on <layer>
      When the sensitivity of its layers is analysed on the selection samples
      Then the SQNR of "<layer>" is below 1 dB and that of every other layer at least 38 dB

      Examples:
        | layer   |
        | linear1 |
        | linear2 |
        | linear3 |

  @R-sensitivity-2
  Rule: The threshold decides which layers are sensitive

    Background:
      Given outlier weights of 1000 on linear1 and 100 on linear2

    Scenario Outline: A threshold of <threshold> points
      When the sensitivity of its layers is analysed on the selection samples with a threshold of <threshold> points
      Then the sensitive layers, in rank order, are <sensitive>

      Examples:
        | threshold | sensitive           |
        | 5         | linear1 and linear2 |
        | 40        | linear1             |
        | 90        | none                |

  @R-sensitivity-3
  Rule: Without labels the metric is the output SQNR against FP32

    Background:
      Given outlier weights of 1000 on linear1
      And the selection samples have no labels

    Scenario: The metric is the output SQNR
      When the sensitivity of its layers is analysed on the selection samples
      Then the metric is the output SQNR in dB, the FP32 model scoring 200 dB

    Scenario: Only the fragile layer in int8 ruins the output
      When the sensitivity of its layers is analysed on the selection samples
      Then "linear1" is the most sensitive layer
      And with only "linear1" in int8 the output SQNR is below 1 dB, and with only any other layer in int8 at least 38 dB

    Scenario: Only the fragile layer in FP32 restores the output
      When the sensitivity of its layers is analysed on the selection samples
      Then keeping only "linear1" in FP32 raises the output SQNR over the all-int8 model's by at least 35 dB

  @R-sensitivity-3
  Rule: The result does not depend on how many layers are analysed at once

    Scenario: One worker, then one worker per core
      Given outlier weights of 1000 on linear1 and 100 on linear2
      When the sensitivity of its layers is analysed on the selection samples once with 1 worker and once with one worker per core
      Then both analyses rank the layers alike, with bit-identical numbers for every layer

  @R-sensitivity-4
  Rule: The analysis is written as Markdown, CSV and JSON

    Background:
      Given outlier weights of 1000 on linear1 and 100 on linear2

    Scenario: The Markdown table lists the layers in rank order
      When the sensitivity of its layers is analysed on the selection samples with a threshold of 5 points
      Then the Markdown report is a table with the columns rank, layer, kind, only this int8, only this FP32, drop, recovery, SQNR dB and sensitive, one row per layer in rank order, accuracies in % to 2 decimals

    Scenario: The CSV table lists the layers in rank order
      When the sensitivity of its layers is analysed on the selection samples with a threshold of 5 points
      Then the CSV report has the header "rank,layer,kind,only_this_int8,only_this_fp32,drop,recovery,sqnr_db,sensitive" and one row per layer in rank order, numbers to 6 decimals

    Scenario: The JSON report follows its schema "ptqspec.sensitivity/v1"
      When the sensitivity of its layers is analysed on the selection samples with a threshold of 5 points
      Then the JSON report is an object with exactly these fields, in this order:
        | field     | type             | value                    |
        | schema    | string           | "ptqspec.sensitivity/v1" |
        | metric    | string           | "accuracy"               |
        | fp32      | number           |                          |
        | all_int8  | number           |                          |
        | threshold | number           | 0.05                     |
        | selection | string           |                          |
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
