//go:build amd64 && !noasm

package quant

// scalarPackKernel is the one-group-at-a-time packing kernel, which the
// vector one uses for what its 4×4 blocks leave.
var scalarPackKernel = packQuadsAsm
