package onnxio

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/onnxio/internal/onnxpb"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// This file maps each supported ONNX operator onto nn layers or onto
// constants folded at import time.

// unsup returns an *UnsupportedError for node n.
func (im *importer) unsup(n *onnxpb.NodeProto, format string, args ...any) error {
	d := n.GetDomain()
	if d == "ai.onnx" {
		d = ""
	}
	return &UnsupportedError{Node: n.GetName(), OpType: n.GetOpType(), Domain: domainName(n.GetDomain()),
		Opset: im.opsets[d], What: fmt.Sprintf(format, args...)}
}

// invalid returns an ErrInvalidGraph error naming node n.
func invalid(n *onnxpb.NodeProto, format string, args ...any) error {
	return fmt.Errorf("onnxio: %w: node %q (%s): %s", ErrInvalidGraph, n.GetName(), n.GetOpType(), fmt.Sprintf(format, args...))
}

// attrs returns n's attributes by name, refusing any not in known and
// duplicates.
func (im *importer) attrs(n *onnxpb.NodeProto, known ...string) (map[string]*onnxpb.AttributeProto, error) {
	m := map[string]*onnxpb.AttributeProto{}
	for _, a := range n.GetAttribute() {
		if !slices.Contains(known, a.GetName()) {
			return nil, im.unsup(n, "attribute %q", a.GetName())
		}
		if a.GetRefAttrName() != "" {
			return nil, im.unsup(n, "attribute %q refers to a function attribute", a.GetName())
		}
		if m[a.GetName()] != nil {
			return nil, invalid(n, "attribute %q given twice", a.GetName())
		}
		m[a.GetName()] = a
	}
	return m, nil
}

func attrInt(m map[string]*onnxpb.AttributeProto, name string, def int64) int64 {
	if a := m[name]; a != nil {
		return a.GetI()
	}
	return def
}

func attrFloat(m map[string]*onnxpb.AttributeProto, name string, def float32) float32 {
	if a := m[name]; a != nil {
		return a.GetF()
	}
	return def
}

func attrString(m map[string]*onnxpb.AttributeProto, name, def string) string {
	if a := m[name]; a != nil {
		return string(a.GetS())
	}
	return def
}

func attrInts(m map[string]*onnxpb.AttributeProto, name string) ([]int64, bool) {
	if a := m[name]; a != nil {
		return a.GetInts(), true
	}
	return nil, false
}

// inputs checks n's input count (between lo and hi, trailing "" inputs
// counting as absent) and returns the names.
func inputs(n *onnxpb.NodeProto, lo, hi int) ([]string, error) {
	in := n.GetInput()
	for len(in) > 0 && in[len(in)-1] == "" {
		in = in[:len(in)-1]
	}
	if len(in) < lo || len(in) > hi {
		return nil, invalid(n, "%d inputs, want %d to %d", len(in), lo, hi)
	}
	for k := 0; k < lo; k++ {
		if in[k] == "" {
			return nil, invalid(n, "required input %d is empty", k)
		}
	}
	return in, nil
}

// oneOutput checks that only n's first output is used, and returns it.
func (im *importer) oneOutput(n *onnxpb.NodeProto) (string, error) {
	if len(n.GetOutput()) == 0 || n.GetOutput()[0] == "" {
		return "", invalid(n, "no output")
	}
	for _, o := range n.GetOutput()[1:] {
		if o != "" && (len(im.consumers[o]) > 0 || im.outputs[o]) {
			return "", im.unsup(n, "its output %q (only the first output is supported)", o)
		}
	}
	return n.GetOutput()[0], nil
}

// get returns the value of tensor name: an activation or a constant
// (initializers are decoded on first use).
func (im *importer) get(name string) (*value, error) {
	if v := im.values[name]; v != nil {
		return v, nil
	}
	t := im.inits[name]
	if t == nil {
		return nil, invalidf(ErrInvalidGraph, "tensor %q is not defined", name)
	}
	c, err := decodeTensor(t, name, im.cfg.maxElements)
	if err != nil {
		return nil, err
	}
	v := &value{c: c}
	im.values[name] = v
	return v, nil
}

// act returns the activation name, for a consumer n that cannot absorb a
// pending Pad: the Pad becomes a ZeroPad2D node (once, whatever the number
// of consumers).
func (im *importer) act(name string, n *onnxpb.NodeProto) (*value, error) {
	v, err := im.actPadded(name, n)
	if err != nil {
		return nil, err
	}
	if v.pad == nil {
		return v, nil
	}
	p := v.pad
	node, err := im.zeroPad(p.node, v.node, [4]int{p.top, p.left, p.bottom, p.right})
	if err != nil {
		return nil, err
	}
	mv := &value{node: node, shape: slices.Clone(v.shape), nnShape: slices.Clone(im.nnShapes[node])}
	im.values[name] = mv
	return mv, nil
}

