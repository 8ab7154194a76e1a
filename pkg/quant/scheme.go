package quant

import (
	"fmt"
	"strings"
)

// Scheme says where the real zero sits on the integer grid.
type Scheme int

const (
	// Affine (asymmetric) quantization maps [min, max] (widened to include
	// 0) onto the whole integer range; the zero point is chosen so that
	// real 0 is exactly representable.
	Affine Scheme = iota
	// Symmetric quantization maps [-a, a], a = max(|min|, |max|), onto the
	// integer range with zero point 0 (int8) or the middle code (uint8).
	Symmetric
)

// String returns "affine" or "symmetric".
func (s Scheme) String() string {
	switch s {
	case Affine:
		return "affine"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// Granularity says how many (scale, zero point) pairs a tensor gets.
type Granularity int

const (
	// PerTensor uses one scale and zero point for the whole tensor.
	PerTensor Granularity = iota
	// PerChannel uses one scale and zero point per index of Spec.Axis.
	PerChannel
)

// String returns "per-tensor" or "per-channel".
func (g Granularity) String() string {
	switch g {
	case PerTensor:
		return "per-tensor"
	case PerChannel:
		return "per-channel"
	}
	return fmt.Sprintf("Granularity(%d)", int(g))
}

// Spec describes how one tensor is to be quantized. The zero value is
// int8 affine per-tensor over the full range [-128, 127], which is
// ActivationDefault.
type Spec struct {
	// DType is the integer type, Int8 or UInt8.
	DType DType
	// Scheme is Affine or Symmetric.
	Scheme Scheme
	// Granularity is PerTensor or PerChannel.
	Granularity Granularity
	// Axis is the channel dimension for PerChannel (0 for Linear and
	// Conv2D weights, which store output channels first). It is ignored
	// for PerTensor.
	Axis int
	// Restricted drops the most negative int8 code: symmetric int8 over
	// [-127, 127] as ONNX Runtime and TFLite quantize weights, so that w and
	// -w quantize to opposite codes. False is PyTorch's full [-128, 127].
	// It needs Int8 and Symmetric.
	Restricted bool
	// ReduceRange uses 7 bits as PyTorch's reduce_range does: int8
	// [-64, 63], uint8 [0, 127]. It leaves headroom for kernels that add
	// pairs of uint8×int8 products in 16 bits.
	ReduceRange bool
}

// WeightDefault is the spec for weights: int8 symmetric per-channel over
// output channels (axis 0), restricted to [-127, 127] as ONNX Runtime
// quantizes symmetric weights, so the grid is symmetric around 0 and the
// channel's largest magnitude is exactly representable.
var WeightDefault = Spec{DType: Int8, Scheme: Symmetric, Granularity: PerChannel, Axis: 0, Restricted: true}

// ActivationDefault is the spec for activations: int8 affine per-tensor
// over [-128, 127]. Int8 (rather than PyTorch's default quint8) keeps every
// tensor of a quantized model int8 end to end, as ONNX Runtime's QDQ
// format with QInt8 activations does; affine spends all 256 codes on
// one-sided ranges such as ReLU outputs.
var ActivationDefault = Spec{DType: Int8, Scheme: Affine, Granularity: PerTensor}

// Bounds returns the integer range [qmin, qmax] values saturate to: the
// dtype's range, halved by ReduceRange, without -128 when Restricted.
// The spec must be valid (see Validate).
func (s Spec) Bounds() (qmin, qmax int32) {
	switch s.DType {
	case Int8:
		qmin, qmax = -128, 127
		if s.ReduceRange {
			qmin, qmax = -64, 63
		}
		if s.Restricted {
			qmin++
		}
	case UInt8:
		qmin, qmax = 0, 255
		if s.ReduceRange {
			qmax = 127
		}
	default:
		return s.DType.Bounds()
	}
	return qmin, qmax
}

// Validate reports, wrapping ErrInvalidSpec, a spec no quantizer can
// honour: a dtype other than Int8 or UInt8, an unknown scheme or
// granularity, a negative per-channel axis, or Restricted without int8
// symmetric.
func (s Spec) Validate() error {
	bad := func(why string) error {
		return fmt.Errorf("quant: spec %v: %s: %w", s, why, ErrInvalidSpec)
	}
	switch {
	case s.DType != Int8 && s.DType != UInt8:
		return bad("dtype must be int8 or uint8")
	case s.Scheme != Affine && s.Scheme != Symmetric:
		return bad("unknown scheme")
	case s.Granularity != PerTensor && s.Granularity != PerChannel:
		return bad("unknown granularity")
	case s.Granularity == PerChannel && s.Axis < 0:
		return bad("per-channel axis must be >= 0")
	case s.Restricted && (s.DType != Int8 || s.Scheme != Symmetric):
		return bad("restricted range needs int8 symmetric")
	}
	return nil
}

// String renders the spec compactly, for example
// "int8 symmetric per-channel(axis=0) restricted [-127,127]".
func (s Spec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %v %v", s.DType, s.Scheme, s.Granularity)
	if s.Granularity == PerChannel {
		fmt.Fprintf(&b, "(axis=%d)", s.Axis)
	}
	if s.Restricted {
		b.WriteString(" restricted")
	}
	if s.ReduceRange {
		b.WriteString(" reduce-range")
	}
	if s.DType == Int8 || s.DType == UInt8 {
		lo, hi := s.Bounds()
		fmt.Fprintf(&b, " [%d,%d]", lo, hi)
	}
	return b.String()
}
