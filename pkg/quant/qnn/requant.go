package qnn

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Requantizer turns int32 accumulators of one output channel group into
// int8 codes with quant's one requantization arithmetic:
// code = quant.RequantizeValue(acc + Bias[c], Mult[c], Zero, Min, Max).
type Requantizer struct {
	// Mult holds quant.RequantMultiplier(sIn, sW[c], sOut) per output
	// channel, or one value for per-tensor weights.
	Mult []float32
	// Bias holds the int32 bias per output channel (quant.QuantizeBias), or
	// is nil.
	Bias []int32
	// Zero, Min and Max are the output's int8-domain zero point and bounds;
	// a fused ReLU raises Min to Zero.
	Zero, Min, Max int32

	// mult32 and bias32 hold Mult and Bias per channel, expanded once for
	// the block kernel (bias32 is zero without a bias).
	mult32 []float32
	bias32 []int32
}

// newRequantizer computes the multipliers (quant.RequantScale) and
// quantizes the bias (quant.QuantizeBias). A multiplier that is not
// finite, a bias of the wrong length, a non-finite bias or one whose code
// does not fit int32 is an error.
func newRequantizer(in Act, w Weights, out Act, bias []float32, channels int, relu bool) (Requantizer, error) {
	r := Requantizer{Zero: out.Zero, Min: out.Min, Max: out.Max}
	if relu {
		r.Min = max(r.Min, out.Zero)
	}
	mult, err := quant.RequantScale(in.Scale, w.Scale, out.Scale)
	if err != nil {
		return r, fmt.Errorf("qnn: %w", err)
	}
	r.Mult = mult
	if bias != nil {
		if len(bias) != channels {
			return r, fmt.Errorf("qnn: bias has %d values for %d output channels: %w", len(bias), channels, quant.ErrShape)
		}
		if r.Bias, err = quant.QuantizeBias(bias, in.Scale, w.Scale); err != nil {
			return r, fmt.Errorf("qnn: %w", err)
		}
	}
	r.mult32, r.bias32 = r.expand(channels)
	return r, nil
}

// expand returns the multiplier and the bias of each of channels output
// channels, as the block kernel reads them.
func (r *Requantizer) expand(channels int) ([]float32, []int32) {
	mult, bias := make([]float32, channels), make([]int32, channels)
	for c := range channels {
		mult[c] = r.Mult[min(c, len(r.Mult)-1)]
		if r.Bias != nil {
			bias[c] = r.Bias[c]
		}
	}
	return mult, bias
}

// apply requantizes acc (channel c) into one code with
// quant.RequantizeValue. It is the definition the block kernels are tested
// against.
func (r *Requantizer) apply(acc int32, c int) int8 {
	if r.Bias != nil {
		acc += r.Bias[c]
	}
	m := r.Mult[0]
	if len(r.Mult) > 1 {
		m = r.Mult[c]
	}
	return int8(quant.RequantizeValue(acc, m, r.Zero, r.Min, r.Max))
}

// requantize writes the codes of acc, rows×channels accumulators in
// row-major order, to out[i·rowStride + c·chanStride]: Linear writes rows
// as they are (rowStride = channels, chanStride = 1), Conv2D transposes
// positions × channels into channel planes (rowStride = 1, chanStride =
// positions). Each code is r.apply(acc[i·channels + c], c), computed by a
// block kernel that hoists the channel's multiplier and bias and, with
// AVX2, does four channels per instruction (in Conv2D's layout, four
// channels of four positions, transposed in registers so that every
// store writes four codes of a plane). The kernels compute exactly
// quant.RequantizeValue whenever every multiplier is finite, which
// newRequantizer guarantees; other requantizers take apply element by
// element.
func (r *Requantizer) requantize(acc []int32, rows, channels int, out []int8, rowStride, chanStride int) {
	if rows == 0 || channels == 0 {
		return
	}
	if rowStride < 0 || chanStride < 0 || len(acc) < rows*channels ||
		len(out) <= (rows-1)*rowStride+(channels-1)*chanStride {
		panic(fmt.Errorf("qnn: requantize: %d accumulators and %d codes for %d×%d with strides %d, %d: %w",
			len(acc), len(out), rows, channels, rowStride, chanStride, quant.ErrShape))
	}
	mult, bias := r.mult32, r.bias32
	if len(mult) != channels || len(bias) != channels {
		mult, bias = r.expand(channels)
	}
	if !allFinite(mult) {
		for i := range rows {
			for c, a := range acc[i*channels : (i+1)*channels] {
				out[i*rowStride+c*chanStride] = r.apply(a, c)
			}
		}
		return
	}
	k := requantKernelsInUse
	if k.rows != nil && rowStride == channels && chanStride == 1 && channels%16 == 0 &&
		min(r.Min, r.Max) >= math.MinInt8 && r.Max <= math.MaxInt8 {
		k.rows(acc[:rows*channels], rows, channels, bias, mult, out[:rows*channels], r.Zero, r.Min, r.Max)
		return
	}
	if rows4 := rows &^ 3; rowStride == 1 && rows4 > 0 && min(r.Min, r.Max) >= math.MinInt8 && r.Max <= math.MaxInt8 {
		k.planes(acc[:rows4*channels], rows4, channels, bias, mult, out, chanStride, r.Zero, r.Min, r.Max)
		acc, rows, out = acc[rows4*channels:], rows-rows4, out[rows4:]
	}
	if rows > 0 {
		k.block(acc, rows, channels, bias, mult, out, rowStride, chanStride, r.Zero, r.Min, r.Max)
	}
}

// allFinite reports whether no multiplier is NaN or ±Inf.
func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// requantKernels are the block kernels requantize calls: any layout
// (block), Conv2D's channel planes for rows a multiple of 4 and codes
// within int8 (planes), and the channels-last layout (rows kept, as
// Linear's) for channels a multiple of 16 and codes within int8 (rows;
// nil where the CPU has no AVX-512).
type requantKernels struct {
	block  func(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, rowStride, chanStride int, zero, qmin, qmax int32)
	planes func(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, plane int, zero, qmin, qmax int32)
	rows   func(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, zero, qmin, qmax int32)
}

// goRequantKernels are the Go twins of the assembly kernels.
var goRequantKernels = requantKernels{block: requantGo, planes: requantPlanesGo, rows: requantRowsGo}

// requantRowsGo is the Go twin of the rows kernel: requantGo with
// rowStride channels and chanStride 1.
func requantRowsGo(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, zero, qmin, qmax int32) {
	requantGo(acc, rows, channels, bias, mult, out, channels, 1, zero, qmin, qmax)
}

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
// out[i·rowStride + c·chanStride] = int8(quant.RequantizeValue(
// acc[i·channels+c] + bias[c], mult[c], zero, qmin, qmax)).
func requantGo(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, rowStride, chanStride int, zero, qmin, qmax int32) {
	bias, mult = bias[:channels], mult[:channels]
	for c := range channels {
		b, m := bias[c], mult[c]
		for i := range rows {
			out[i*rowStride+c*chanStride] = int8(quant.RequantizeValue(acc[i*channels+c]+b, m, zero, qmin, qmax))
		}
	}
}

// requantPlanesGo is the Go twin of the planes kernel: requantGo with
// rowStride 1 and chanStride plane.
func requantPlanesGo(acc []int32, rows, channels int, bias []int32, mult []float32, out []int8, plane int, zero, qmin, qmax int32) {
	requantGo(acc, rows, channels, bias, mult, out, 1, plane, zero, qmin, qmax)
}
