package qnn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Channels-last (NHWC) kernels: a model whose convolutions keep their
// activations as [N, H, W, C] between int8 kernels needs no relayout per
// layer. A stride-1 convolution then reads its windows in place from a
// padded copy of each sample (quant.GemmIntWindows: no im2row matrix, no
// packing of A), and a Linear after Flatten takes its weight columns
// permuted once to the channels-last order. The integers are the same
// sums in another order, so every code equals that of the NCHW kernels
// exactly.

// NHWCConv2D is a stride-1 Conv2D run channels-last on the windowed VNNI
// product. It is immutable and safe for concurrent use.
type NHWCConv2D struct {
	l *Conv2D
	// wt is W as [OutC, KH, seg]: kernel row ky holds the codes of
	// (kx, ch) at kx·InC + ch, padded with the weights' zero point to
	// seg, a multiple of 4.
	wt  *quant.PackedB
	seg int
}

// PrepareNHWC returns the kernel run channels-last, or nil where this
// machine or the kernel does not run it: a stride other than 1, no VNNI,
// output channels not a multiple of 16 or asymmetric weights
// (quant.WindowsFast).
func (l *Conv2D) PrepareNHWC() *NHWCConv2D {
	if l.Stride != 1 {
		return nil
	}
	seg := (l.KW*l.InC + 3) &^ 3
	k := l.KH * seg
	perm := make([]int8, l.OutC*k)
	for o := range l.OutC {
		z := int8(l.W.Zero[min(o, len(l.W.Zero)-1)])
		for ky := range l.KH {
			run := perm[o*k+ky*seg : o*k+(ky+1)*seg]
			fill(run, z)
			for ch := range l.InC {
				for kx := range l.KW {
					run[kx*l.InC+ch] = l.W.Data[((o*l.InC+ch)*l.KH+ky)*l.KW+kx]
				}
			}
		}
	}
	wt := quant.PackBT(l.OutC, k, perm, l.W.Zero)
	if !quant.WindowsFast(wt, l.KH) {
		return nil
	}
	return &NHWCConv2D{l: l, wt: wt, seg: seg}
}

// Conv2D returns the kernel p was prepared from.
func (p *NHWCConv2D) Conv2D() *Conv2D { return p.l }

// ForwardInto is Conv2D.ForwardInto channels-last: x is [N, H, W, InC],
// y becomes [N, OH, OW, OutC]. y must not share storage with x.
func (p *NHWCConv2D) ForwardInto(y, x *Tensor, s *Scratch) error {
	l := p.l
	oh, ow, err := p.outSize(x, s)
	if err != nil {
		return err
	}
	n, c, wp := x.Shape[0], l.OutC, x.Shape[2]+2*l.Pad
	out := y.reset(l.OutAct, n, oh, ow, c)
	size := oh * ow * c
	p.eachSample(x, oh, s, func(i int, acc []int32) {
		for oy := range oh {
			l.rq.requantize(acc[oy*wp*c:], ow, c, out[i*size+oy*ow*c:], c, 1)
		}
	})
	return nil
}

// ForwardMaxPoolInto is Conv2D.ForwardMaxPoolInto channels-last: the
// k×k windows of stride stride of the convolution's output, pooled on the
// accumulators, into y [N, PH, PW, OutC].
func (p *NHWCConv2D) ForwardMaxPoolInto(y, x *Tensor, k, stride int, s *Scratch) error {
	l := p.l
	oh, ow, err := p.outSize(x, s)
	if err != nil {
		return err
	}
	if k < 1 || stride < 1 || oh < k || ow < k {
		return fmt.Errorf("qnn: MaxPool2D: input [%d %d %d %d] with window %d stride %d: %w", x.Shape[0], l.OutC, oh, ow, k, stride, quant.ErrShape)
	}
	if !l.rq.monotone(l.InC * l.KH * l.KW) {
		if err := p.ForwardInto(&s.tmp, x, s); err != nil {
			return err
		}
		return MaxPool2DNHWCInto(y, &s.tmp, k, stride)
	}
	ph, pw := (oh-k)/stride+1, (ow-k)/stride+1
	n, c, wp := x.Shape[0], l.OutC, x.Shape[2]+2*l.Pad
	out := y.reset(l.OutAct, n, ph, pw, c)
	size := ph * pw * c
	s.pooled = grow(s.pooled, ph*pw*c)
	p.eachSample(x, oh, s, func(i int, acc []int32) {
		maxPoolAcc(s.pooled, acc, c, wp, ph, pw, k, stride)
		l.rq.requantize(s.pooled, ph*pw, c, out[i*size:(i+1)*size], c, 1)
	})
	return nil
}

// outSize checks x, [N, H, W, InC], and returns the output's height and
// width (Conv2D's checks, on the NCHW shape).
func (p *NHWCConv2D) outSize(x *Tensor, s *Scratch) (oh, ow int, err error) {
	l := p.l
	if len(x.Shape) != 4 || x.Shape[3] != l.InC {
		return 0, 0, fmt.Errorf("qnn: Conv2D: channels-last input shape %v does not fit %d input channels: %w", x.Shape, l.InC, quant.ErrShape)
	}
	s.nchw = [4]int{x.Shape[0], x.Shape[3], x.Shape[1], x.Shape[2]}
	return s.outSize(l, s.nchw[:])
}

