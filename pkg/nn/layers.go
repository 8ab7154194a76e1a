package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// This file holds the plumbing shared by the built-in layers: their sentinel
// errors, shape messages, parameter allocation, attribute decoding and the
// worker pool that spreads a batch over the available processors.

// Sentinel errors of the built-in layers, matched with errors.Is.
var (
	// ErrLayerShape reports inputs (or an output gradient) whose shape does
	// not fit a layer. The message names the layer kind and both shapes, as
	// in "nn: Linear: input shape [N 783] does not fit weight [10 784]".
	ErrLayerShape = errors.New("shape does not fit the layer")
	// ErrLayerConfig reports a layer whose hyperparameters or parameter
	// tensors are invalid, for example a zero stride, a weight of the wrong
	// shape, or attributes that do not decode.
	ErrLayerConfig = errors.New("invalid layer configuration")
)

// layerError is an error of one built-in layer kind; it matches a sentinel
// with errors.Is while its message carries only the specifics.
type layerError struct {
	kind string
	msg  string
	is   error
}

func (e *layerError) Error() string        { return "nn: " + e.kind + ": " + e.msg }
func (e *layerError) Is(target error) bool { return target == e.is }

// shapeErrorf returns an ErrLayerShape error for kind.
func shapeErrorf(kind, format string, args ...any) error {
	return &layerError{kind: kind, msg: fmt.Sprintf(format, args...), is: ErrLayerShape}
}

// configErrorf returns an ErrLayerConfig error for kind.
func configErrorf(kind, format string, args ...any) error {
	return &layerError{kind: kind, msg: fmt.Sprintf(format, args...), is: ErrLayerConfig}
}

// noForwardError reports a Backward that has no Train-mode Forward to
// differentiate.
func noForwardError(kind string) error {
	return fmt.Errorf("nn: %s: %w", kind, ErrNoForward)
}

// batchShape formats a per-sample shape with the batch dimension shown as N:
// [784] becomes "[N 784]".
func batchShape(s []int) string {
	var b strings.Builder
	b.WriteString("[N")
	for _, d := range s {
		fmt.Fprintf(&b, " %d", d)
	}
	b.WriteByte(']')
	return b.String()
}

// oneShape checks that OutputShape got exactly one input shape.
func oneShape(kind string, inputs [][]int) ([]int, error) {
	if len(inputs) != 1 {
		return nil, shapeErrorf(kind, "takes 1 input, got %d", len(inputs))
	}
	return inputs[0], nil
}

// oneInput checks that Forward got exactly one non-nil input of rank at
// least 1 (the batch dimension).
func oneInput(kind string, inputs []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(inputs) != 1 {
		return nil, shapeErrorf(kind, "takes 1 input, got %d", len(inputs))
	}
	x := inputs[0]
	if x == nil {
		return nil, shapeErrorf(kind, "input is a nil tensor")
	}
	if x.Dims() == 0 {
		return nil, shapeErrorf(kind, "input is a scalar; want a batch [N ...]")
	}
	return x, nil
}

// checkGradOut checks that a Backward's output gradient has the shape of the
// output of the recorded forward pass.
func checkGradOut(kind string, g *tensor.Tensor, want []int) error {
	if g == nil {
		return shapeErrorf(kind, "output gradient is a nil tensor, want shape %v", want)
	}
	if got := g.Shape(); !slices.Equal(got, want) {
		return shapeErrorf(kind, "output gradient shape %v does not fit output shape %v", got, want)
	}
	return nil
}

// newParam allocates a zero-filled parameter; trainable ones get a
// zero-filled gradient of the same shape, buffers a nil Grad.
func newParam(name string, trainable bool, shape ...int) *Param {
	p := &Param{Name: name, Value: tensor.New(shape...)}
	if trainable {
		p.Grad = tensor.New(shape...)
	}
	return p
}

// cloneParam deep-copies p; a nil p stays nil.
func cloneParam(p *Param) *Param {
	if p == nil {
		return nil
	}
	c := &Param{Name: p.Name}
	if p.Value != nil {
		c.Value = p.Value.Clone()
	}
	if p.Grad != nil {
		c.Grad = p.Grad.Clone()
	}
	return c
}