// zeroPad returns the nn node reading src padded by p (top, left, bottom,
// right): src itself for no padding, else a new ZeroPad2D node named after
// n (a Pad, or the Conv or pool it pads for).
func (im *importer) zeroPad(n *onnxpb.NodeProto, src string, p [4]int) (string, error) {
	if p == [4]int{} {
		return src, nil
	}
	name := sanitize(n.GetName(), strings.ToLower(n.GetOpType()))
	if n.GetOpType() != "Pad" {
		name += "_pad"
	}
	l := &nn.ZeroPad2D{Top: p[0], Left: p[1], Bottom: p[2], Right: p[3]}
	node, _, err := im.emit(nil, name, l, src)
	if err != nil {
		return "", fmt.Errorf("%w (padding for node %q)", err, n.GetName())
	}
	return node, nil
}

// actPadded returns the activation name, possibly with a pending Pad.
func (im *importer) actPadded(name string, n *onnxpb.NodeProto) (*value, error) {
	v, err := im.get(name)
	if err != nil {
		return nil, err
	}
	if v.c != nil {
		if n == nil {
			return nil, &UnsupportedError{Node: name, What: "graph output that is a constant"}
		}
		return nil, im.unsup(n, "input %q is a constant where an activation computed from the graph input is expected", name)
	}
	return v, nil
}

// konst returns the constant name, for node n.
func (im *importer) konst(name string, n *onnxpb.NodeProto, what string) (*constant, error) {
	v, err := im.get(name)
	if err != nil {
		return nil, err
	}
	if v.c == nil {
		return nil, im.unsup(n, "%s %q is computed at run time (an initializer or constant is supported)", what, name)
	}
	return v.c, nil
}

// floatConst returns the float constant name.
func (im *importer) floatConst(name string, n *onnxpb.NodeProto, what string) (*constant, error) {
	c, err := im.konst(name, n, what)
	if err != nil {
		return nil, err
	}
	if c.isInt {
		return nil, im.unsup(n, "%s %q is an integer tensor (float is supported)", what, name)
	}
	return c, nil
}

// intConst returns the integer constant name (no symbolic batch element
// unless allowSym).
func (im *importer) intConst(name string, n *onnxpb.NodeProto, what string, allowSym bool) (*constant, error) {
	c, err := im.konst(name, n, what)
	if err != nil {
		return nil, err
	}
	if !c.isInt {
		return nil, im.unsup(n, "%s %q is a float tensor (int64 is supported)", what, name)
	}
	if !allowSym && c.hasSym() {
		return nil, im.unsup(n, "%s %q depends on the batch size", what, name)
	}
	return c, nil
}

// setAct records an activation output.
func (im *importer) setAct(out, node string, shape, nnShape []int) {
	im.values[out] = &value{node: node, shape: slices.Clone(shape), nnShape: slices.Clone(nnShape)}
}

// spatial refuses an activation that is not [C, H, W] both in ONNX and in nn.
func (im *importer) spatial(n *onnxpb.NodeProto, v *value) error {
	// A pending Pad makes the ONNX shape the padded one.
	if len(v.shape) != 3 || len(v.nnShape) != 3 || (v.pad == nil && !slices.Equal(v.shape, v.nnShape)) {
		return im.unsup(n, "input of shape [N %v] (4-D [N, C, H, W] is supported)", v.shape)
	}
	return nil
}

// node imports one ONNX node.
func (im *importer) node(n *onnxpb.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return im.unsup(n, "operator of domain %q", d)
	}
	switch n.GetOpType() {
	case "Conv":
		return im.conv(n)
	case "Gemm":
		return im.gemm(n)
	case "MatMul":
		return im.matmul(n)
	case "Add":
		return im.add(n)
	case "Relu":
		return im.elementwise(n, nn.NewReLU())
	case "MaxPool", "AveragePool":
		return im.pool(n)
	case "GlobalAveragePool":
		return im.globalAvgPool(n)
	case "BatchNormalization":
		return im.batchNorm(n)
	case "Flatten":
		return im.flatten(n)
	case "Softmax":
		return im.softmax(n, nn.NewSoftmax())
	case "LogSoftmax":
		return im.softmax(n, nn.NewLogSoftmax())
	case "Identity":
		return im.identity(n)
	case "Dropout":
		return im.dropout(n)
	case "Constant":
		return im.constantNode(n)
	case "Pad":
		return im.pad(n)
	case "Reshape":
		return im.reshape(n)
	case "Shape":
		return im.shapeOp(n)
	case "Gather":
		return im.gather(n)
	case "Unsqueeze", "Squeeze":
		return im.squeeze(n)
	case "Concat":
		return im.concat(n)
	case "Cast":
		return im.cast(n)
	case "Transpose":
		return im.transposeConst(n)
	}
	return im.unsup(n, "operator %s", n.GetOpType())
}

