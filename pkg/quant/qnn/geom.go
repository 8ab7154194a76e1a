package qnn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// checkGeometry refuses a convolution geometry no model needs and some
// files abuse: channels, kernel and stride must be positive, the padding
// non-negative and smaller than the kernel in both directions, as PyTorch
// requires and nn.Conv2D does (a window would otherwise read padding only,
// and a pad of 2^16 on a 2×2 input asks for gigabytes), and no dimension
// may exceed tensor.MaxElements. Errors wrap quant.ErrShape and name op.
func checkGeometry(op string, inC, outC, kh, kw, stride, pad int) error {
	if inC < 1 || outC < 1 || kh < 1 || kw < 1 || stride < 1 || pad < 0 {
		return fmt.Errorf("qnn: %s: %d->%d channels, kernel %dx%d, stride %d, pad %d: channels, kernel and stride must be positive and pad non-negative: %w",
			op, inC, outC, kh, kw, stride, pad, quant.ErrShape)
	}
	if pad >= kh || pad >= kw {
		return fmt.Errorf("qnn: %s: pad %d with a %dx%d kernel: padding must be smaller than the kernel: %w", op, pad, kh, kw, quant.ErrShape)
	}
	if limit := tensor.MaxElements(); max(inC, outC, kh, kw, stride) > limit {
		return fmt.Errorf("qnn: %s: %d->%d channels, kernel %dx%d, stride %d: a dimension exceeds MaxElements (%d): %w",
			op, inC, outC, kh, kw, stride, limit, tensor.ErrTooLarge)
	}
	return nil
}

// checkBuffers refuses a Forward of n samples of h×w whose output, or one
// of the per-sample buffers it allocates (the im2row matrix, the padded
// input, the accumulators), would hold more than tensor.MaxElements
// elements: the error names op and the buffer, and wraps
// tensor.ErrTooLarge.
func (g convGeom) checkBuffers(op string, n, h, w, oh, ow int) error {
	for _, b := range []struct {
		what  string
		shape []int
	}{
		{"output", []int{n, g.outC, oh, ow}},
		{"im2row matrix of one sample", []int{oh, ow, g.inC, g.kh, g.kw}},
		{"padded sample", []int{g.inC, h + 2*g.pad, w + 2*g.pad}},
		{"accumulators of one sample", []int{oh, ow, g.outC}},
	} {
		if _, err := tensor.Numel(b.shape); err != nil {
			return fmt.Errorf("qnn: %s: %s %v: %w", op, b.what, b.shape, err)
		}
	}
	return nil
}

// checkCodes refuses a tensor whose Data does not hold exactly the
// elements its Shape says (a kernel would read past it), or whose shape
// exceeds tensor.MaxElements.
func checkCodes(op string, x *Tensor) error {
	n, err := tensor.Numel(x.Shape)
	if err != nil {
		return fmt.Errorf("qnn: %s: input: %w", op, err)
	}
	if n != len(x.Data) {
		return fmt.Errorf("qnn: %s: input shape %v holds %d codes, Data has %d: %w", op, x.Shape, n, len(x.Data), quant.ErrShape)
	}
	return nil
}
