package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() {
	Register("Linear", func(raw json.RawMessage, limit int) (Layer, error) {
		var a LinearAttrs
		if err := decodeAttrs("Linear", raw, &a); err != nil {
			return nil, err
		}
		if a.In <= 0 || a.Out <= 0 {
			return nil, configErrorf("Linear", "in %d and out %d must be positive", a.In, a.Out)
		}
		shapes := [][]int{{a.Out, a.In}}
		if a.Bias {
			shapes = append(shapes, []int{a.Out})
		}
		if err := reserve("Linear", limit, shapes...); err != nil {
			return nil, err
		}
		l := &Linear{In: a.In, Out: a.Out, Weight: newParam("weight", a.Out, a.In)}
		if a.Bias {
			l.Bias = newParam("bias", a.Out)
		}
		return l, nil
	})
}

// Linear is a fully connected layer: y = x·Wᵀ + b for x of shape [N, In],
// W of shape [Out, In] and b of shape [Out], as torch.nn.Linear.
//
// Every output element is the sum over the In products taken in index
// order, then the bias, whatever the batch size, the memory layout or
// GOMAXPROCS, so a sample's output does not depend on the rest of its batch.
type Linear struct {
	// In and Out are the input and output widths.
	In, Out int
	// Weight has shape [Out, In].
	Weight *Param
	// Bias has shape [Out]; nil means no bias.
	Bias *Param

	x *tensor.Tensor // input of the last Train-mode Forward
}

// LinearAttrs are the hyperparameters Linear saves.
type LinearAttrs struct {
	In   int  `json:"in"`   // Linear.In
	Out  int  `json:"out"`  // Linear.Out
	Bias bool `json:"bias"` // whether Linear.Bias is non-nil
}

// NewLinear returns a Linear layer with a bias. With a non-nil rng the
// weight and bias are drawn uniformly from [-1/sqrt(in), 1/sqrt(in)], which
// is PyTorch's default (Kaiming-uniform with a = sqrt(5)), weight first, in
// row-major order; with a nil rng they are zero. It panics if in or out is
// not positive.
func NewLinear(in, out int, rng *rand.Rand) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear: in %d and out %d must be positive", in, out))
	}
	l := &Linear{
		In: in, Out: out,
		Weight: newParam("weight", out, in),
		Bias:   newParam("bias", out),
	}
	if rng != nil {
		bound := 1 / math.Sqrt(float64(in))
		uniformFill(rng, l.Weight.Value.Data(), bound)
		uniformFill(rng, l.Bias.Value.Data(), bound)
	}
	return l
}

