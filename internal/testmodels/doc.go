// Package testmodels holds models built for tests and the acceptance
// suite, not for users: FragileMLP, a small classifier whose chosen layers
// are deliberately fragile under quantization, for the sensitivity and
// fallback tests of ptq and the features.
//
// # Overview
//
// FragileMLP builds, rather than trains, an MLP linear1, relu1, linear2,
// relu2, linear3 that classifies Gaussian blobs, one class per input
// axis, with a stated logit margin for every sample it can be given
// (FragileTask.Margin), and draws disjoint training, selection and test
// sets. Its weights are -1, 0 and 1, except the paths of two weak classes
// (1/3 in linear2, 3 in linear3). The last input feature and the last
// unit of each hidden layer are always 0; an outlier weight on such an
// input changes nothing in FP32 but makes every int8 step of the layer
// the outlier over 127, and so rounds the layer's weights below half a
// step to 0. Which weights that is follows from the magnitude, not from
// any training: 1000 leaves any layer its bias only (the model predicts
// one class, 1 in 8 right), 100 on linear2 loses the two weak classes
// only (6 in 8 right). AddWeightOutliers does the same to any model's
// Linear layer.
//
// # Invariants
//
//   - The same FragileConfig gives bit-identical weights and data.
//   - Outliers never change the FP32 model's outputs: they sit on inputs
//     that are always 0.
//   - In FP32 the logit of a sample's class leads every other logit by at
//     least Margin, for every seed; no sample is in two of the sets, and
//     sample i of a set is of class i mod Classes.
package testmodels