// checkParam checks that a parameter the layer needs is present with the
// given shape.
func checkParam(kind, what string, p *Param, shape ...int) error {
	if p == nil || p.Value == nil {
		return configErrorf(kind, "%s is nil", what)
	}
	if got := p.Value.Shape(); !slices.Equal(got, shape) {
		return configErrorf(kind, "%s has shape %v, want %v", what, got, shape)
	}
	if p.Grad != nil && !p.Grad.SameShape(p.Value) {
		return configErrorf(kind, "%s gradient has shape %v, want %v", what, p.Grad.Shape(), shape)
	}
	return nil
}

// gradOf returns p's gradient, allocating a zero one if the layer was built
// without it.
func gradOf(p *Param) []float32 {
	if p.Grad == nil {
		p.Grad = tensor.New(p.Value.Shape()...)
	}
	return p.Grad.Data()
}

// decodeAttrs unmarshals a layer's JSON attributes into v, rejecting unknown
// fields. Empty input and null leave v unchanged.
func decodeAttrs(kind string, raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configErrorf(kind, "attrs %s: %v", raw, err)
	}
	if dec.More() {
		return configErrorf(kind, "attrs %s: trailing data", raw)
	}
	return nil
}

// noAttrs is the Attrs value of layers without hyperparameters; it marshals
// to {}.
type noAttrs struct{}

// workers returns how many goroutines to spread n independent items over.
func workers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// parallelFor calls fn(worker, i) for every i in [0, n), spread over w
// goroutines (w from workers(n)) that pull indices in turn. worker is in
// [0, w) and lets fn use per-worker scratch space. Results must not depend on
// which worker handles which index: fn writes only what belongs to i.
func parallelFor(n, w int, fn func(worker, i int)) {
	if w <= 1 || n <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for wk := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(wk, i)
			}
		}()
	}
	wg.Wait()
}

// gemmSerial sets C = op(A)·B + beta·C for C [m,n] and B [k,n], with
// op(A) = A for A [m,k] or, with transA, Aᵀ for A [k,m], on the calling
// goroutine; see gemmTiles.
func gemmSerial(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmTiles(1, transA, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// gemm is gemmSerial spread over GOMAXPROCS goroutines for products of a
// million multiply-adds or more; below that goroutines cost more than they
// save. Both give the same bits.
func gemm(transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	w := 1
	if m*n*k >= 1<<20 {
		w = runtime.GOMAXPROCS(0)
	}
	gemmTiles(w, transA, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// gemmTiles computes C = op(A)·B + beta·C (see gemmSerial) by calling
// blas32 Gemm on balanced tiles of C of at most 64×192, spread over up to w
// goroutines. gonum computes such a tile on the calling goroutine (it goes
// parallel from 4 blocks of 64×64, and then splits k into blocks of 64,
// which costs more calls), so the caller decides the parallelism. Neither
// tiling nor w changes a bit of the result: the NoTrans·NoTrans and
// Trans·NoTrans kernels update each element of C by axpy, summing its
// products in k order.
func gemmTiles(w int, transA bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	tileM := ceilDiv(m, ceilDiv(m, 64))
	cols := ceilDiv(n, 192)
	if rows := ceilDiv(m, tileM); w > 1 && rows*cols < 2*w {
		cols = min(ceilDiv(n, 32), ceilDiv(2*w, rows)) // more, narrower tiles
	}
	tileN := ceilDiv(n, cols)
	cols = ceilDiv(n, tileN)
	tiles := ceilDiv(m, tileM) * cols
	tA := blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	tile := func(_, t int) {
		i0, j0 := (t/cols)*tileM, (t%cols)*tileN
		mi, nj := min(tileM, m-i0), min(tileN, n-j0)
		var sa blas32.General
		if transA {
			sa = blas32.General{Rows: k, Cols: mi, Stride: lda, Data: a[i0:]}
		} else {
			sa = blas32.General{Rows: mi, Cols: k, Stride: lda, Data: a[i0*lda:]}
		}
		blas32.Gemm(tA, blas.NoTrans, 1, sa,
			blas32.General{Rows: k, Cols: nj, Stride: ldb, Data: b[j0:]},
			beta, blas32.General{Rows: mi, Cols: nj, Stride: ldc, Data: c[i0*ldc+j0:]})
	}
	parallelFor(tiles, min(w, tiles), tile)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
