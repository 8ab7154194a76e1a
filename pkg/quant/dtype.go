package quant

import "fmt"

// DType is an integer element type of quantized data.
type DType int

const (
	// Int8 is signed 8-bit, [-128, 127].
	Int8 DType = iota
	// UInt8 is unsigned 8-bit, [0, 255].
	UInt8
	// Int32 is signed 32-bit, used for accumulators and biases.
	Int32
)

// String returns the ONNX-style name: "int8", "uint8" or "int32".
func (d DType) String() string {
	switch d {
	case Int8:
		return "int8"
	case UInt8:
		return "uint8"
	case Int32:
		return "int32"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Bounds returns the full representable range [qmin, qmax] of the type.
func (d DType) Bounds() (qmin, qmax int32) {
	switch d {
	case Int8:
		return -128, 127
	case UInt8:
		return 0, 255
	case Int32:
		return -1 << 31, 1<<31 - 1
	}
	panic(fmt.Sprintf("quant: bounds of unknown %v", d))
}
