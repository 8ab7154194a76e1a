package onnxio

import (
	"math"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
)

// This file folds the shape arithmetic exporters write (Constant, Shape,
// Gather, Unsqueeze, Squeeze, Concat, Cast) and Transpose of constants
// into constants at import time.
// The batch size is unknown: an element equal to it is carried as a
// symbolic element (constant.sym) until a Reshape consumes it.

// constantNode imports Constant from its value, value_float(s) or
// value_int(s) attribute.
func (im *importer) constantNode(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value", "value_string", "value_strings")
	if err != nil {
		return err
	}
	if _, err := inputs(n, 0, 0); err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	if len(a) != 1 {
		return invalid(n, "%d value attributes (exactly one expected)", len(a))
	}
	var c *constant
	switch {
	case a["value"] != nil:
		if c, err = decodeTensor(a["value"].GetT(), n.GetName(), im.cfg.maxElements); err != nil {
			return err
		}
	case a["value_float"] != nil:
		c = &constant{f: []float32{a["value_float"].GetF()}}
	case a["value_floats"] != nil:
		fs := a["value_floats"].GetFloats()
		c = &constant{dims: []int{len(fs)}, f: slices.Clone(fs)}
	case a["value_int"] != nil:
		c = &constant{isInt: true, i: []int64{a["value_int"].GetI()}}
	case a["value_ints"] != nil:
		is := a["value_ints"].GetInts()
		c = &constant{isInt: true, dims: []int{len(is)}, i: slices.Clone(is)}
	default:
		return im.unsup(n, "sparse or string constant")
	}
	im.values[out] = &value{c: c}
	return nil
}

// shapeOp folds Shape of an activation: [batch, per-sample shape...], the
// batch symbolic; opset 15's start and end slice it.
func (im *importer) shapeOp(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "start", "end")
	if err != nil {
		return err
	}
	in, err := inputs(n, 1, 1)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	v, err := im.get(in[0])
	if err != nil {
		return err
	}
	var full []int64
	var sym []bool
	if v.c != nil {
		for _, d := range v.c.dims {
			full = append(full, int64(d))
		}
		sym = make([]bool, len(full))
	} else {
		full = []int64{0}
		for _, d := range v.shape {
			full = append(full, int64(d))
		}
		sym = make([]bool, len(full))
		sym[0] = true
	}
	r := int64(len(full))
	clamp := func(x int64) int64 {
		if x < 0 {
			x += r
		}
		return min(max(x, 0), r)
	}
	start, end := clamp(attrInt(a, "start", 0)), clamp(attrInt(a, "end", r))
	if end < start {
		end = start
	}
	c := &constant{dims: []int{int(end - start)}, isInt: true, i: slices.Clone(full[start:end]), sym: slices.Clone(sym[start:end])}
	im.values[out] = &value{c: c}
	return nil
}

// gather folds Gather of a 1-D integer constant by constant indices.
func (im *importer) gather(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "axis")
	if err != nil {
		return err
	}
	in, err := inputs(n, 2, 2)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	data, err := im.intConst(in[0], n, "data", true)
	if err != nil {
		return err
	}
	idx, err := im.intConst(in[1], n, "indices", false)
	if err != nil {
		return err
	}
	if len(data.dims) != 1 {
		return im.unsup(n, "data of dimensions %v (1-D is supported)", data.dims)
	}
	if ax := attrInt(a, "axis", 0); ax != 0 && ax != -1 {
		return invalid(n, "axis %d of 1-D data", ax)
	}
	c := &constant{dims: slices.Clone(idx.dims), isInt: true, i: make([]int64, len(idx.i)), sym: make([]bool, len(idx.i))}
	size := int64(len(data.i))
	for k, x := range idx.i {
		if x < 0 {
			x += size
		}
		if x < 0 || x >= size {
			return invalid(n, "index %d out of range for %d elements", idx.i[k], size)
		}
		c.i[k] = data.i[x]
		if data.sym != nil {
			c.sym[k] = data.sym[x]
		}
	}
	im.values[out] = &value{c: c}
	return nil
}

// squeeze folds Unsqueeze or Squeeze of a constant (axes from the
// attribute before opset 13, from the second input after).
func (im *importer) squeeze(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "axes")
	if err != nil {
		return err
	}
	in, err := inputs(n, 1, 2)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	c, err := im.konst(in[0], n, "data")
	if err != nil {
		return err
	}
	axes, haveAxes := attrInts(a, "axes")
	if len(in) == 2 {
		ac, err := im.intConst(in[1], n, "axes", false)
		if err != nil {
			return err
		}
		axes, haveAxes = ac.i, true
	}
	unsq := n.GetOpType() == "Unsqueeze"
	if unsq && !haveAxes {
		return invalid(n, "no axes")
	}
	rank := len(c.dims)
	if unsq {
		rank += len(axes)
	}
	if len(axes) > 64 || rank > 64 {
		return im.unsup(n, "rank %d", rank)
	}
	mark := make([]bool, rank)
	for _, x := range axes {
		if x < 0 {
			x += int64(rank)
		}
		if x < 0 || x >= int64(rank) || mark[x] {
			return invalid(n, "axes %v for rank %d", axes, rank)
		}
		mark[x] = true
	}
	var dims []int
	if unsq {
		src := 0
		for k := range rank {
			if mark[k] {
				dims = append(dims, 1)
			} else {
				dims = append(dims, c.dims[src])
				src++
			}
		}
	} else {
		for k, d := range c.dims {
			if (haveAxes && mark[k]) || (!haveAxes && d == 1) {
				if d != 1 {
					return invalid(n, "squeeze of axis %d of size %d", k, d)
				}
				continue
			}
			dims = append(dims, d)
		}
	}
	nc := *c
	nc.dims = dims
	im.values[out] = &value{c: &nc}
	return nil
}

