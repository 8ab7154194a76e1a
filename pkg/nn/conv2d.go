package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Conv2D", func(raw json.RawMessage, limit int) (Layer, error) {
		var a Conv2DAttrs
		if err := decodeAttrs("Conv2D", raw, &a); err != nil {
			return nil, err
		}
		l := &Conv2D{InC: a.InC, OutC: a.OutC, KH: a.KH, KW: a.KW, Stride: a.Stride, Pad: a.Pad}
		if err := l.checkHyper(); err != nil {
			return nil, err
		}
		shapes := [][]int{{a.OutC, a.InC, a.KH, a.KW}}
		if a.Bias {
			shapes = append(shapes, []int{a.OutC})
		}
		if err := reserve("Conv2D", limit, shapes...); err != nil {
			return nil, err
		}
		l.Weight = newParam("weight", a.OutC, a.InC, a.KH, a.KW)
		if a.Bias {
			l.Bias = newParam("bias", a.OutC)
		}
		return l, nil
	})
}

// Conv2D is a 2-D convolution (cross-correlation, as torch.nn.Conv2d) over
// inputs of shape [N, InC, H, W] (NCHW) with zero padding Pad on every side
// and the same Stride in both directions. The output has shape
// [N, OutC, OH, OW] with OH = (H + 2·Pad - KH)/Stride + 1 (rounded down),
// OW likewise.
//
// The batch is spread over runtime.GOMAXPROCS goroutines, each sample
// computed on its own through Im2Col and one matrix product (a batch
// smaller than GOMAXPROCS spreads each sample's products instead). Every
// output element is one chain of fused multiply-adds over (input channel,
// kernel row, kernel column) in order, then the bias; weight gradients are summed over
// the batch in sample order. Results are therefore bit-identical whatever
// GOMAXPROCS is, and a sample's output does not depend on the rest of its
// batch.
type Conv2D struct {
	// InC and OutC are the input and output channel counts, KH×KW the
	// kernel size, Stride its step and Pad the zero padding on each side.
	InC, OutC, KH, KW, Stride, Pad int
	// Weight has shape [OutC, InC, KH, KW].
	Weight *Param
	// Bias has shape [OutC]; nil means no bias.
	Bias *Param

	x *tensor.Tensor // input of the last Train-mode Forward
}

// Conv2DAttrs are the hyperparameters Conv2D saves.
type Conv2DAttrs struct {
	InC    int  `json:"in_channels"`  // Conv2D.InC
	OutC   int  `json:"out_channels"` // Conv2D.OutC
	KH     int  `json:"kernel_h"`     // Conv2D.KH
	KW     int  `json:"kernel_w"`     // Conv2D.KW
	Stride int  `json:"stride"`       // Conv2D.Stride
	Pad    int  `json:"pad"`          // Conv2D.Pad
	Bias   bool `json:"bias"`         // whether Conv2D.Bias is non-nil
}

// NewConv2D returns a Conv2D layer with a k×k kernel and a bias. With a
// non-nil rng the weight and bias are drawn uniformly from
// [-1/sqrt(fanIn), 1/sqrt(fanIn)] with fanIn = inC·k·k, PyTorch's default
// (Kaiming-uniform with a = sqrt(5)), weight first in row-major order; with
// a nil rng they are zero. It panics on a non-positive size or stride or a
// negative padding.
func NewConv2D(inC, outC, k, stride, pad int, rng *rand.Rand) *Conv2D {
	l := &Conv2D{InC: inC, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad}
	if err := l.checkHyper(); err != nil {
		panic(err.Error())
	}
	l.Weight = newParam("weight", outC, inC, k, k)
	l.Bias = newParam("bias", outC)
	if rng != nil {
		bound := 1 / math.Sqrt(float64(inC*k*k))
		uniformFill(rng, l.Weight.Value.Data(), bound)
		uniformFill(rng, l.Bias.Value.Data(), bound)
	}
	return l
}

// Kind returns "Conv2D".
func (l *Conv2D) Kind() string { return "Conv2D" }

