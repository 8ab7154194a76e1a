package qnn

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Requantizer turns int32 accumulators of one output channel group into
// int8 codes.
type Requantizer struct {
	// Mult holds sIn*sW[c]/sOut per output channel (or one value).
	Mult []float32
	// Bias holds the int32 bias per output channel, or is nil.
	Bias []int32
	// Zero, Min and Max are the output's int8-domain zero point and bounds;
	// a fused ReLU raises Min to Zero.
	Zero, Min, Max int32

	// mult64 and bias32 hold Mult and Bias per channel, widened and
	// expanded once for the block kernel (bias32 is zero without a bias).
	mult64 []float64
	bias32 []int32
}

// newRequantizer computes multipliers and quantizes the bias. A bias whose
// quantized value does not fit int32, or a non-finite bias, is an error.
func newRequantizer(in Act, w Weights, out Act, bias []float32, channels int, relu bool) (Requantizer, error) {
	r := Requantizer{Mult: make([]float32, channels), Zero: out.Zero, Min: out.Min, Max: out.Max}
	if relu {
		r.Min = max(r.Min, out.Zero)
	}
	for c := range channels {
		r.Mult[c] = float32(float64(in.Scale) * float64(w.Scale[w.channel(c)]) / float64(out.Scale))
	}
	if bias != nil {
		if len(bias) != channels {
			return r, fmt.Errorf("qnn: bias has %d values for %d output channels: %w", len(bias), channels, quant.ErrShape)
		}
		r.Bias = make([]int32, channels)
		for c, b := range bias {
			s := float64(in.Scale) * float64(w.Scale[w.channel(c)])
			v := math.RoundToEven(float64(b) / s)
			if math.IsNaN(v) || math.IsInf(v, 0) || v > math.MaxInt32 || v < math.MinInt32 {
				return r, fmt.Errorf("qnn: bias[%d] = %v does not fit int32 at scale %g: %w", c, b, s, quant.ErrNonFinite)
			}
			r.Bias[c] = int32(v)
		}
	}
	r.mult64, r.bias32 = r.expand(channels)
	return r, nil
}

// expand returns the multiplier and the bias of each of channels output
// channels, as the block kernel reads them.
func (r *Requantizer) expand(channels int) ([]float64, []int32) {
	mult, bias := make([]float64, channels), make([]int32, channels)
	for c := range channels {
		mult[c] = float64(r.Mult[min(c, len(r.Mult)-1)])
		if r.Bias != nil {
			bias[c] = r.Bias[c]
		}
	}
	return mult, bias
}

// apply requantizes acc (channel c) into one code. It is the definition
// the block kernels are tested against.
func (r *Requantizer) apply(acc int32, c int) int8 {
	if r.Bias != nil {
		acc += r.Bias[c]
	}
	m := r.Mult[0]
	if len(r.Mult) > 1 {
		m = r.Mult[c]
	}
	v := math.RoundToEven(float64(acc) * float64(m))
	if v >= float64(r.Max-r.Zero) {
		return int8(r.Max)
	}
	if v <= float64(r.Min-r.Zero) {
		return int8(r.Min)
	}
	return int8(int32(v) + r.Zero)
}

// requantize writes the codes of acc, rows×channels accumulators in
// row-major order, to out[i·rowStride + c·chanStride]: Linear writes rows
// as they are (rowStride = channels, chanStride = 1), Conv2D transposes
// positions × channels into channel planes (rowStride = 1, chanStride =
// positions). Each code is r.apply(acc[i·channels + c], c), computed by a
// block kernel that hoists the channel's multiplier and bias and, with
// AVX2, does four channels per instruction (in Conv2D's layout, four
// channels of four positions, transposed in registers so that every
// store writes four codes of a plane). The kernels clamp the rounded
// product to [Min-Zero, Max-Zero] and adds Zero, which equals apply's
// comparisons whenever Min <= Max and every multiplier is finite; other
// requantizers take apply element by element.
func (r *Requantizer) requantize(acc []int32, rows, channels int, out []int8, rowStride, chanStride int) {
	if rows == 0 || channels == 0 {
		return
	}
	if rowStride < 0 || chanStride < 0 || len(acc) < rows*channels ||
		len(out) <= (rows-1)*rowStride+(channels-1)*chanStride {
		panic(fmt.Errorf("qnn: requantize: %d accumulators and %d codes for %d×%d with strides %d, %d: %w",
			len(acc), len(out), rows, channels, rowStride, chanStride, quant.ErrShape))
	}
	mult, bias := r.mult64, r.bias32
	if len(mult) != channels || len(bias) != channels {
		mult, bias = r.expand(channels)
	}
	if r.Min > r.Max || !allFinite(mult) {
		for i := range rows {
			for c, a := range acc[i*channels : (i+1)*channels] {
				out[i*rowStride+c*chanStride] = r.apply(a, c)
			}
		}
		return
	}
	lo, hi := float64(r.Min-r.Zero), float64(r.Max-r.Zero)
	k := requantKernelsInUse
	if rows4 := rows &^ 3; rowStride == 1 && rows4 > 0 && r.Min >= math.MinInt8 && r.Max <= math.MaxInt8 {
		k.planes(acc[:rows4*channels], rows4, channels, bias, mult, out, chanStride, lo, hi, r.Zero)
		acc, rows, out = acc[rows4*channels:], rows-rows4, out[rows4:]
	}
	if rows > 0 {
		k.block(acc, rows, channels, bias, mult, out, rowStride, chanStride, lo, hi, r.Zero)
	}
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// requantKernels are the block kernels requantize calls: any layout
// (block), and Conv2D's channel planes for rows a multiple of 4 (planes).
type requantKernels struct {
	block  func(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, rowStride, chanStride int, lo, hi float64, zero int32)
	planes func(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, plane int, lo, hi float64, zero int32)
}

// goRequantKernels are the Go twins of the assembly kernels.
var goRequantKernels = requantKernels{block: requantGo, planes: requantPlanesGo}

var (
	// asmRequant are the assembly kernels; haveAsmRequant says whether
	// this build and CPU run them.
	asmRequant, haveAsmRequant = asmRequantKernels()
	// requantKernelsInUse are the kernels requantize calls: asmRequant
	// where they run, else their Go twins. Tests set it to run either.
	requantKernelsInUse = chooseRequantKernels()
)

func chooseRequantKernels() requantKernels {
	if haveAsmRequant {
		return asmRequant
	}
	return goRequantKernels
}

// requantGo is the Go block kernel, the twin of the assembly one: for
// every row i and channel c,
// out[i·rowStride + c·chanStride] = int8(int32(clamp(round_half_even(
// float64(acc[i·channels+c] + bias[c]) · mult[c]), lo, hi)) + zero).
func requantGo(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, rowStride, chanStride int, lo, hi float64, zero int32) {
	bias, mult = bias[:channels], mult[:channels]
	for c := range channels {
		b, m := bias[c], mult[c]
		for i := range rows {
			v := math.RoundToEven(float64(acc[i*channels+c]+b) * m)
			v = min(max(v, lo), hi)
			out[i*rowStride+c*chanStride] = int8(int32(v) + zero)
		}
	}
}

// requantPlanesGo is the Go twin of the planes kernel: requantGo with
// rowStride 1 and chanStride plane.
func requantPlanesGo(acc []int32, rows, channels int, bias []int32, mult []float64, out []int8, plane int, lo, hi float64, zero int32) {
	requantGo(acc, rows, channels, bias, mult, out, 1, plane, lo, hi, zero)
}