// concat folds Concat of 1-D constants.
func (im *importer) concat(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "axis")
	if err != nil {
		return err
	}
	in, err := inputs(n, 1, 1<<16)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	if ax := attrInt(a, "axis", 0); ax != 0 && ax != -1 {
		return im.unsup(n, "axis %d (1-D constants are supported)", ax)
	}
	c := &constant{dims: []int{0}}
	for k, name := range in {
		x, err := im.konst(name, n, "input")
		if err != nil {
			return err
		}
		if len(x.dims) != 1 {
			return im.unsup(n, "input of dimensions %v (1-D constants are supported)", x.dims)
		}
		if k == 0 {
			c.isInt = x.isInt
		} else if x.isInt != c.isInt {
			return invalid(n, "inputs of different types")
		}
		if c.dims[0]+x.dims[0] > im.cfg.maxElements {
			return invalidf(ErrTooLarge, "node %q (Concat): more than %d elements", n.GetName(), im.cfg.maxElements)
		}
		c.dims[0] += x.dims[0]
		c.f = append(c.f, x.f...)
		c.i = append(c.i, x.i...)
		if x.sym != nil {
			c.sym = append(c.sym, x.sym...)
		} else {
			c.sym = append(c.sym, make([]bool, len(x.i))...)
		}
	}
	if !c.isInt {
		c.sym = nil
	}
	im.values[out] = &value{c: c}
	return nil
}

// cast folds Cast of a constant to float32, float64 (kept as float32),
// int64 or int32.
func (im *importer) cast(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "to", "saturate")
	if err != nil {
		return err
	}
	in, err := inputs(n, 1, 1)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	c, err := im.konst(in[0], n, "input")
	if err != nil {
		return err
	}
	nc := &constant{dims: slices.Clone(c.dims)}
	switch to := onnxpb.TensorProto_DataType(attrInt(a, "to", 0)); to {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE:
		if c.hasSym() {
			return im.unsup(n, "cast of the batch size to float")
		}
		nc.f = slices.Clone(c.f)
		if c.isInt {
			nc.f = make([]float32, len(c.i))
			for k, x := range c.i {
				nc.f[k] = float32(x)
			}
		}
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		nc.isInt = true
		nc.i, nc.sym = slices.Clone(c.i), slices.Clone(c.sym)
		if !c.isInt {
			nc.i = make([]int64, len(c.f))
			for k, x := range c.f {
				if math.IsNaN(float64(x)) || math.Abs(float64(x)) > 1<<62 {
					return im.unsup(n, "cast of %g to an integer", x)
				}
				nc.i[k] = int64(x)
			}
		}
	default:
		return im.unsup(n, "cast to %s", to)
	}
	im.values[out] = &value{c: nc}
	return nil
}

// transposeConst folds Transpose of a constant (the exporters that write a
// Linear as MatMul of the transposed weight).
func (im *importer) transposeConst(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "perm")
	if err != nil {
		return err
	}
	in, err := inputs(n, 1, 1)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	c, err := im.konst(in[0], n, "input")
	if err != nil {
		return err
	}
	if c.hasSym() {
		return im.unsup(n, "transpose of a shape holding the batch size")
	}
	r := len(c.dims)
	perm := make([]int, r)
	for k := range perm {
		perm[k] = r - 1 - k // default: reverse the axes
	}
	if p, ok := attrInts(a, "perm"); ok {
		if len(p) != r {
			return invalid(n, "perm %s for rank %d", listString(p), r)
		}
		seen := make([]bool, r)
		for k, x := range p {
			if x < 0 || x >= int64(r) || seen[x] {
				return invalid(n, "perm %s for rank %d", listString(p), r)
			}
			seen[x], perm[k] = true, int(x)
		}
	}
	dims := make([]int, r)
	for k, p := range perm {
		dims[k] = c.dims[p]
	}
	// Row-major strides of the input, read in the output's order.
	stride := make([]int, r)
	acc := 1
	for k := r - 1; k >= 0; k-- {
		stride[k] = acc
		acc *= c.dims[k]
	}
	nc := &constant{dims: dims, isInt: c.isInt}
	n0 := c.numel()
	if c.isInt {
		nc.i = make([]int64, n0)
	} else {
		nc.f = make([]float32, n0)
	}
	idx := make([]int, r)
	for o := range n0 {
		src := 0
		for k := range r {
			src += idx[k] * stride[perm[k]]
		}
		if c.isInt {
			nc.i[o] = c.i[src]
		} else {
			nc.f[o] = c.f[src]
		}
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < dims[k] {
				break
			}
			idx[k] = 0
		}
	}
	im.values[out] = &value{c: nc}
	return nil
}