func (l *Conv2D) checkHyper() error {
	if l.InC <= 0 || l.OutC <= 0 || l.KH <= 0 || l.KW <= 0 || l.Stride <= 0 || l.Pad < 0 {
		return configErrorf(l.Kind(), "channels %d->%d, kernel %dx%d, stride %d, pad %d: sizes and stride must be positive, pad non-negative",
			l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad)
	}
	if l.Pad >= l.KH || l.Pad >= l.KW {
		return configErrorf(l.Kind(), "pad %d with a %dx%d kernel: padding must be smaller than the kernel (a window of padding only)",
			l.Pad, l.KH, l.KW)
	}
	return nil
}

func (l *Conv2D) check() error {
	if err := l.checkHyper(); err != nil {
		return err
	}
	if err := checkParam(l.Kind(), "weight", l.Weight, l.OutC, l.InC, l.KH, l.KW); err != nil {
		return err
	}
	if l.Bias != nil {
		return checkParam(l.Kind(), "bias", l.Bias, l.OutC)
	}
	return nil
}

// ConvOutputSize returns the output length of a convolution or pooling
// window of size k moved with the given stride over in elements padded by pad
// on both sides: (in + 2·pad - k)/stride + 1, rounded down. It returns 0 or
// less when the window does not fit, and 0 for a non-positive stride.
func ConvOutputSize(in, k, stride, pad int) int {
	if stride <= 0 {
		return 0
	}
	span := in + 2*pad - k
	if span < 0 {
		return 0
	}
	return span/stride + 1
}

// outHW returns the output spatial size for an input [C, H, W], or an error
// naming both shapes.
func (l *Conv2D) outHW(s []int, show string) (int, int, error) {
	if len(s) != 3 || s[0] != l.InC {
		return 0, 0, shapeErrorf(l.Kind(), "input shape %s does not fit weight %v", show, l.Weight.Value.Shape())
	}
	oh, ow := ConvOutputSize(s[1], l.KH, l.Stride, l.Pad), ConvOutputSize(s[2], l.KW, l.Stride, l.Pad)
	if oh <= 0 || ow <= 0 {
		return 0, 0, shapeErrorf(l.Kind(), "input shape %s is smaller than the %dx%d kernel with padding %d",
			show, l.KH, l.KW, l.Pad)
	}
	return oh, ow, nil
}

// OutputShape returns [OutC, OH, OW] for an input shape [InC, H, W].
func (l *Conv2D) OutputShape(inputs [][]int) ([]int, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	oh, ow, err := l.outHW(s, batchShape(s))
	if err != nil {
		return nil, err
	}
	// Forward holds, per sample, the output and the im2col matrix.
	if err := checkElements(l.Kind(), "output", l.OutC, oh, ow); err != nil {
		return nil, err
	}
	if err := checkElements(l.Kind(), "im2col buffer", l.InC, l.KH, l.KW, oh, ow); err != nil {
		return nil, err
	}
	return []int{l.OutC, oh, ow}, nil
}

// Forward convolves a batch [N, InC, H, W] into [N, OutC, OH, OW].
func (l *Conv2D) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	y, err := l.forward(x, convTail{})
	if err == nil && mode == Train {
		l.x = x
	}
	return y, err
}

// convTail is what a pass fuses after the convolution, per sample while
// its output is in cache: the Eval-mode BatchNorm2D, ReLU and MaxPool2D(2,
// 2) that follow the Conv2D in a graph (see Graph.Run). Each output
// element goes through the same float32 and float64 operations, in the
// same order, as it does through those layers one after the other, so the
// bits are the same. The zero value is the bare convolution.
type convTail struct {
	bn   *BatchNorm2D // Eval-mode normalization with running statistics; nil for none
	relu bool         // then ReLU
	pool bool         // then MaxPool2D(2, 2)
	// bufs, if not nil, provides the output's storage (every element of
	// which the pass writes); nil allocates a new tensor.
	bufs *bufPool
}

// fusable reports whether the convolution runs the per-sample pipeline
// of forwardPadded, the one that applies a convTail.
func (l *Conv2D) fusable() bool {
	return l.Stride == 1 && !(l.KH == 1 && l.KW == 1 && l.Pad == 0)
}

