// Package modelcache trains the reference MNIST models once and keeps them
// on disk, so the acceptance features and the command line reuse them.
//
// # Overview
//
// Get(name, seed, epochs) returns the model of pkg/models named name
// ("mlp", "cnn", ...), initialised with seed and trained for epochs on the
// 60,000 MNIST training images with the settings of
// models.DefaultTrainConfig(name) (the shuffling seed is seed), with its
// TrainInfo (test accuracy, timing). The first call
// trains and stores the model; later calls, in this or any other process,
// load it. Train trains without the cache (ptq train uses
// it, with an optional limit on the training images).
//
// The cache folder is $PTQSPEC_CACHE if set, otherwise .cache/models at the
// root of the ptqspec module found from the working directory (git-ignored),
// otherwise ptqspec/models under the user's cache directory.
//
// # Invariants
//
//   - An entry is keyed by everything that shaped it: model name, seed,
//     epochs, FormatVersion (bumped when the data, the training code or
//     the file format changes) and a fingerprint of the initial weights and
//     the recipe, as in "mlp-s1-e3-v2-6c1f0a3b".
//   - Entries are written atomically (temporary file, then rename), so a
//     reader never sees half a model; an unreadable or mismatched entry is
//     retrained and replaced, never returned.
//   - Get returns a graph of its own on every call: callers may quantize or
//     retrain it without affecting other callers.
//   - Concurrent Gets of one key in a process train at most once.
package modelcache