// elementwise imports a one-input shape-preserving layer (Relu).
func (im *importer) elementwise(n *onnxpb.NodeProto, l nn.Layer) error {
	if _, err := im.attrs(n); err != nil {
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
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	name, nnShape, err := im.emit(n, "", l, v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, v.shape, nnShape)
	return nil
}

// identity aliases its output to its input (activation or constant).
func (im *importer) identity(n *onnxpb.NodeProto) error {
	if _, err := im.attrs(n); err != nil {
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
	im.values[out] = v
	return nil
}

// dropout is the identity at inference: its ratio is ignored, a training
// mode that is not a constant false is refused, and so is a used mask.
func (im *importer) dropout(n *onnxpb.NodeProto) error {
	if _, err := im.attrs(n, "seed", "ratio"); err != nil {
		return err
	}
	in, err := inputs(n, 1, 3)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	if len(in) == 3 && in[2] != "" {
		c, err := im.konst(in[2], n, "training_mode")
		if err != nil {
			return err
		}
		if c.numel() != 1 || (c.isInt && c.i[0] != 0) || (!c.isInt && c.f[0] != 0) {
			return im.unsup(n, "training_mode other than false")
		}
	}
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	im.values[out] = v
	return nil
}

// softmax imports Softmax or LogSoftmax over the last axis.
func (im *importer) softmax(n *onnxpb.NodeProto, l nn.Layer) error {
	a, err := im.attrs(n, "axis")
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
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	rank := int64(len(v.shape) + 1)
	def := int64(-1)
	if im.opsets[""] < 13 {
		def = 1
	}
	axis := attrInt(a, "axis", def)
	if axis < 0 {
		axis += rank
	}
	// Before opset 13 the input is coerced to 2-D at axis, which equals the
	// last-axis softmax when axis is the last one.
	if axis != rank-1 {
		return im.unsup(n, "axis %d of a rank-%d input (the last axis is supported)", attrInt(a, "axis", def), rank)
	}
	if !slices.Equal(v.shape, v.nnShape) && len(v.nnShape) != 1 {
		return im.unsup(n, "input of shape [N %v]", v.shape)
	}
	name, _, err := im.emit(n, "", l, v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, v.shape, v.nnShape)
	return nil
}

// flatten imports Flatten with axis 1 (nn.Flatten), or aliases an input
// that is already [N, D].
func (im *importer) flatten(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "axis")
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
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	axis := attrInt(a, "axis", 1)
	if axis < 0 {
		axis += int64(len(v.shape) + 1)
	}
	if axis != 1 {
		return im.unsup(n, "axis %d (1, which keeps the batch, is supported)", attrInt(a, "axis", 1))
	}
	return im.toFlat(n, out, v)
}

// toFlat makes out the flattening [N, D] of v.
func (im *importer) toFlat(n *onnxpb.NodeProto, out string, v *value) error {
	size := 1
	for _, d := range v.shape {
		size *= d
	}
	if len(v.nnShape) == 1 {
		im.values[out] = &value{node: v.node, shape: []int{size}, nnShape: slices.Clone(v.nnShape)}
		return nil
	}
	name, nnShape, err := im.emit(n, "", nn.NewFlatten(), v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, []int{size}, nnShape)
	return nil
}

// reshape imports a Reshape whose target shape is known at import time
// (possibly through the batch size): to [N, D] it is a Flatten, to the
// input's own shape nothing; other targets are refused.
func (im *importer) reshape(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "allowzero")
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
	if x, err := im.get(in[0]); err == nil && x.c != nil {
		return im.unsup(n, "reshape of a constant")
	}
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	t, err := im.intConst(in[1], n, "shape", true)
	if err != nil {
		return err
	}
	if len(t.dims) != 1 {
		return invalid(n, "shape input of dimensions %v (1-D expected)", t.dims)
	}
	allowZero := attrInt(a, "allowzero", 0) != 0
	full := append([]int{-1}, v.shape...) // -1 is the batch
	size := 1
	for _, d := range v.shape {
		size *= d
	}
	target := make([]int, len(t.i)) // -1: the batch; -2: to infer
	infer := -1
	for k, d := range t.i {
		switch {
		case t.sym != nil && t.sym[k]:
			target[k] = -1
		case d == 0 && !allowZero:
			if k >= len(full) {
				return invalid(n, "shape element %d is 0 (copy) beyond the input's rank %d", k, len(full))
			}
			target[k] = full[k]
		case d == -1:
			if infer >= 0 {
				return invalid(n, "shape %s has more than one -1", listString(t.i))
			}
			infer = k
			target[k] = -2
		case d <= 0 || d > math.MaxInt32:
			return im.unsup(n, "shape element %d", d)
		default:
			target[k] = int(d)
		}
	}
	// The batch must be the first dimension, either named or inferred.
	if len(target) == 0 {
		return im.unsup(n, "reshape to a scalar")
	}
	rest := target[1:]
	known := 1
	for _, d := range rest {
		if d == -1 {
			return im.unsup(n, "target shape with the batch size beyond the first dimension")
		}
		if d > 0 {
			known *= d
		}
	}
	switch target[0] {
	case -1: // the batch
		if infer > 0 {
			if known == 0 || size%known != 0 {
				return invalid(n, "cannot reshape [N %v] into %s", v.shape, listString(t.i))
			}
			rest = slices.Clone(rest)
			rest[infer-1] = size / known
		}
	case -2: // -1 first: inferred as the batch when the rest holds a sample
		if known != size {
			return im.unsup(n, "target shape %s does not keep the batch as its first dimension", listString(t.i))
		}
	default:
		return im.unsup(n, "target shape %s with a fixed batch size", listString(t.i))
	}
	prod := 1
	for _, d := range rest {
		prod *= d
	}
	if prod != size {
		return invalid(n, "cannot reshape [N %v] into [N %v]", v.shape, rest)
	}
	switch {
	case slices.Equal(rest, v.shape):
		im.values[out] = v
		return nil
	case len(rest) == 1:
		return im.toFlat(n, out, v)
	}
	return im.unsup(n, "reshape of [N %v] into [N %v] (only flattening to [N, D] is supported)", v.shape, rest)
}

