package qnn

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// The Into forms of the kernels write into a tensor the caller keeps and
// work in a Scratch the caller keeps, so that a model that runs them step
// after step allocates nothing once its buffers have grown to the batch.
// They run on the calling goroutine only: a caller that wants several
// cores splits the batch (each sample's output depends on that sample
// alone), which costs less than splitting every kernel.

// Scratch is working memory the Into kernels reuse from call to call. The
// zero value is ready to use; a Scratch must not be used by two
// goroutines at once.
type Scratch struct {
	rows, padded []int8
	acc, pooled  []int32
	zero         [1]int32
	tmp          Tensor
	// img is the padded sample of the channels-last kernels, shifted to
	// unsigned; offs their run offsets; nchw a shape they check.
	img  []uint8
	offs []int
	nchw [4]int
	// geoms remembers the input shapes whose convolution geometry was
	// checked, so that a model run again on batches of one size checks it
	// once.
	geoms []geomMemo
}

// geomMemo is one checked convolution: kernel, input [n, InC, h, w] and
// the output's height and width.
type geomMemo struct {
	l               *Conv2D
	n, h, w, oh, ow int
}

// maxGeomMemos bounds the memos a Scratch keeps (a model's convolutions
// at a few batch sizes).
const maxGeomMemos = 32

// outSize is l.geom().outSize for Conv2D, remembered per input shape.
func (s *Scratch) outSize(l *Conv2D, shape []int) (oh, ow int, err error) {
	if len(shape) == 4 && shape[1] == l.InC {
		for _, e := range s.geoms {
			if e.l == l && e.n == shape[0] && e.h == shape[2] && e.w == shape[3] {
				return e.oh, e.ow, nil
			}
		}
	}
	if oh, ow, err = l.geom().outSize("Conv2D", shape); err != nil {
		return 0, 0, err
	}
	if len(s.geoms) == maxGeomMemos {
		s.geoms = s.geoms[:0]
	}
	s.geoms = append(s.geoms, geomMemo{l, shape[0], shape[2], shape[3], oh, ow})
	return oh, ow, nil
}

// grow returns s resliced to n elements, reallocated when its capacity is
// short; the contents are not kept.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// reset gives t the shape and qparams of a kernel's output, reusing its
// storage, and returns its codes.
func (t *Tensor) reset(act Act, shape ...int) []int8 {
	n := 1
	for _, d := range shape {
		n *= d
	}
	t.Shape = append(t.Shape[:0], shape...)
	t.Data = grow(t.Data, n)
	t.Act = act
	return t.Data
}

// ForwardInto is Forward writing into y (which must not share storage
// with x) and working in s, on the calling goroutine.
func (l *Linear) ForwardInto(y, x *Tensor, s *Scratch) error {
	if len(x.Shape) != 2 || x.Shape[1] != l.In {
		return fmt.Errorf("qnn: Linear: input shape %v does not fit weight [%d %d]: %w", x.Shape, l.Out, l.In, quant.ErrShape)
	}
	n := x.Shape[0]
	s.acc = grow(s.acc, n*l.Out)
	s.zero[0] = l.InAct.Zero
	quant.GemmIntPackedWorkers(n, x.Data, s.zero[:], l.wt, s.acc, 1)
	l.rq.requantize(s.acc, n, l.Out, y.reset(l.OutAct, n, l.Out), l.Out, 1)
	return nil
}

// ForwardInto is Forward writing into y (which must not share storage
// with x) and working in s, on the calling goroutine.
func (l *Conv2D) ForwardInto(y, x *Tensor, s *Scratch) error {
	oh, ow, err := s.outSize(l, x.Shape)
	if err != nil {
		return err
	}
	n := x.Shape[0]
	out := y.reset(l.OutAct, n, l.OutC, oh, ow)
	size := l.OutC * oh * ow
	l.eachSample(x, oh, ow, s, func(i int, acc []int32) {
		l.rq.requantize(acc, oh*ow, l.OutC, out[i*size:(i+1)*size], 1, oh*ow)
	})
	return nil
}

