package f32gemm

import (
	"fmt"
	"math"
)

// Epilogue is an elementwise pass over the output of a product, the work
// that a convolution, a batch normalization and a rectifier do after the
// multiply-adds. Apply computes, for every value v, in this order:
//
//	v = v + Bias                                       (float32, if AddBias)
//	v = float32(float64(float64(v)·Scale) + Shift)      (float64, if Affine)
//	v = v if v > 0 or v is NaN, else +0                (if ReLU)
//
// Each step rounds as written: the float32 sum, the float64 product and
// the float64 sum are separately rounded to nearest, never fused, so the
// AVX-512 kernel and the Go loop give the same bits for every input. This
// is exactly what nn's Conv2D (output + bias), BatchNorm2D in Eval mode
// (per-channel scale and shift) and ReLU compute one after the other.
type Epilogue struct {
	// Bias is added first when AddBias is set.
	Bias    float32
	AddBias bool
	// Scale and Shift are applied in float64 when Affine is set.
	Scale, Shift float64
	Affine       bool
	// ReLU rectifies last: negative values and -0 become +0, NaN stays.
	ReLU bool
}

// flags packs the steps for the assembly kernel: 1 bias, 2 affine, 4 ReLU.
func (e Epilogue) flags() int {
	f := 0
	if e.AddBias {
		f |= 1
	}
	if e.Affine {
		f |= 2
	}
	if e.ReLU {
		f |= 4
	}
	return f
}

// Apply runs the pass over rows×cols values: row r of src starts at
// src[r·lds] and its result goes to dst[r·ldd:], cols values each. dst and
// src may be the same slice with the same leading dimension (in place);
// other overlaps are not allowed. It panics, with a message prefixed
// "f32gemm:", if a slice is too short or a size negative.
func (e Epilogue) Apply(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows < 0 || cols < 0 || ldd < cols || lds < cols {
		panic(fmt.Sprintf("f32gemm: epilogue of %d×%d values with leading dimensions %d and %d", rows, cols, ldd, lds))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ldd + cols; len(dst) < need {
		panic(fmt.Sprintf("f32gemm: epilogue destination has %d values, needs %d", len(dst), need))
	}
	if need := (rows-1)*lds + cols; len(src) < need {
		panic(fmt.Sprintf("f32gemm: epilogue source has %d values, needs %d", len(src), need))
	}
	if e.flags() == 0 {
		for r := range rows {
			copy(dst[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols])
		}
		return
	}
	if epilogueAsm {
		epilogue512(&dst[0], ldd, &src[0], lds, rows, cols, e.Bias, e.Scale, e.Shift, e.flags())
		return
	}
	e.applyGo(dst, ldd, src, lds, rows, cols)
}

// applyGo is Apply in Go: the reference the assembly kernel matches.
func (e Epilogue) applyGo(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	for r := range rows {
		s := src[r*lds : r*lds+cols]
		d := dst[r*ldd : r*ldd+cols]
		switch {
		case e.AddBias && !e.Affine && !e.ReLU:
			for j, v := range s {
				d[j] = v + e.Bias
			}
		case !e.AddBias && !e.Affine && e.ReLU:
			for j, v := range s {
				d[j] = ReLU(v)
			}
		default:
			for j, v := range s {
				if e.AddBias {
					v += e.Bias
				}
				if e.Affine {
					v = float32(float64(float64(v)*e.Scale) + e.Shift)
				}
				if e.ReLU {
					v = ReLU(v)
				}
				d[j] = v
			}
		}
	}
}

// ReLU returns v if v > 0 or v is NaN (its bits unchanged), and +0
// otherwise (negative values, -0 and -Inf), without a branch: the result
// of `if v > 0 || v != v { y = v }` on a zeroed y, which a data-dependent
// branch computes several times slower on inputs of mixed sign.
func ReLU(v float32) float32 {
	u := math.Float32bits(v)
	// u-0x80000000 (mod 2^32) is at most 0x7f800000 exactly for the
	// values from -0 down to -Inf, the ones that become +0.
	t := int64(0x7f800000) - int64(u-0x80000000)
	return math.Float32frombits(u & uint32(t>>63))
}

// MaxPool2x2 takes the maximum of every 2×2 window, moved by 2, of the
// plane src [h, w] (row-major, rows lds apart, lds >= w) into dst
// [h/2, w/2] (rows w/2 apart): a window's result is its first NaN if it
// holds one, else its first maximum, comparing in the order (0,0), (0,1),
// (1,0), (1,1) with ">" (so of -0 and +0 the first wins). This is what
// nn's MaxPool2D(2, 2) computes. Columns of src past w are not read. It
// panics if the slices do not fit the sizes.
func MaxPool2x2(dst, src []float32, h, w, lds int) {
	oh, ow := h/2, w/2
	if h < 0 || w < 0 || lds < w || (h > 0 && len(src) < (h-1)*lds+w) || len(dst) < oh*ow {
		panic(fmt.Sprintf("f32gemm: max pool 2x2 of a %d×%d plane (rows %d apart, %d values) into %d values", h, w, lds, len(src), len(dst)))
	}
	if oh == 0 || ow == 0 {
		return
	}
	if epilogueAsm {
		maxPool2x2AVX512(&dst[0], &src[0], oh, ow, lds)
		return
	}
	maxPool2x2Go(dst, src, oh, ow, lds)
}

// maxPool2x2Go is MaxPool2x2 in Go, the reference of the assembly kernel.
func maxPool2x2Go(dst, src []float32, oh, ow, w int) {
	for oy := range oh {
		r0 := src[2*oy*w : 2*oy*w+2*ow]
		r1 := src[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		d := dst[oy*ow : oy*ow+ow]
		for j := range d {
			d[j] = max4(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1])
		}
	}
}

// max4 is the first NaN of a, b, c, d, else their first maximum.
func max4(a, b, c, d float32) float32 {
	best := a
	for _, v := range [3]float32{b, c, d} {
		if v > best || (v != v && best == best) {
			best = v
		}
	}
	return best
}
