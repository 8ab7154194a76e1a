package qnn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// PreparedConv2D is a Conv2D whose weights are also packed in
// channels-last window order (kernel row, kernel column, channel), so
// that its Into kernels gather each window as KH runs of KW·InC
// consecutive codes of a channels-last copy of the padded sample, instead
// of InC·KH runs of KW codes: SmallCNN's second convolution moves 3 runs
// of 48 codes per output position instead of 48 runs of 3. The products
// are the same sums in another order of k, hence the same integers, and
// the codes are those of Conv2D.ForwardInto exactly. A PreparedConv2D is
// immutable and safe for concurrent use.
type PreparedConv2D struct {
	l *Conv2D
	// wt is W [OutC, KH, KW, InC] packed for the GEMM, or nil for one
	// input channel, where both orders agree.
	wt *quant.PackedB
}

// Prepare packs the kernel's weights in channels-last window order.
func (l *Conv2D) Prepare() *PreparedConv2D {
	p := &PreparedConv2D{l: l}
	if l.InC == 1 {
		return p
	}
	k := l.InC * l.KH * l.KW
	perm := make([]int8, len(l.W.Data))
	for o := range l.OutC {
		for ch := range l.InC {
			for ky := range l.KH {
				for kx := range l.KW {
					perm[o*k+(ky*l.KW+kx)*l.InC+ch] = l.W.Data[o*k+(ch*l.KH+ky)*l.KW+kx]
				}
			}
		}
	}
	p.wt = quant.PackBT(l.OutC, k, perm, l.W.Zero)
	return p
}

// Conv2D returns the kernel p was prepared from.
func (p *PreparedConv2D) Conv2D() *Conv2D { return p.l }

// ForwardInto is Conv2D.ForwardInto, gathering channels-last.
func (p *PreparedConv2D) ForwardInto(y, x *Tensor, s *Scratch) error {
	if p.wt == nil {
		return p.l.ForwardInto(y, x, s)
	}
	l := p.l
	oh, ow, err := s.outSize(l, x.Shape)
	if err != nil {
		return err
	}
	n := x.Shape[0]
	out := y.reset(l.OutAct, n, l.OutC, oh, ow)
	size := l.OutC * oh * ow
	p.eachSample(x, oh, ow, s, func(i int, acc []int32) {
		l.rq.requantize(acc, oh*ow, l.OutC, out[i*size:(i+1)*size], 1, oh*ow)
	})
	return nil
}

// ForwardMaxPoolInto is Conv2D.ForwardMaxPoolInto, gathering
// channels-last.
func (p *PreparedConv2D) ForwardMaxPoolInto(y, x *Tensor, k, stride int, s *Scratch) error {
	l := p.l
	if p.wt == nil {
		return l.ForwardMaxPoolInto(y, x, k, stride, s)
	}
	oh, ow, err := s.outSize(l, x.Shape)
	if err != nil {
		return err
	}
	ph, pw := (oh-k)/stride+1, (ow-k)/stride+1
	if k < 1 || stride < 1 || oh < k || ow < k {
		return fmt.Errorf("qnn: MaxPool2D: input [%d %d %d %d] with window %d stride %d: %w", x.Shape[0], l.OutC, oh, ow, k, stride, quant.ErrShape)
	}
	if !l.rq.monotone(l.InC * l.KH * l.KW) {
		if err := p.ForwardInto(&s.tmp, x, s); err != nil {
			return err
		}
		return MaxPool2DInto(y, &s.tmp, k, stride)
	}
	n, c := x.Shape[0], l.OutC
	out := y.reset(l.OutAct, n, c, ph, pw)
	size := c * ph * pw
	s.pooled = grow(s.pooled, ph*pw*c)
	p.eachSample(x, oh, ow, s, func(i int, acc []int32) {
		maxPoolAcc(s.pooled, acc, c, ow, ph, pw, k, stride)
		l.rq.requantize(s.pooled, ph*pw, c, out[i*size:(i+1)*size], 1, ph*pw)
	})
	return nil
}

// eachSample is Conv2D.eachSample with the windows gathered
// channels-last against the permuted weights.
func (p *PreparedConv2D) eachSample(x *Tensor, oh, ow int, s *Scratch, emit func(i int, acc []int32)) {
	g := p.l.geom()
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	inSize, k := g.inC*h*w, g.inC*g.kh*g.kw
	s.rows = grow(s.rows, oh*ow*k)
	s.padded = grow(s.padded, g.inC*(h+2*g.pad)*(w+2*g.pad))
	s.acc = grow(s.acc, oh*ow*g.outC)
	s.zero[0] = p.l.InAct.Zero
	for i := range n {
		im2rowChannelsLast(x.Data[i*inSize:(i+1)*inSize], g.inC, h, w, g.kh, g.kw, g.stride, g.pad, oh, ow, int8(p.l.InAct.Zero), s.rows, s.padded)
		quant.GemmIntPackedWorkers(oh*ow, s.rows, s.zero[:], p.wt, s.acc, 1)
		emit(i, s.acc)
	}
}

// im2rowChannelsLast lays one sample [C, H, W] out as a [OH·OW, KH·KW·C]
// matrix whose row for an output position holds its window in (kernel
// row, kernel column, channel) order: the sample is first copied into
// padded as [H+2·pad, W+2·pad, C] (channels last, the border at padv),
// so that each kernel row of a window is one run of KW·C codes.
func im2rowChannelsLast(x []int8, c, h, w, kh, kw, stride, pad, oh, ow int, padv int8, rows, padded []int8) {
	hp, wp := h+2*pad, w+2*pad
	src := padded[:hp*wp*c]
	fill(src[:pad*wp*c], padv)
	fill(src[(h+pad)*wp*c:], padv)
	for y := range h {
		row := src[(y+pad)*wp*c : (y+pad+1)*wp*c]
		fill(row[:pad*c], padv)
		fill(row[(w+pad)*c:], padv)
		for ch := range c {
			in := x[(ch*h+y)*w : (ch*h+y+1)*w]
			dst := row[pad*c+ch:]
			for xx, v := range in {
				dst[xx*c] = v
			}
		}
	}
	run, k := kw*c, kh*kw*c
	rows = rows[:oh*ow*k]
	for oy := range oh {
		for ox := range ow {
			out := rows[(oy*ow+ox)*k : (oy*ow+ox+1)*k]
			for ky := range kh {
				at := ((oy*stride+ky)*wp + ox*stride) * c
				copy(out[ky*run:(ky+1)*run], src[at:at+run])
			}
		}
	}
}