// pad records a constant zero padding of the last two axes of a 4-D
// activation, for the next Conv to absorb; all-zero pads are the identity.
func (im *importer) pad(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "mode")
	if err != nil {
		return err
	}
	if m := attrString(a, "mode", "constant"); m != "constant" {
		return im.unsup(n, "mode %q (constant is supported)", m)
	}
	in, err := inputs(n, 2, 4)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	rank := len(v.shape) + 1
	pc, err := im.intConst(in[1], n, "pads", false)
	if err != nil {
		return err
	}
	if len(in) > 2 && in[2] != "" {
		c, err := im.konst(in[2], n, "constant_value")
		if err != nil {
			return err
		}
		if c.numel() != 1 || (c.isInt && c.i[0] != 0) || (!c.isInt && c.f[0] != 0) {
			return im.unsup(n, "constant_value other than 0")
		}
	}
	axes := make([]int, rank)
	for k := range axes {
		axes[k] = k
	}
	if len(in) > 3 && in[3] != "" {
		ac, err := im.intConst(in[3], n, "axes", false)
		if err != nil {
			return err
		}
		axes = axes[:0]
		for _, x := range ac.i {
			if x < 0 {
				x += int64(rank)
			}
			if x < 0 || x >= int64(rank) {
				return invalid(n, "axis %d out of range for rank %d", x, rank)
			}
			axes = append(axes, int(x))
		}
	}
	if len(pc.i) != 2*len(axes) {
		return invalid(n, "%d pads for %d axes", len(pc.i), len(axes))
	}
	per := make([]int64, 2*rank) // begins then ends, per axis
	for k, ax := range axes {
		per[ax], per[rank+ax] = pc.i[k], pc.i[len(axes)+k]
	}
	allZero := true
	for k, p := range per {
		if p < 0 {
			return im.unsup(n, "negative pad %d", p)
		}
		if p != 0 {
			allZero = false
			if k%rank < 2 || rank != 4 {
				return im.unsup(n, "padding of axis %d (only H and W of a 4-D input are supported)", k%rank)
			}
		}
	}
	if allZero {
		im.values[out] = v
		return nil
	}
	if err := im.spatial(n, v); err != nil {
		return err
	}
	for _, p := range per {
		if p > int64(im.cfg.maxElements) {
			return invalidf(ErrTooLarge, "node %q (Pad): pad %d", n.GetName(), p)
		}
	}
	p := &padding{node: n, top: int(per[2]), left: int(per[3]), bottom: int(per[6]), right: int(per[7])}
	im.values[out] = &value{node: v.node, shape: []int{v.shape[0], v.shape[1] + p.top + p.bottom, v.shape[2] + p.left + p.right},
		nnShape: slices.Clone(v.nnShape), pad: p}
	return nil
}

// listString formats a list, eliding the middle of a long one.
func listString[T any](xs []T) string {
	if len(xs) <= 16 {
		return fmt.Sprint(xs)
	}
	return fmt.Sprintf("%v ... %v (%d values)", xs[:8], xs[len(xs)-4:], len(xs))
}

// ints converts attribute values to ints, refusing values out of [lo, hi].
func (im *importer) ints(n *onnxpb.NodeProto, what string, xs []int64, lo, hi int64) ([]int, error) {
	r := make([]int, len(xs))
	for k, x := range xs {
		if x < lo || x > hi {
			return nil, im.unsup(n, "%s %s", what, listString(xs))
		}
		r[k] = int(x)
	}
	return r, nil
}

