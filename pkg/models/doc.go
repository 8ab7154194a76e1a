// Package models builds the seeded reference models that the command-line
// tool, the acceptance suite and the PTQ tests train and quantize.
//
// # Overview
//
// MLP and SmallCNN classify MNIST-shaped images ([1, 28, 28] per sample,
// 10 classes); ResidualCNN has a skip connection (an Add node whose inputs
// are a block's output and the block's input), for testing quantization on
// graphs that are not plain chains, and takes any image shape. ByName maps
// the names the command line accepts ("mlp", "cnn", "residual") to
// builders, and DefaultTrainConfig gives the recommended training settings
// for each. (The fragile MLP of the sensitivity and fallback tests is a
// test fixture: internal/testmodels.)
//
// # Invariants
//
//   - Every builder is deterministic: the same seed gives bit-identical
//     initial weights (math/rand/v2 PCG), and different seeds give
//     different weights.
//   - Node names are stable, since reports, tests and feature files refer
//     to them: Sequential's names ("conv2d1", "batchnorm2d1", "linear1") for
//     MLP and SmallCNN, and the names listed on ResidualCNN for it.
//   - Every model's output is per-sample logits [classes]; no softmax.
package models