// ForwardMaxPoolInto computes MaxPool2D(k, stride) of the convolution's
// output into y, working in s. Requantization never decreases as its
// accumulator grows (positive multipliers, no wrap-around), so the
// largest code of a window is the code of the window's largest
// accumulator: the kernel pools the int32 accumulators, channel vectors
// at a time, and requantizes k²-fold fewer of them. The codes equal
// MaxPool2D(Forward(x)) exactly; a requantizer for which the premise
// fails runs the two steps one after the other.
func (l *Conv2D) ForwardMaxPoolInto(y, x *Tensor, k, stride int, s *Scratch) error {
	oh, ow, err := s.outSize(l, x.Shape)
	if err != nil {
		return err
	}
	ph, pw := (oh-k)/stride+1, (ow-k)/stride+1
	if k < 1 || stride < 1 || oh < k || ow < k {
		return fmt.Errorf("qnn: MaxPool2D: input [%d %d %d %d] with window %d stride %d: %w", x.Shape[0], l.OutC, oh, ow, k, stride, quant.ErrShape)
	}
	if !l.rq.monotone(l.InC * l.KH * l.KW) {
		if err := l.ForwardInto(&s.tmp, x, s); err != nil {
			return err
		}
		return MaxPool2DInto(y, &s.tmp, k, stride)
	}
	n, c := x.Shape[0], l.OutC
	out := y.reset(l.OutAct, n, c, ph, pw)
	size := c * ph * pw
	s.pooled = grow(s.pooled, ph*pw*c)
	l.eachSample(x, oh, ow, s, func(i int, acc []int32) {
		maxPoolAcc(s.pooled, acc, c, ow, ph, pw, k, stride)
		l.rq.requantize(s.pooled, ph*pw, c, out[i*size:(i+1)*size], 1, ph*pw)
	})
	return nil
}

// eachSample runs im2row and the GEMM of each sample of x on the calling
// goroutine and hands its accumulators [oh·ow, OutC] to emit.
func (l *Conv2D) eachSample(x *Tensor, oh, ow int, s *Scratch, emit func(i int, acc []int32)) {
	g := l.geom()
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	inSize, k := g.inC*h*w, g.inC*g.kh*g.kw
	s.rows = grow(s.rows, oh*ow*k+im2rowSlack)
	s.padded = grow(s.padded, g.inC*(h+2*g.pad)*(w+2*g.pad)+im2rowSlack)
	s.acc = grow(s.acc, oh*ow*g.outC)
	s.zero[0] = l.InAct.Zero
	for i := range n {
		im2rowInto(x.Data[i*inSize:(i+1)*inSize], g.inC, h, w, g.kh, g.kw, g.stride, g.pad, oh, ow, int8(l.InAct.Zero), s.rows, s.padded)
		quant.GemmIntPackedWorkers(oh*ow, s.rows[:oh*ow*k], s.zero[:], l.wt, s.acc, 1)
		emit(i, s.acc)
	}
}

// im2rowSlack is the room im2rowInto's one-channel 3×3 kernel may write
// past the rows and read past the padded sample (one 4-byte move).
const im2rowSlack = 4