// window reads the kernel, strides, pads, dilations and auto_pad of a Conv
// or pooling node on an input [C, H, W] (padded by v's pending Pad, if
// any), and returns the padding (top, left, bottom, right; the pending
// Pad's included) and the common stride. attrPad tells whether the node's
// own attributes pad.
func (im *importer) window(n *onnxpb.NodeProto, a map[string]*onnxpb.AttributeProto, kh, kw int, v *value) (p [4]int, stride int, attrPad bool, err error) {
	const limit = 1 << 20
	h, w := v.shape[1], v.shape[2]
	if st, ok := attrInts(a, "strides"); ok {
		s, err := im.ints(n, "strides", st, 1, limit)
		if err != nil {
			return p, 0, false, err
		}
		if len(s) != 2 || s[0] != s[1] {
			return p, 0, false, im.unsup(n, "strides %v (two equal strides are supported)", st)
		}
		stride = s[0]
	} else {
		stride = 1
	}
	if d, ok := attrInts(a, "dilations"); ok {
		for _, x := range d {
			if x != 1 {
				return p, 0, false, im.unsup(n, "dilations %v (1 is supported)", d)
			}
		}
		if len(d) != 2 {
			return p, 0, false, invalid(n, "%d dilations for a 2-D window", len(d))
		}
	}
	if pp, ok := attrInts(a, "pads"); ok {
		ps, err := im.ints(n, "pads", pp, 0, limit)
		if err != nil {
			return p, 0, false, err
		}
		if len(ps) != 4 {
			return p, 0, false, invalid(n, "%d pads for a 2-D window", len(ps))
		}
		p = [4]int{ps[0], ps[1], ps[2], ps[3]}
	}
	switch ap := attrString(a, "auto_pad", "NOTSET"); ap {
	case "NOTSET":
	case "VALID":
		p = [4]int{}
	case "SAME_UPPER", "SAME_LOWER":
		// Output ceil(in/stride); total padding split evenly (the odd one
		// at the end for SAME_UPPER, the beginning for SAME_LOWER).
		for k, dim := range [2]struct{ in, k int }{{h, kh}, {w, kw}} {
			o := (dim.in + stride - 1) / stride
			total := max((o-1)*stride+dim.k-dim.in, 0)
			lo, hi := total/2, total-total/2
			if ap == "SAME_LOWER" {
				lo, hi = hi, lo
			}
			p[k], p[k+2] = lo, hi
		}
	default:
		return p, 0, false, im.unsup(n, "auto_pad %q", ap)
	}
	attrPad = p != [4]int{}
	if v.pad != nil {
		p[0] += v.pad.top
		p[1] += v.pad.left
		p[2] += v.pad.bottom
		p[3] += v.pad.right
	}
	return p, stride, attrPad, nil
}

// conv imports a 2-D Conv with group 1 as nn.Conv2D, absorbing a pending
// Pad and a following Add of a per-channel constant.
func (im *importer) conv(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
	if err != nil {
		return err
	}
	in, err := inputs(n, 2, 3)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	if g := attrInt(a, "group", 1); g != 1 {
		return im.unsup(n, "group %d (1 is supported)", g)
	}
	v, err := im.actPadded(in[0], n)
	if err != nil {
		return err
	}
	if err := im.spatial(n, v); err != nil {
		return err
	}
	w, err := im.floatConst(in[1], n, "weight")
	if err != nil {
		return err
	}
	if len(w.dims) != 4 {
		return im.unsup(n, "weight of dimensions %v (2-D convolution is supported)", w.dims)
	}
	oc, ic, kh, kw := w.dims[0], w.dims[1], w.dims[2], w.dims[3]
	if oc <= 0 || ic <= 0 || kh <= 0 || kw <= 0 {
		return invalid(n, "weight of dimensions %v", w.dims)
	}
	if ic != v.shape[0] {
		return invalid(n, "weight of dimensions %v for an input of %d channels", w.dims, v.shape[0])
	}
	if ks, ok := attrInts(a, "kernel_shape"); ok && (len(ks) != 2 || ks[0] != int64(kh) || ks[1] != int64(kw)) {
		return invalid(n, "kernel_shape %v differs from the weight's %dx%d", ks, kh, kw)
	}
	p, stride, _, err := im.window(n, a, kh, kw, v)
	if err != nil {
		return err
	}
	// The same padding on every side, below the kernel, is the Conv2D's;
	// any other goes to a ZeroPad2D before it.
	pad := p[0]
	src := v.node
	if p[0] != p[1] || p[0] != p[2] || p[0] != p[3] || p[0] >= min(kh, kw) {
		if src, err = im.zeroPad(n, v.node, p); err != nil {
			return err
		}
		pad = 0
	}
	var bias []float32
	if len(in) == 3 && in[2] != "" {
		b, err := im.floatConst(in[2], n, "bias")
		if err != nil {
			return err
		}
		if len(b.dims) != 1 || b.dims[0] != oc {
			return invalid(n, "bias of dimensions %v for %d output channels", b.dims, oc)
		}
		bias = slices.Clone(b.f)
	}
	out, bias, err = im.absorbAdd(n, out, oc, bias, true)
	if err != nil {
		return err
	}
	l := &nn.Conv2D{InC: ic, OutC: oc, KH: kh, KW: kw, Stride: stride, Pad: pad,
		Weight: param("weight", w.f, oc, ic, kh, kw)}
	if bias != nil {
		l.Bias = param("bias", bias, oc)
	}
	name, shape, err := im.emit(n, "", l, src)
	if err != nil {
		return err
	}
	im.setAct(out, name, shape, shape)
	return nil
}

