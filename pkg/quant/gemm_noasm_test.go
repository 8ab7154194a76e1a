//go:build noasm || !amd64

package quant

// scalarPackKernel does not exist in builds without assembly.
var scalarPackKernel func(dst, src []byte, rows, k, quads int, flip uint32)