// im2rowInto is im2row, with the runs of 3×3 kernels moved 4 bytes at a
// time: each run's fourth byte lands on the start of the run written
// after it, which overwrites it. The last run of a row (last channel,
// last kernel row), and a position whose 4 bytes would read past the
// input row, move 3 bytes. Other kernels run im2row.
func im2rowInto(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, rows, padded []int8) {
	if kw != 3 {
		im2row(x, c, h, w, kh, kw, stride, pad, oh, ow, padv, rows, padded)
		return
	}
	if hp, wp := h+2*pad, w+2*pad; c == 1 && kh == 3 && stride == 1 &&
		len(rows) >= oh*ow*9+im2rowSlack && len(padded) >= hp*wp+im2rowSlack {
		src := x[:h*w]
		if pad > 0 {
			src = padded[:hp*wp]
			padPlanes(src, x, 1, h, w, pad, padv)
			src = padded[:hp*wp+im2rowSlack]
		} else if len(x) < h*w+im2rowSlack {
			copy(padded, src)
			src = padded[:hp*wp+im2rowSlack]
		} else {
			src = x[:h*w+im2rowSlack]
		}
		im2rowKernelInUse(rows[:oh*ow*9+im2rowSlack], src, oh, ow, wp)
		return
	}
	src, hp, wp := x[:c*h*w], h, w
	if pad > 0 {
		hp, wp = h+2*pad, w+2*pad
		src = padded[:c*hp*wp]
		padPlanes(src, x, c, h, w, pad, padv)
	}
	k := c * kh * kw
	dst, in := bytesOf(rows[:oh*ow*k]), bytesOf(src)
	// wide is the number of positions whose 4 source bytes lie in the row.
	wide := min(ow, max(0, (wp-4)/stride+1))
	for oy := range oh {
		out := dst[oy*ow*k : (oy+1)*ow*k]
		for ch := range c {
			for ky := range kh {
				srow := in[(ch*hp+oy*stride+ky)*wp : (ch*hp+oy*stride+ky+1)*wp]
				off := (ch*kh + ky) * 3
				n := wide
				if ch == c-1 && ky == kh-1 {
					n = 0
				}
				for p := range n {
					binary.LittleEndian.PutUint32(out[p*k+off:], binary.LittleEndian.Uint32(srow[p*stride:]))
				}
				for p := n; p < ow; p++ {
					d, s := out[p*k+off:p*k+off+3], srow[p*stride:p*stride+3]
					d[0], d[1], d[2] = s[0], s[1], s[2]
				}
			}
		}
	}
}

// im2row3x3Go is the Go twin of the one-channel, 3×3, stride-1 im2row
// kernel: output position p = oy·ow + ox gets, in rows[9p:9p+9], the
// three runs src[(oy+ky)·wp + ox :][:3] for ky = 0, 1, 2. src and rows
// hold im2rowSlack bytes past the sample and the rows, which the kernel
// may read and write (4-byte moves; each spare byte written is
// overwritten by the next run).
func im2row3x3Go(rows, src []int8, oh, ow, wp int) {
	for oy := range oh {
		for ox := range ow {
			d := rows[(oy*ow+ox)*9 : (oy*ow+ox)*9+9]
			for ky := range 3 {
				s := src[(oy+ky)*wp+ox : (oy+ky)*wp+ox+3]
				d[3*ky], d[3*ky+1], d[3*ky+2] = s[0], s[1], s[2]
			}
		}
	}
}

var (
	// asmIm2row is the assembly one-channel 3×3 im2row kernel;
	// haveAsmIm2row says whether this build and CPU run it.
	asmIm2row, haveAsmIm2row = asmIm2rowKernel()
	// im2rowKernelInUse is the kernel im2rowInto calls for one channel,
	// 3×3, stride 1. Tests set it to run either.
	im2rowKernelInUse = chooseIm2rowKernel()
)

func chooseIm2rowKernel() func(rows, src []int8, oh, ow, wp int) {
	if haveAsmIm2row {
		return asmIm2row
	}
	return im2row3x3Go
}