// forward is Forward on the batch x, followed by tail (non-zero only where
// fusable holds and, for the pool, the output is at least 2×2).
func (l *Conv2D) forward(x *tensor.Tensor, tail convTail) (*tensor.Tensor, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	shape := x.Shape()
	oh, ow, err := l.outHW(shape[1:], fmt.Sprint(shape))
	if err != nil {
		return nil, err
	}
	n, h, w := shape[0], shape[2], shape[3]
	k, ohw, chw := l.InC*l.KH*l.KW, oh*ow, l.InC*h*w
	xd, wd := x.Data(), l.Weight.Value.Data()
	var bias []float32
	if l.Bias != nil {
		bias = l.Bias.Value.Data()
	}
	nw := workpool.Workers(n, 0)
	if l.fusable() {
		return l.forwardPadded(xd, wd, bias, n, h, w, oh, ow, nw, tail), nil
	}
	y := tensor.New(n, l.OutC, oh, ow)
	yd := y.Data()
	direct := l.KH == 1 && l.KW == 1 && l.Stride == 1 && l.Pad == 0
	mul := samplesGemm(n)
	cols := make([][]float32, nw)
	workpool.For(n, nw, func(wk, i int) {
		xi := xd[i*chw : (i+1)*chw]
		col := xi // a 1x1 kernel with stride 1 and no padding reads x as is
		if !direct {
			if cols[wk] == nil {
				cols[wk] = make([]float32, k*ohw)
			}
			col = cols[wk]
			Im2Col(xi, l.InC, h, w, l.KH, l.KW, l.Stride, l.Pad, col)
		}
		yi := yd[i*l.OutC*ohw : (i+1)*l.OutC*ohw]
		mul(false, false, l.OutC, ohw, k, wd, k, col, ohw, 0, yi, ohw)
		for o, b := range bias {
			f32gemm.Epilogue{Bias: b, AddBias: true}.Apply(yi[o*ohw:], ohw, yi[o*ohw:], ohw, 1, ohw)
		}
	})
	return y, nil
}