// absorbAdd looks at the single consumer of out (a Conv's or Linear's
// output): an Add of a constant that broadcasts per output channel becomes
// part of the bias. It returns the tensor name the layer's output stands
// for and the new bias (nil: none).
func (im *importer) absorbAdd(n *onnxpb.NodeProto, out string, channels int, bias []float32, spatial bool) (string, []float32, error) {
	cs := im.consumers[out]
	if len(cs) != 1 || im.outputs[out] {
		return out, bias, nil
	}
	add := cs[0]
	if add.GetOpType() != "Add" || (add.GetDomain() != "" && add.GetDomain() != "ai.onnx") ||
		len(add.GetInput()) != 2 || len(add.GetAttribute()) != 0 || len(add.GetOutput()) != 1 || add.GetInput()[0] == add.GetInput()[1] {
		return out, bias, nil
	}
	other := add.GetInput()[0]
	if other == out {
		other = add.GetInput()[1]
	}
	ov, err := im.get(other)
	if err != nil || ov.c == nil || ov.c.isInt {
		return out, bias, nil
	}
	c := ov.c
	// Accepted shapes: a scalar, [channels] (Linear), and [channels, 1, 1]
	// or [1, channels, 1, 1] (Conv), or any of these with leading ones.
	dims := slices.Clone(c.dims)
	for len(dims) > 0 && dims[0] == 1 && c.numel() == channels && len(dims) > 1 {
		dims = dims[1:]
	}
	perChannel := false
	switch {
	case c.numel() == 1:
	case !spatial && len(dims) == 1 && dims[0] == channels:
		perChannel = true
	case spatial && len(dims) == 3 && dims[0] == channels && dims[1] == 1 && dims[2] == 1:
		perChannel = true
	case spatial && channels == 1 && c.numel() == 1:
	default:
		return out, bias, nil
	}
	if bias == nil {
		bias = make([]float32, channels)
	}
	for k := range bias {
		if perChannel {
			bias[k] += c.f[k]
		} else {
			bias[k] += c.f[0]
		}
	}
	im.absorbed[add] = true
	return add.GetOutput()[0], bias, nil
}

// linearFrom imports a fully connected node with weight w [out, in].
func (im *importer) linearFrom(n *onnxpb.NodeProto, out string, v *value, w []float32, inW, outW int, bias []float32) error {
	out, bias, err := im.absorbAdd(n, out, outW, bias, false)
	if err != nil {
		return err
	}
	l := &nn.Linear{In: inW, Out: outW, Weight: param("weight", w, outW, inW)}
	if bias != nil {
		l.Bias = param("bias", bias, outW)
	}
	name, shape, err := im.emit(n, "", l, v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, shape, shape)
	return nil
}

// flatInput returns the activation of a 2-D operand [N, K].
func (im *importer) flatInput(n *onnxpb.NodeProto, name string) (*value, int, error) {
	v, err := im.act(name, n)
	if err != nil {
		return nil, 0, err
	}
	if len(v.shape) != 1 || len(v.nnShape) != 1 {
		return nil, 0, im.unsup(n, "input of shape [N %v] (2-D [N, K] is supported)", v.shape)
	}
	return v, v.shape[0], nil
}