// uniformFill draws every element of d uniformly from [-bound, bound).
func uniformFill(rng *rand.Rand, d []float32, bound float64) {
	for i := range d {
		d[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// Kind returns "Linear".
func (l *Linear) Kind() string { return "Linear" }

func (l *Linear) check() error {
	if l.In <= 0 || l.Out <= 0 {
		return configErrorf(l.Kind(), "in %d and out %d must be positive", l.In, l.Out)
	}
	if err := checkParam(l.Kind(), "weight", l.Weight, l.Out, l.In); err != nil {
		return err
	}
	if l.Bias != nil {
		return checkParam(l.Kind(), "bias", l.Bias, l.Out)
	}
	return nil
}

// OutputShape returns [Out] for an input shape [In].
func (l *Linear) OutputShape(inputs [][]int) ([]int, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	s, err := oneShape(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	if len(s) != 1 || s[0] != l.In {
		return nil, shapeErrorf(l.Kind(), "input shape %s does not fit weight %v", batchShape(s), l.Weight.Value.Shape())
	}
	return []int{l.Out}, nil
}

// Forward computes x·Wᵀ + b for x of shape [N, In].
func (l *Linear) Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	x, err := oneInput(l.Kind(), inputs)
	if err != nil {
		return nil, err
	}
	y, err := l.forward(x, false, nil)
	if err == nil && mode == Train {
		l.x = x
	}
	return y, err
}

// forward is Forward on x, followed by a ReLU if relu is set (Graph's
// fused Eval-mode pass of a Linear read only by a ReLU: the same bits as
// the two layers one after the other), with the output's storage from
// bufs if it is not nil (every element is written).
func (l *Linear) forward(x *tensor.Tensor, relu bool, bufs *bufPool) (*tensor.Tensor, error) {
	if x.Dims() != 2 || x.Dim(1) != l.In {
		return nil, shapeErrorf(l.Kind(), "input shape %v does not fit weight %v", x.Shape(), l.Weight.Value.Shape())
	}
	n := x.Dim(0)
	var y *tensor.Tensor
	if bufs != nil {
		y = bufs.tensor(n, l.Out)
	} else {
		y = tensor.New(n, l.Out)
	}
	var bias []float32
	if l.Bias != nil {
		bias = l.Bias.Value.Data()
	}
	linearForward(n, l.In, l.Out, x.Data(), l.Weight.Value.Data(), bias, y.Data())
	if relu && n > 0 {
		f32gemm.Epilogue{ReLU: true}.Apply(y.Data(), n*l.Out, y.Data(), n*l.Out, 1, n*l.Out)
	}
	return y, nil
}

// linearForward sets y[n,out] = x[n,in]·w[out,in]ᵀ, then adds bias[out]
// (if not nil) to every row. Every element of y is one in-order chain of
// fused multiply-adds over in, whatever n is, then the bias added in
// float32.
//
// With fewer rows than outputs (inference and training batches against a
// wide layer) it computes the transposed product yᵀ = w·xᵀ instead, into
// scratch, and transposes it into y while adding the bias: the weight is
// then read in place and only x is packed, where y = x·wᵀ packs the whole
// weight on every call (the MNIST MLP's 784×256 weight is four times its
// batch of 64). Since a·b = b·a exactly, each fused multiply-add, and so
// each element, has the same bits either way.
func linearForward(n, in, out int, x, w, bias, y []float32) {
	if n >= out || n*out < 1<<12 {
		gemm(false, true, n, out, in, x, in, w, in, 0, y, out)
		if bias != nil {
			for i := range n {
				row := y[i*out : (i+1)*out]
				for j, b := range bias[:len(row)] {
					row[j] += b
				}
			}
		}
		return
	}
	sp := transposeScratch.Get().(*[]float32)
	defer transposeScratch.Put(sp)
	if cap(*sp) < out*n {
		*sp = make([]float32, out*n)
	}
	t := (*sp)[:out*n]
	// On one goroutine: with few rows each weight value serves only n
	// multiply-adds, the product streams the weight, and split over two
	// cores it ran slower (the MNIST MLP's first layer at batch 64: 154 µs
	// serial, 180 µs split, best of 300 at GOMAXPROCS 2), each core reading
	// its share of the weight from a cache the other one warmed.
	gemmSerial(false, true, out, n, in, w, in, x, in, 0, t, n)
	transposeAddBias(y, t, n, out, bias)
}

// transposeScratch holds the yᵀ buffers of linearForward.
var transposeScratch = sync.Pool{New: func() any { return new([]float32) }}

// transposeAddBias sets y[i·out+o] = t[o·n+i] + bias[o] (no addition for a
// nil bias), in blocks of 16×16 that stay in L1 on both sides.
func transposeAddBias(y, t []float32, n, out int, bias []float32) {
	const blk = 16
	for o0 := 0; o0 < out; o0 += blk {
		o1 := min(o0+blk, out)
		for i0 := 0; i0 < n; i0 += blk {
			i1 := min(i0+blk, n)
			for i := i0; i < i1; i++ {
				row := y[i*out+o0 : i*out+o1]
				if bias == nil {
					for j := range row {
						row[j] = t[(o0+j)*n+i]
					}
					continue
				}
				b := bias[o0:o1]
				for j := range row {
					row[j] = t[(o0+j)*n+i] + b[j]
				}
			}
		}
	}
}

// Backward adds gradOutᵀ·x to the weight gradient and the column sums of
// gradOut to the bias gradient, and returns gradOut·W.
func (l *Linear) Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error) {
	if l.x == nil {
		return nil, noForwardError(l.Kind())
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	n := l.x.Dim(0)
	if l.x.Dim(1) != l.In {
		return nil, shapeErrorf(l.Kind(), "recorded input shape %v does not fit weight %v", l.x.Shape(), l.Weight.Value.Shape())
	}
	if err := checkGradOut(l.Kind(), gradOut, []int{n, l.Out}); err != nil {
		return nil, err
	}
	g := gradOut.Data()
	// dW[out,in] += dYᵀ·X: every element sums over the batch in order.
	gemm(true, false, l.Out, l.In, n, g, l.Out, l.x.Data(), l.In, 1, gradOf(l.Weight), l.In)
	if l.Bias != nil {
		db := gradOf(l.Bias)
		for i := range n {
			for j, v := range g[i*l.Out : (i+1)*l.Out] {
				db[j] += v
			}
		}
	}
	dx := tensor.New(n, l.In)
	gemm(false, false, n, l.In, l.Out, g, l.Out, l.Weight.Value.Data(), l.In, 0, dx.Data(), l.In)
	return []*tensor.Tensor{dx}, nil
}

// Params returns the weight, then the bias if there is one.
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Clone returns a deep copy without the record of a forward pass.
func (l *Linear) Clone() Layer {
	return &Linear{In: l.In, Out: l.Out, Weight: cloneParam(l.Weight), Bias: cloneParam(l.Bias)}
}

// Attrs returns the layer's LinearAttrs.
func (l *Linear) Attrs() any { return LinearAttrs{In: l.In, Out: l.Out, Bias: l.Bias != nil} }