// forwardPadded is forward for stride 1 (other than a plain 1×1 kernel):
// each sample is copied once into a zero-padded image [InC, H+2·Pad,
// W+2·Pad] and multiplied by the weight straight from it
// (f32gemm.GemmOffsetB), without an im2col matrix: row (c, ky, kx) of that
// matrix, at the padded width, is the padded image from c·Hp·Wp + ky·Wp +
// kx on. The product is computed for every column of the padded width;
// one f32gemm.Epilogue pass per channel drops the columns past OW and adds
// the bias, then applies the tail's normalization and ReLU, and the tail's
// pool reads the result while it is in cache. Each output is the same
// chain of multiply-adds over (c, ky, kx) as the im2col product, so the
// bits are the same.
func (l *Conv2D) forwardPadded(xd, wd, bias []float32, n, h, w, oh, ow, nw int, tail convTail) *tensor.Tensor {
	hp, wp := h+2*l.Pad, w+2*l.Pad
	k, chw, ohw := l.InC*l.KH*l.KW, l.InC*h*w, oh*ow
	boff := make([]int, 0, k)
	for c := range l.InC {
		for ky := range l.KH {
			for kx := range l.KW {
				boff = append(boff, (c*hp+ky)*wp+kx)
			}
		}
	}
	eps := make([]f32gemm.Epilogue, l.OutC)
	for o := range eps {
		e := &eps[o]
		e.AddBias, e.ReLU = true, tail.relu
		if bias != nil {
			e.Bias = bias[o]
		}
		if tail.bn != nil {
			e.Affine = true
			e.Scale, e.Shift = tail.bn.evalAffine(o)
		}
	}
	yh, yw := oh, ow
	if tail.pool {
		yh, yw = oh/2, ow/2
	}
	// poolFirst[o]: channel o is pooled before its epilogue, which then
	// runs over a quarter of the values (see poolCommutes).
	poolFirst := make([]bool, l.OutC)
	allFirst := tail.pool && oh%2 == 0
	if allFirst {
		for o := range poolFirst {
			poolFirst[o] = poolCommutes(eps[o])
			allFirst = allFirst && poolFirst[o]
		}
	}
	// With every channel pooled first, one call runs all their epilogues.
	var rows f32gemm.Epilogues
	if allFirst {
		rows = f32gemm.Epilogues{AddBias: true, Bias: make([]float32, l.OutC), Affine: tail.bn != nil, ReLU: tail.relu}
		if rows.Affine {
			rows.Scale, rows.Shift = make([]float64, l.OutC), make([]float64, l.OutC)
		}
		for o, e := range eps {
			rows.Bias[o] = e.Bias
			if rows.Affine {
				rows.Scale[o], rows.Shift[o] = e.Scale, e.Shift
			}
		}
	}
	var y *tensor.Tensor
	if tail.bufs != nil {
		y = tail.bufs.tensor(n, l.OutC, yh, yw)
	} else {
		y = tensor.New(n, l.OutC, yh, yw)
	}
	yd, yhw := y.Data(), yh*yw
	wide := oh * wp // output columns at the padded width
	type scratch struct{ xp, yw, pooled []float32 }
	scr := make([]scratch, nw)
	mul := gemmOffsetsSerial
	if n < runtime.GOMAXPROCS(0) {
		mul = gemmOffsets
	}
	workpool.For(n, nw, func(wk, i int) {
		s := &scr[wk]
		if s.xp == nil {
			// KW-1 spare zeros: the last row's span runs past the image.
			s.xp = make([]float32, l.InC*hp*wp+l.KW-1)
			s.yw = make([]float32, l.OutC*wide)
			if allFirst {
				s.pooled = make([]float32, l.OutC*yhw)
			}
		}
		xi := xd[i*chw : (i+1)*chw]
		for c := range l.InC {
			for iy := range h {
				row := (c*hp+iy+l.Pad)*wp + l.Pad
				copy(s.xp[row:row+w], xi[(c*h+iy)*w:(c*h+iy+1)*w])
			}
		}
		mul(l.OutC, wide, k, wd, k, s.xp, boff, s.yw, wide)
		yi := yd[i*l.OutC*yhw : (i+1)*l.OutC*yhw]
		for o := range l.OutC {
			if !tail.pool {
				eps[o].Apply(yi[o*ohw:], ow, s.yw[o*wide:], wp, oh, ow)
				continue
			}
			if poolFirst[o] {
				continue // after the pool
			}
			// In place over the whole channel at the padded width, in
			// full vectors; the pool skips the columns past OW.
			ch := s.yw[o*wide : (o+1)*wide]
			eps[o].Apply(ch, wide, ch, wide, 1, wide)
			if oh%2 != 0 {
				f32gemm.MaxPool2x2(yi[o*yhw:(o+1)*yhw], ch, oh, ow, wp)
			}
		}
		if tail.pool && oh%2 == 0 {
			// With OH even no window straddles two channels: the sample's
			// OutC·OH rows pool as one plane, in one call.
			if allFirst {
				// Out of place: in place, each channel's last store
				// would hold up the load of the next one's first values.
				f32gemm.MaxPool2x2(s.pooled, s.yw, l.OutC*oh, ow, wp)
				rows.Apply(yi, yhw, s.pooled, yhw, l.OutC, yhw)
				return
			}
			f32gemm.MaxPool2x2(yi, s.yw, l.OutC*oh, ow, wp)
			for o, first := range poolFirst {
				if first {
					ch := yi[o*yhw : (o+1)*yhw]
					eps[o].Apply(ch, yhw, ch, yhw, 1, yhw)
				}
			}
		}
	})
	return y
}