// gemm imports Gemm (transA 0, constant B and C) as nn.Linear, alpha and
// beta folded into the weight and bias.
func (im *importer) gemm(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "alpha", "beta", "transA", "transB")
	if err != nil {
		return err
	}
	in, err := inputs(n, 2, 3)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	if attrInt(a, "transA", 0) != 0 {
		return im.unsup(n, "transA 1")
	}
	v, k, err := im.flatInput(n, in[0])
	if err != nil {
		return err
	}
	b, err := im.floatConst(in[1], n, "B")
	if err != nil {
		return err
	}
	if len(b.dims) != 2 {
		return invalid(n, "B of dimensions %v (2-D expected)", b.dims)
	}
	transB := attrInt(a, "transB", 0) != 0
	var m int
	var w []float32
	if transB {
		if b.dims[1] != k {
			return invalid(n, "B of dimensions %v (transB) for an input [N %d]", b.dims, k)
		}
		m, w = b.dims[0], slices.Clone(b.f)
	} else {
		if b.dims[0] != k {
			return invalid(n, "B of dimensions %v for an input [N %d]", b.dims, k)
		}
		m, w = b.dims[1], transpose(b.f, k, b.dims[1])
	}
	if m <= 0 {
		return invalid(n, "B of dimensions %v", b.dims)
	}
	if alpha := attrFloat(a, "alpha", 1); alpha != 1 {
		for i := range w {
			w[i] *= alpha
		}
	}
	var bias []float32
	if len(in) == 3 && in[2] != "" {
		c, err := im.floatConst(in[2], n, "C")
		if err != nil {
			return err
		}
		beta := attrFloat(a, "beta", 1)
		bias = make([]float32, m)
		switch {
		case c.numel() == 1:
			for i := range bias {
				bias[i] = c.f[0]
			}
		case c.numel() == m && (len(c.dims) == 1 || (len(c.dims) == 2 && c.dims[0] == 1)):
			copy(bias, c.f)
		default:
			return im.unsup(n, "C of dimensions %v (a scalar, [%d] or [1, %d] is supported)", c.dims, m, m)
		}
		if beta != 1 {
			for i := range bias {
				bias[i] *= beta
			}
		}
	}
	return im.linearFrom(n, out, v, w, k, m, bias)
}

