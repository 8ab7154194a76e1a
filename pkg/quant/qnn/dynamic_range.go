package qnn

// dynamicRange returns min(0, x...) and max(0, x...) and whether every
// value of x is finite; when one is not, lo and hi mean nothing. Groups of
// 16 run rangeKernelInUse (AVX-512 where the CPU has it), the rest
// rangeGo. For finite x the result is DynamicParams' scalar min/max up to
// the sign of a zero bound, which changes neither the scale nor the zero
// point it derives.
func dynamicRange(x []float32) (lo, hi float32, finite bool) {
	body := len(x) &^ 15
	lo, hi, finite = rangeKernelInUse(x[:body])
	tlo, thi, tfinite := rangeGo(x[body:])
	return min(lo, tlo), max(hi, thi), finite && tfinite
}

// rangeGo is the Go twin of the range kernel, for any length: four
// independent lanes of plain comparisons, and v - v (zero for finite v)
// summed into a flag that stays zero while every value is finite.
func rangeGo(x []float32) (lo, hi float32, finite bool) {
	var lo4, hi4, nf4 [4]float32
	body := len(x) &^ 3
	for i := 0; i < body; i += 4 {
		v := x[i : i+4 : i+4]
		for j := range 4 {
			lo4[j] = minNum(lo4[j], v[j])
			hi4[j] = maxNum(hi4[j], v[j])
			nf4[j] += v[j] - v[j]
		}
	}
	for _, v := range x[body:] {
		lo4[0], hi4[0] = minNum(lo4[0], v), maxNum(hi4[0], v)
		nf4[0] += v - v
	}
	nf := nf4[0] + nf4[1] + nf4[2] + nf4[3]
	return min(lo4[0], lo4[1], lo4[2], lo4[3]), max(hi4[0], hi4[1], hi4[2], hi4[3]), nf == 0
}

// rangeLanes reduces the lanes an assembly range kernel leaves.
func rangeLanes(acc *[48]float32) (lo, hi float32, finite bool) {
	nf := float32(0)
	for j := range 16 {
		lo, hi = minNum(lo, acc[j]), maxNum(hi, acc[16+j])
		nf += acc[32+j]
	}
	return lo, hi, nf == 0
}

// minNum is a < b ? a : b, a plain comparison (min with NaN and signed
// zeros left to chance, which the callers do not depend on).
func minNum(b, a float32) float32 {
	if a < b {
		return a
	}
	return b
}

// maxNum is a > b ? a : b.
func maxNum(b, a float32) float32 {
	if a > b {
		return a
	}
	return b
}

var (
	// asmRange is the assembly range kernel; haveAsmRange says whether
	// this build and CPU run it.
	asmRange, haveAsmRange = asmRangeKernel()
	// rangeKernelInUse is the kernel dynamicRange calls on groups of 16:
	// asmRange where it runs, else rangeGo. Tests set it.
	rangeKernelInUse = chooseRangeKernel()
)

func chooseRangeKernel() func(x []float32) (lo, hi float32, finite bool) {
	if haveAsmRange {
		return asmRange
	}
	return rangeGo
}

// dequantRowGo writes y[c] = float32(acc[c]·sIn·ws[c]) (the products in
// float64, left to right), then adds bias[c] in float32 when bias is not
// nil: DynamicLinear's output for one sample.
func dequantRowGo(y []float32, acc []int32, sIn float64, ws []float64, bias []float32) {
	acc, ws = acc[:len(y)], ws[:len(y)]
	for c, s := range ws {
		y[c] = float32(float64(acc[c]) * sIn * s)
	}
	if bias != nil {
		for c, b := range bias[:len(y)] {
			y[c] += b
		}
	}
}

var (
	// dequantRowInUse is dequantRowGo, or dequantRowAsm where this
	// build and CPU run it (same results). Tests set it.
	dequantRowInUse = chooseRowKernel()
	// dequantPlanesInUse is dequantPlanesAll, or dequantPlanesAsm where
	// this build and CPU run it (same results). Tests set it.
	dequantPlanesInUse = choosePlanesKernel()
)

func chooseRowKernel() func([]float32, []int32, float64, []float64, []float32) {
	if haveAsmRange {
		return dequantRowAsm
	}
	return dequantRowGo
}

func choosePlanesKernel() func([]float32, []int32, int, int, []float64, []float32) {
	if haveAsmRange {
		return dequantPlanesAsm
	}
	return dequantPlanesAll
}

// dequantPlanesGo writes, for channels [c0, c1) and positions [p0, p1),
// out[ch·pos + p] = float32(acc[p·c + ch]·scale[ch]) + bias[ch] (the
// product in float64, the sum in float32): DynamicConv2D's output planes
// [c, pos] for one sample, from accumulators laid out [pos, c].
func dequantPlanesGo(out []float32, acc []int32, c, pos int, scale []float64, bias []float32, c0, c1, p0, p1 int) {
	for ch := c0; ch < c1; ch++ {
		plane, sc, b := out[ch*pos:(ch+1)*pos], scale[ch], bias[ch]
		for p := p0; p < p1; p++ {
			plane[p] = float32(float64(acc[p*c+ch])*sc) + b
		}
	}
}

// dequantPlanesAll is dequantPlanesGo over every channel and position.
func dequantPlanesAll(out []float32, acc []int32, c, pos int, scale []float64, bias []float32) {
	dequantPlanesGo(out, acc, c, pos, scale, bias, 0, c, 0, pos)
}

// AllFinite reports whether every value of x is finite (no NaN, no ±Inf),
// sixteen values per step with AVX-512 where the CPU has it: the check a
// caller runs before it looks for which value is not.
func AllFinite(x []float32) bool {
	_, _, finite := dynamicRange(x)
	return finite
}