// poolCommutes reports whether the 2×2 max pool of e's results has the
// bits of e applied to the 2×2 max pool of its inputs, so that a fused
// block may pool the raw product first and run e over a quarter of the
// values. It holds when e ends with a ReLU and every step is
// non-decreasing and keeps non-NaN values non-NaN: a finite bias, and an
// affine step (if any) with a finite scale > 0 and a finite shift. Each
// rounded step is then monotone, so e of the window's first maximum is
// the largest of e's results; equal results have equal bits (the ReLU
// leaves no -0), and a NaN input stays the first NaN, its payload carried
// the same way through every step.
func poolCommutes(e f32gemm.Epilogue) bool {
	finite := func(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }
	if !e.ReLU || (e.AddBias && !finite(float64(e.Bias))) {
		return false
	}
	return !e.Affine || (e.Scale > 0 && finite(e.Scale) && finite(e.Shift))
}

// Backward adds the weight and bias gradients, summed over the batch in
// sample order, and returns the input gradient.
func (l *Conv2D) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.x == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	shape := l.x.Shape()
	oh, ow, err := l.outHW(shape[1:], fmt.Sprint(shape))
	if err != nil {
		return nil, err
	}
	n, h, w := shape[0], shape[2], shape[3]
	if err := checkGradOut(l.Kind(), gradOut, []int{n, l.OutC, oh, ow}); err != nil {
		return nil, err
	}
	k, ohw, chw, outC := l.InC*l.KH*l.KW, oh*ow, l.InC*h*w, l.OutC
	dx := tensor.New(shape...)
	xd, gd, dxd, wd := l.x.Data(), gradOut.Data(), dx.Data(), l.Weight.Value.Data()
	dw := gradOf(l.Weight)
	var db []float32
	if l.Bias != nil {
		db = gradOf(l.Bias)
	}
	// The weight gradient of one sample is dY[OutC,OHW]·colᵀ, col read
	// transposed by the product's packing.
	nw := workpool.Workers(n, 0)
	mul := samplesGemm(n)
	type scratch struct{ dcol, col []float32 }
	scr := make([]scratch, nw)
	// Samples are handled in groups whose per-sample weight gradients stay
	// within about 16 MiB; the reduction order is the sample order whatever
	// the group size.
	group := min(n, max(nw, (4<<20)/(outC*k)))
	dwPart := make([]float32, group*outC*k)
	dbPart := make([]float32, group*outC)
	for g0 := 0; g0 < n; g0 += group {
		gn := min(group, n-g0)
		workpool.For(gn, nw, func(wk, j int) {
			s := &scr[wk]
			if s.dcol == nil {
				s.dcol = make([]float32, k*ohw)
				s.col = make([]float32, k*ohw)
			}
			i := g0 + j
			xi, dyi := xd[i*chw:(i+1)*chw], gd[i*outC*ohw:(i+1)*outC*ohw]
			// Input gradient: dcol[K,OHW] = Wᵀ·dY, scattered back by col2im.
			mul(true, false, k, ohw, outC, wd, k, dyi, ohw, 0, s.dcol, ohw)
			col2im(s.dcol, l.InC, h, w, l.KH, l.KW, l.Stride, l.Pad, dxd[i*chw:(i+1)*chw])
			// Weight gradient of sample i.
			part := dwPart[j*outC*k : (j+1)*outC*k]
			Im2Col(xi, l.InC, h, w, l.KH, l.KW, l.Stride, l.Pad, s.col)
			mul(false, true, outC, k, ohw, dyi, ohw, s.col, ohw, 0, part, k)
			if db != nil {
				for o := range outC {
					var sum float32
					for _, v := range dyi[o*ohw : (o+1)*ohw] {
						sum += v
					}
					dbPart[j*outC+o] = sum
				}
			}
		})
		// Reduce in sample order.
		for j := range gn {
			for e, v := range dwPart[j*outC*k : (j+1)*outC*k] {
				dw[e] += v
			}
			for o := range db {
				db[o] += dbPart[j*outC+o]
			}
		}
	}
	return []*tensor.Tensor{dx}, nil
}

// Params returns the weight, then the bias if there is one.
func (l *Conv2D) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Clone returns a deep copy without the record of a forward pass.
func (l *Conv2D) Clone() Layer {
	return &Conv2D{InC: l.InC, OutC: l.OutC, KH: l.KH, KW: l.KW, Stride: l.Stride, Pad: l.Pad,
		Weight: cloneParam(l.Weight), Bias: cloneParam(l.Bias)}
}