// bytesOf views int8 codes as bytes.
func bytesOf(v []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// monotone reports whether the requantized code never decreases as the
// accumulator of a k-deep product of int8 operands grows: every
// multiplier is positive and finite, the bounds are ordered, and no
// accumulator plus bias can wrap (|acc| <= k·255²).
func (r *Requantizer) monotone(k int) bool {
	if r.Min > r.Max {
		return false
	}
	for _, m := range r.Mult {
		if !(m > 0) || math.IsInf(float64(m), 0) {
			return false
		}
	}
	limit := int64(math.MaxInt32) - int64(k)*255*255
	for _, b := range r.Bias {
		if int64(b) > limit || int64(b) < -limit {
			return false
		}
	}
	return limit > 0
}

// maxPoolAcc pools accumulators acc [oh·ow positions, c channels] (rows
// of width ow) into dst [ph·pw, c]: each output position takes, channel
// by channel, the largest accumulator of its k×k window. The 2×2 window
// of stride 2 over a multiple of 8 channels runs poolKernelInUse (AVX2
// where the CPU has it).
func maxPoolAcc(dst, acc []int32, c, ow, ph, pw, k, stride int) {
	if k == 2 && stride == 2 && c > 0 && c%8 == 0 && ph > 0 && pw > 0 {
		if len(dst) < ph*pw*c || len(acc) < ((2*ph-1)*ow+2*pw)*c {
			panic(fmt.Errorf("qnn: max pool: %d and %d accumulators for %d channels, %d wide, %dx%d out: %w",
				len(dst), len(acc), c, ow, ph, pw, quant.ErrShape))
		}
		poolKernelInUse(dst, acc, c, ow, ph, pw)
		return
	}
	maxPoolAccGo(dst, acc, c, ow, ph, pw, k, stride)
}

// maxPoolAccGo is maxPoolAcc in Go, for any window.
func maxPoolAccGo(dst, acc []int32, c, ow, ph, pw, k, stride int) {
	for py := range ph {
		for px := range pw {
			out := dst[(py*pw+px)*c : (py*pw+px+1)*c]
			first := ((py*stride)*ow + px*stride) * c
			copy(out, acc[first:first+c])
			for ky := range k {
				for kx := range k {
					if ky == 0 && kx == 0 {
						continue
					}
					p := ((py*stride+ky)*ow + px*stride + kx) * c
					maxInto(out, acc[p:p+c])
				}
			}
		}
	}
}

// maxPool2x2AccGo is the Go twin of the 2×2, stride 2 pooling kernel.
func maxPool2x2AccGo(dst, acc []int32, c, ow, ph, pw int) {
	maxPoolAccGo(dst, acc, c, ow, ph, pw, 2, 2)
}

var (
	// asmPool is the assembly pooling kernel; haveAsmPool says whether
	// this build and CPU run it.
	asmPool, haveAsmPool = asmPoolKernel()
	// poolKernelInUse is the 2×2, stride 2 kernel maxPoolAcc calls:
	// asmPool where it runs, else its Go twin. Tests set it to run either.
	poolKernelInUse = choosePoolKernel()
)

func choosePoolKernel() func(dst, acc []int32, c, ow, ph, pw int) {
	if haveAsmPool {
		return asmPool
	}
	return maxPool2x2AccGo
}

// maxInto sets dst[i] to max(dst[i], src[i]).
func maxInto(dst, src []int32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(dst[i], v)
	}
}

// MaxPool2DInto is MaxPool2D writing into y, which must not share
// storage with x.
func MaxPool2DInto(y, x *Tensor, k, stride int) error {
	n, c, h, w, oh, ow, err := poolShape("MaxPool2D", x, k, stride)
	if err != nil {
		return err
	}
	maxPoolPlanes(y.reset(x.Act, n, c, oh, ow), x.Data, n*c, h, w, oh, ow, k, stride)
	return nil
}

// AvgPool2DInto is AvgPool2D writing into y, which must not share storage
// with x.
func AvgPool2DInto(y, x *Tensor, k, stride int) error {
	n, c, h, w, oh, ow, err := poolShape("AvgPool2D", x, k, stride)
	if err != nil {
		return err
	}
	avgPoolPlanes(y.reset(x.Act, n, c, oh, ow), x.Data, n*c, h, w, oh, ow, k, stride)
	return nil
}

// GlobalAvgPoolInto is GlobalAvgPool writing into y, which must not share
// storage with x.
func GlobalAvgPoolInto(y, x *Tensor) error {
	if len(x.Shape) != 4 {
		return fmt.Errorf("qnn: GlobalAvgPool: input shape %v is not [N C H W]: %w", x.Shape, quant.ErrShape)
	}
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	out := y.reset(x.Act, n, c)
	for p := range n * c {
		out[p] = mean(x.Data[p*hw : (p+1)*hw])
	}
	return nil
}

// ReLUInto is ReLU writing into y, which may be x itself.
func ReLUInto(y, x *Tensor) {
	z := int8(x.Act.Zero)
	src := x.Data
	out := y.reset(x.Act, x.Shape...)
	for i, q := range src {
		out[i] = max(q, z)
	}
}