// eachSample computes the accumulators of each sample of x, [N, H, W,
// InC], and hands them to emit: [oh·wp positions, OutC], where wp is the
// padded width and the positions of each output row past OW are garbage.
// Each sample is copied, shifted to unsigned, into the middle of a padded
// image whose border (the input's zero point) is written once per call.
func (p *NHWCConv2D) eachSample(x *Tensor, oh int, s *Scratch, emit func(i int, acc []int32)) {
	l := p.l
	n, h, w, c := x.Shape[0], x.Shape[1], x.Shape[2], l.InC
	pad := l.Pad
	hp, wp := h+2*pad, w+2*pad
	m := oh * wp
	s.offs = grow(s.offs, l.KH)
	for ky := range s.offs {
		s.offs[ky] = ky * wp * c
	}
	need := max(hp*wp*c, quant.WindowsLen(m, c, s.offs, p.wt))
	s.img = grow(s.img, need)
	s.img[0] = uint8(int8(l.InAct.Zero)) ^ 0x80 // the border, and what no window keeps
	for i := 1; i < len(s.img); i *= 2 {
		copy(s.img[i:], s.img[:i])
	}
	rows := (m + quant.WindowTileRows - 1) / quant.WindowTileRows * quant.WindowTileRows
	s.acc = grow(s.acc, rows*l.OutC)
	zero := l.InAct.Zero + 128
	inSize, rowLen := h*w*c, w*c
	for i := range n {
		sample := x.Data[i*inSize : (i+1)*inSize]
		for yy := range h {
			at := ((yy+pad)*wp + pad) * c
			quant.ShiftToUnsigned(s.img[at:at+rowLen], sample[yy*rowLen:(yy+1)*rowLen])
		}
		quant.GemmIntWindows(m, s.img, zero, c, s.offs, p.wt, s.acc, l.OutC)
		emit(i, s.acc)
	}
}

// MaxPool2DNHWCInto is MaxPool2DInto for channels-last tensors: x is
// [N, H, W, C], y becomes [N, OH, OW, C]. y must not share storage with
// x.
func MaxPool2DNHWCInto(y, x *Tensor, k, stride int) error {
	if len(x.Shape) != 4 || k < 1 || stride < 1 || x.Shape[1] < k || x.Shape[2] < k {
		return fmt.Errorf("qnn: MaxPool2D: channels-last input shape %v with window %d stride %d: %w", x.Shape, k, stride, quant.ErrShape)
	}
	n, h, w, c := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := (h-k)/stride+1, (w-k)/stride+1
	out := y.reset(x.Act, n, oh, ow, c)
	for i := range n {
		in := x.Data[i*h*w*c : (i+1)*h*w*c]
		for oy := range oh {
			for ox := range ow {
				dst := out[((i*oh+oy)*ow+ox)*c : ((i*oh+oy)*ow+ox+1)*c]
				first := ((oy*stride)*w + ox*stride) * c
				copy(dst, in[first:first+c])
				for ky := range k {
					for kx := range k {
						at := ((oy*stride+ky)*w + ox*stride + kx) * c
						for ch, v := range in[at : at+c] {
							dst[ch] = max(dst[ch], v)
						}
					}
				}
			}
		}
	}
	return nil
}

// NHWCToNCHWInto writes x, [N, H, W, C], to y as [N, C, H, W]. y must
// not share storage with x.
func NHWCToNCHWInto(y, x *Tensor) error {
	if len(x.Shape) != 4 {
		return fmt.Errorf("qnn: channels-last input shape %v is not [N H W C]: %w", x.Shape, quant.ErrShape)
	}
	n, h, w, c := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := y.reset(x.Act, n, c, h, w)
	hw := h * w
	for i := range n {
		in, dst := x.Data[i*hw*c:(i+1)*hw*c], out[i*hw*c:(i+1)*hw*c]
		for p := range hw {
			for ch, v := range in[p*c : (p+1)*c] {
				dst[ch*hw+p] = v
			}
		}
	}
	return nil
}

// PermuteNHWC returns the kernel for inputs flattened channels-last: a
// Linear after Flatten of [C, H, W] activations (c·h·w = In) kept as
// [H, W, C]. Its weight columns are permuted once, so that each output
// is the same sum of the same products as l's on the NCHW flattening:
// the same codes.
func (l *Linear) PermuteNHWC(c, h, w int) (*Linear, error) {
	if c < 1 || h < 1 || w < 1 || c*h*w != l.In {
		return nil, fmt.Errorf("qnn: Linear: channels-last input [%d %d %d] for %d input features: %w", h, w, c, l.In, quant.ErrShape)
	}
	perm := make([]int8, len(l.W.Data))
	for o := range l.Out {
		row, dst := l.W.Data[o*l.In:(o+1)*l.In], perm[o*l.In:(o+1)*l.In]
		for ch := range c {
			for p := range h * w {
				dst[p*c+ch] = row[ch*h*w+p]
			}
		}
	}
	wt := l.W
	wt.Data = perm
	return &Linear{In: l.In, Out: l.Out, W: wt, InAct: l.InAct, OutAct: l.OutAct, ReLU: l.ReLU, rq: l.rq,
		wt: quant.PackBT(l.Out, l.In, perm, l.W.Zero)}, nil
}