// matmul imports MatMul of an [N, K] activation by a constant [K, M] as a
// bias-free nn.Linear (a following Add of a constant [M] becomes its bias).
func (im *importer) matmul(n *onnxpb.NodeProto) error {
	if _, err := im.attrs(n); err != nil {
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
	v, k, err := im.flatInput(n, in[0])
	if err != nil {
		return err
	}
	b, err := im.floatConst(in[1], n, "B")
	if err != nil {
		return err
	}
	if len(b.dims) != 2 || b.dims[0] != k || b.dims[1] <= 0 {
		return im.unsup(n, "B of dimensions %v for an input [N %d] (2-D [%d, M] is supported)", b.dims, k, k)
	}
	m := b.dims[1]
	return im.linearFrom(n, out, v, transpose(b.f, k, m), k, m, nil)
}

// param returns a parameter holding a copy of data with the given shape
// (whose element count the caller has checked), without a gradient.
func param(name string, data []float32, shape ...int) *nn.Param {
	return &nn.Param{Name: name, Value: tensor.MustFromData(slices.Clone(data), shape...)}
}

// transpose returns the [cols, rows] transpose of row-major a [rows, cols].
func transpose(a []float32, rows, cols int) []float32 {
	t := make([]float32, len(a))
	for r := range rows {
		for c := range cols {
			t[c*rows+r] = a[r*cols+c]
		}
	}
	return t
}

// add imports the Add of two activations of one shape (nn.Add), or folds
// the Add of two constants; an Add of a constant and an activation is
// supported only right after a Conv, Gemm or MatMul (see absorbAdd).
func (im *importer) add(n *onnxpb.NodeProto) error {
	if _, err := im.attrs(n); err != nil {
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
	x, err := im.get(in[0])
	if err != nil {
		return err
	}
	y, err := im.get(in[1])
	if err != nil {
		return err
	}
	switch {
	case x.c != nil && y.c != nil:
		return im.unsup(n, "Add of two constants")
	case x.c != nil || y.c != nil:
		return im.unsup(n, "Add of a constant to an activation not computed by a Conv, Gemm or MatMul read only by this Add")
	}
	if x, err = im.act(in[0], n); err != nil {
		return err
	}
	if y, err = im.act(in[1], n); err != nil {
		return err
	}
	if !slices.Equal(x.shape, y.shape) || !slices.Equal(x.nnShape, y.nnShape) {
		return im.unsup(n, "Add of shapes [N %v] and [N %v] (equal shapes are supported)", x.shape, y.shape)
	}
	name, nnShape, err := im.emit(n, "", nn.NewAdd(), x.node, y.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, x.shape, nnShape)
	return nil
}

// pool imports MaxPool or AveragePool with a square window and equal
// strides, without padding.
func (im *importer) pool(n *onnxpb.NodeProto) error {
	known := []string{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}
	if n.GetOpType() == "MaxPool" {
		known = append(known, "storage_order")
	} else {
		known = append(known, "count_include_pad")
	}
	a, err := im.attrs(n, known...)
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
	maxPool := n.GetOpType() == "MaxPool"
	var v *value
	if maxPool {
		v, err = im.act(in[0], n) // a pending zero Pad becomes a ZeroPad2D
	} else {
		v, err = im.actPadded(in[0], n)
	}
	if err != nil {
		return err
	}
	if err := im.spatial(n, v); err != nil {
		return err
	}
	ks, ok := attrInts(a, "kernel_shape")
	if !ok {
		return invalid(n, "no kernel_shape")
	}
	k, err := im.ints(n, "kernel_shape", ks, 1, 1<<20)
	if err != nil {
		return err
	}
	if len(k) != 2 || k[0] != k[1] {
		return im.unsup(n, "kernel_shape %v (a square 2-D window is supported)", ks)
	}
	if attrInt(a, "storage_order", 0) != 0 {
		return im.unsup(n, "storage_order 1")
	}
	p, stride, attrPad, err := im.window(n, a, k[0], k[0], v)
	if err != nil {
		return err
	}
	switch {
	case maxPool && attrPad:
		return im.unsup(n, "padding %v (MaxPool pads with -inf; pooling without padding is supported)", p)
	case attrPad && attrInt(a, "count_include_pad", 0) == 0:
		return im.unsup(n, "padding %v with count_include_pad 0 (padding is supported with count_include_pad 1)", p)
	}
	padded := []int{v.nnShape[1] + p[0] + p[2], v.nnShape[2] + p[1] + p[3]}
	if attrInt(a, "ceil_mode", 0) != 0 {
		for _, d := range padded {
			if (d-k[0])%stride != 0 {
				return im.unsup(n, "ceil_mode 1 where it changes the output size")
			}
		}
	}
	src, err := im.zeroPad(n, v.node, p)
	if err != nil {
		return err
	}
	if k[0] > padded[0] || k[0] > padded[1] {
		return invalid(n, "%dx%d window on a %dx%d input", k[0], k[0], padded[0], padded[1])
	}
	var l nn.Layer = nn.NewAvgPool2D(k[0], stride)
	if maxPool {
		l = nn.NewMaxPool2D(k[0], stride)
	}
	name, shape, err := im.emit(n, "", l, src)
	if err != nil {
		return err
	}
	im.setAct(out, name, shape, shape)
	return nil
}

// globalAvgPool imports GlobalAveragePool as nn.GlobalAvgPool, whose [N, C]
// output stands for ONNX's [N, C, 1, 1].
func (im *importer) globalAvgPool(n *onnxpb.NodeProto) error {
	if _, err := im.attrs(n); err != nil {
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
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	if err := im.spatial(n, v); err != nil {
		return err
	}
	name, nnShape, err := im.emit(n, "", nn.NewGlobalAvgPool(), v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, []int{v.shape[0], 1, 1}, nnShape)
	return nil
}

// batchNorm imports inference BatchNormalization on [N, C, H, W] as
// nn.BatchNorm2D.
func (im *importer) batchNorm(n *onnxpb.NodeProto) error {
	a, err := im.attrs(n, "epsilon", "momentum", "training_mode")
	if err != nil {
		return err
	}
	if attrInt(a, "training_mode", 0) != 0 {
		return im.unsup(n, "training_mode 1")
	}
	in, err := inputs(n, 5, 5)
	if err != nil {
		return err
	}
	out, err := im.oneOutput(n)
	if err != nil {
		return err
	}
	v, err := im.act(in[0], n)
	if err != nil {
		return err
	}
	if err := im.spatial(n, v); err != nil {
		return err
	}
	c := v.shape[0]
	names := []string{"gamma", "beta", "running_mean", "running_var"}
	tensors := make([]*nn.Param, len(names))
	for k, nm := range names {
		t, err := im.floatConst(in[k+1], n, nm)
		if err != nil {
			return err
		}
		if len(t.dims) != 1 || t.dims[0] != c {
			return invalid(n, "%s of dimensions %v for %d channels", nm, t.dims, c)
		}
		tensors[k] = param(nm, t.f, c)
	}
	eps := attrFloat(a, "epsilon", 1e-5)
	if !(eps >= 0) || math.IsInf(float64(eps), 0) {
		return im.unsup(n, "epsilon %g", eps)
	}
	// ONNX's momentum weighs the running statistics, nn's the batch's.
	momentum := float32(0.1)
	if m := attrFloat(a, "momentum", 0.9); m >= 0 && m <= 1 {
		momentum = 1 - m
	}
	l := &nn.BatchNorm2D{C: c, Eps: eps, Momentum: momentum,
		Gamma: tensors[0], Beta: tensors[1], RunningMean: tensors[2], RunningVar: tensors[3]}
	name, shape, err := im.emit(n, "", l, v.node)
	if err != nil {
		return err
	}
	im.setAct(out, name, shape, shape)
	return nil
}