// ReshapeInto makes y a view of x's codes with a new shape, as Reshape
// does, reusing y's shape storage.
func ReshapeInto(y, x *Tensor, shape ...int) {
	y.Shape = append(y.Shape[:0], shape...)
	y.Data, y.Act = x.Data, x.Act
}

// AddInto is Add writing into y, which must not share storage with an
// input; ratio is working memory (len(xs) values), grown as needed and
// returned.
func AddInto(y *Tensor, out Act, xs []*Tensor, ratio []float64) ([]float64, error) {
	if len(xs) < 2 {
		return ratio, fmt.Errorf("qnn: Add needs at least two inputs, got %d: %w", len(xs), quant.ErrShape)
	}
	for _, x := range xs[1:] {
		if !slices.Equal(x.Shape, xs[0].Shape) {
			return ratio, fmt.Errorf("qnn: Add: input shapes %v and %v differ: %w", xs[0].Shape, x.Shape, quant.ErrShape)
		}
	}
	ratio = grow(ratio, len(xs))
	for i, x := range xs {
		ratio[i] = float64(x.Act.Scale) / float64(out.Scale)
	}
	dst := y.reset(out, xs[0].Shape...)
	for j := range dst {
		var v float64
		for i, x := range xs {
			v += ratio[i] * float64(int32(x.Data[j])-x.Act.Zero)
		}
		dst[j] = int8(quant.Saturate(int32(math.RoundToEven(v))+out.Zero, out.Min, out.Max))
	}
	return ratio, nil
}

// QuantizeInto quantizes src, of the given shape, into y with the
// qparams a, exactly as Quantize does, and reports whether every value
// was finite (the codes are written either way: NaN becomes the zero
// point, ±Inf a bound).
func (a Act) QuantizeInto(y *Tensor, src []float32, shape []int) bool {
	dst := y.reset(a, shape...)
	return quantizeCodes(dst, src, a.Scale, a.Zero, a.Min, a.Max)
}

// quantizeCodes is ONNX QuantizeLinear (quant.QuantizeValue) over a
// slice: the quotient by scale in float32, rounded half to even, clamped
// to [lo - zero, hi - zero] in float (the rounded value is an integer, so
// clamping before adding zero is clamping after), NaN to the saturated
// zero point. It reports whether every value was finite. Groups of 8 run
// quantizeKernelInUse (AVX2 where the CPU has it), the rest quantizeGo.
func quantizeCodes(dst []int8, src []float32, scale float32, zero, lo, hi int32) bool {
	flo, fhi := float32(lo-zero), float32(hi-zero)
	nan := int8(quant.Saturate(zero, lo, hi))
	dst = dst[:len(src)]
	body := len(src) &^ 7
	finite := quantizeKernelInUse(dst[:body], src[:body], scale, flo, fhi, zero, nan)
	return quantizeGo(dst[body:], src[body:], scale, flo, fhi, zero, nan) && finite
}

// quantizeGo is the Go twin of the quantization kernel, for any length.
func quantizeGo(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool {
	finite := true
	dst = dst[:len(src)]
	for i, v := range src {
		if v-v != 0 { // NaN or ±Inf
			finite = false
		}
		r := float32(math.RoundToEven(float64(v / scale)))
		if r != r {
			dst[i] = nan
			continue
		}
		r = min(max(r, flo), fhi)
		dst[i] = int8(int32(r) + zero)
	}
	return finite
}

var (
	// asmQuantize is the assembly quantization kernel; haveAsmQuantize
	// says whether this build and CPU run it.
	asmQuantize, haveAsmQuantize = asmQuantizeKernel()
	// quantizeKernelInUse is the kernel quantizeCodes calls on groups of
	// 8: asmQuantize where it runs, else quantizeGo. Tests set it.
	quantizeKernelInUse = chooseQuantizeKernel()
)

func chooseQuantizeKernel() func(dst []int8, src []float32, scale, flo, fhi float32, zero int32, nan int8) bool {
	if haveAsmQuantize {
		return asmQuantize
	}
	return quantizeGo
}
