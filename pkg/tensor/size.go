package tensor

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// DefaultMaxElements is MaxElements until SetMaxElements changes it:
// 2^28 elements, 1 GiB of float32.
const DefaultMaxElements = 1 << 28

var maxElements atomic.Int64

func init() { maxElements.Store(DefaultMaxElements) }

// MaxElements returns the largest element count Numel accepts: the bound
// on every tensor a model file or a layer's geometry may ask for. Loaders
// (nn, ptq, the IDX reader) and layer builders refuse a parameter, an
// output or an intermediate buffer of one sample larger than this, naming
// the node and the size, before they allocate anything.
func MaxElements() int { return int(maxElements.Load()) }

// SetMaxElements sets MaxElements to n (at least 1) and returns the old
// value. It is safe for concurrent use; loads and builds running while it
// changes use either value.
func SetMaxElements(n int) int {
	return int(maxElements.Swap(int64(max(n, 1))))
}

// Numel returns the number of elements of a tensor of the given shape,
// the product of its dimensions (1 for a scalar). It is the one place
// where shapes are multiplied: a negative dimension, a product that
// overflows int, and a product above MaxElements are all refused with a
// *ShapeError (the last two matching ErrTooLarge), never wrapped around.
// A shape with a zero dimension holds 0 elements whatever the others are.
func Numel(shape []int) (int, error) {
	n, err := numel("numel", shape)
	if err != nil {
		return 0, err
	}
	if limit := MaxElements(); n > limit {
		return 0, &ShapeError{Op: "numel", Got: slices.Clone(shape), Err: ErrTooLarge,
			Msg: fmt.Sprintf("%d elements exceed MaxElements (%d)", n, limit)}
	}
	return n, nil
}

// MulDims returns the product of dims as Numel does, without the
// MaxElements bound, refusing a negative factor or an overflow of int
// with a *ShapeError naming op.
func MulDims(op string, dims ...int) (int, error) { return numel(op, dims) }

// numel multiplies the dimensions of shape, refusing negative ones and
// an overflow of int.
func numel(op string, shape []int) (int, error) {
	n := uint64(1)
	overflow := false
	for _, d := range shape {
		if d < 0 {
			return 0, &ShapeError{Op: op, Got: slices.Clone(shape), Msg: "negative dimension"}
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			overflow = true
			n = 1 // keep scanning for a zero or a negative dimension
			continue
		}
		n = lo
	}
	if slices.Contains(shape, 0) {
		return 0, nil
	}
	if overflow {
		return 0, &ShapeError{Op: op, Got: slices.Clone(shape), Err: ErrTooLarge, Msg: "element count overflows int"}
	}
	return int(n), nil
}