// Attrs returns the layer's Conv2DAttrs.
func (l *Conv2D) Attrs() any {
	return Conv2DAttrs{InC: l.InC, OutC: l.OutC, KH: l.KH, KW: l.KW, Stride: l.Stride, Pad: l.Pad, Bias: l.Bias != nil}
}

// Im2Col unfolds one image x of shape [c, h, w] into col of shape
// [c·kh·kw, oh·ow], oh and ow given by ConvOutputSize: row (ci·kh + ky)·kw + kx
// holds, for every output position (oy, ox) in row-major order, the input
// x[ci, oy·stride + ky - pad, ox·stride + kx - pad], or 0 where that falls
// in the padding. A convolution is then W[outC, c·kh·kw]·col. The integer
// kernels of package quant can unfold a float input with it and quantize
// the result: 0 maps exactly to the zero point.
//
// Im2Col panics if x or col does not have the length these sizes give.
func Im2Col(x []float32, c, h, w, kh, kw, stride, pad int, col []float32) {
	oh, ow := ConvOutputSize(h, kh, stride, pad), ConvOutputSize(w, kw, stride, pad)
	if c <= 0 || kh <= 0 || kw <= 0 || oh <= 0 || ow <= 0 || pad < 0 || len(x) != c*h*w || len(col) != c*kh*kw*oh*ow {
		panic(fmt.Sprintf("nn: Im2Col: x of length %d, col of length %d do not fit c=%d h=%d w=%d kernel %dx%d stride %d pad %d",
			len(x), len(col), c, h, w, kh, kw, stride, pad))
	}
	ohw := oh * ow
	r := 0
	for ci := range c {
		xc := x[ci*h*w : (ci+1)*h*w]
		for ky := range kh {
			for kx := range kw {
				dst := col[r*ohw : (r+1)*ohw]
				r++
				// Output columns [lo, hi) read inside the row: ix = ox·stride
				// + kx - pad in [0, w). The others read the padding.
				lo := min(ow, max(0, (pad-kx+stride-1)/stride))
				hi := lo
				if last := w - 1 + pad - kx; last >= 0 {
					hi = max(lo, min(ow, last/stride+1))
				}
				for oy := range oh {
					drow := dst[oy*ow : (oy+1)*ow]
					iy := oy*stride + ky - pad
					if iy < 0 || iy >= h {
						clear(drow)
						continue
					}
					clear(drow[:lo])
					clear(drow[hi:])
					if lo == hi {
						continue
					}
					start := iy*w + lo*stride + kx - pad
					if stride == 1 {
						copy(drow[lo:hi], xc[start:start+hi-lo])
						continue
					}
					src := xc[start : start+(hi-lo-1)*stride+1]
					for ox := range drow[lo:hi] {
						drow[lo+ox] = src[ox*stride]
					}
				}
			}
		}
	}
}

// col2im is the adjoint of Im2Col: it adds every element of col [c·kh·kw,
// oh·ow] into the position of dx [c, h, w] it was read from, skipping the
// padding.
func col2im(col []float32, c, h, w, kh, kw, stride, pad int, dx []float32) {
	oh, ow := ConvOutputSize(h, kh, stride, pad), ConvOutputSize(w, kw, stride, pad)
	ohw := oh * ow
	r := 0
	for ci := range c {
		dc := dx[ci*h*w : (ci+1)*h*w]
		for ky := range kh {
			for kx := range kw {
				src := col[r*ohw : (r+1)*ohw]
				r++
				for oy := range oh {
					iy := oy*stride + ky - pad
					if iy < 0 || iy >= h {
						continue
					}
					drow := dc[iy*w : (iy+1)*w]
					for ox, v := range src[oy*ow : (oy+1)*ow] {
						ix := ox*stride + kx - pad
						if ix >= 0 && ix < w {
							drow[ix] += v
						}
					}
				}
			}
		}
	}
}
