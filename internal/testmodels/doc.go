// Package testmodels holds models built for tests and the acceptance
// suite, not for users: FragileMLP, a small classifier whose chosen layers
// are deliberately fragile under quantization, for the sensitivity and
// fallback tests of ptq and the features.
//
// # Overview
//
// FragileMLP trains a seeded MLP on separable blobs, kills one hidden unit
// per chosen Linear layer so that one of the next layer's inputs is always
// 0, and puts a weight outlier on that input: the outlier changes nothing
// in FP32 but stretches the layer's per-tensor int8 range, so quantizing
// that layer costs accuracy. AddWeightOutliers does the same to any
// model's Linear layer.
//
// # Invariants
//
//   - The same FragileConfig gives bit-identical weights and data.
//   - Outliers never change the FP32 model's outputs: they sit on inputs
//     that are always 0.
package testmodels
