//go:build !race

package ortrun_test

// raceBuild is set under the race detector, which slows ptqspec's kernels
// about tenfold: the acceptance tests then run on fewer images.
const raceBuild = false
