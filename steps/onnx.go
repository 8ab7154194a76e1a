package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/quant"
	"github.com/ptqspec/ptqspec/pkg/quant/onnx"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("onnx", registerONNXSteps) }

// The ONNX operator steps quantize the config domain's tensor (see
// configState) and record their results there too, so the steps about a
// scale, a zero point and codes serve both features. Matrices and the
// integer products are the onnx domain's own.

// numberList matches "0, 2, -2.5, 1000".
const numberList = `((?:-?\d+(?:\.\d+)?, )*-?\d+(?:\.\d+)?)`

// onnxState is the ONNX operators' part of a scenario.
type onnxState struct {
	// mats holds the operands of a matrix product, by name "A" and "B".
	mats map[string]*onnxMatrix
	// product is the result of the last product, as integers.
	product *onnxMatrix
}

// onnxMatrix is a 2-D integer matrix of some dtype with its quantization
// parameters (scale 0 when none was given).
type onnxMatrix struct {
	dtype      string
	rows, cols int
	data       []int32
	scale      float32
	zero       int32
}

func registerONNXSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the float tensor `+numberList+`$`, theFloatTensor)
	sc.Step(`^a float tensor of shape (\d+(?:x\d+)*) whose channels \(axis 1\) hold:$`, aFloatTensorByChannel)
	sc.Step(`^it is quantized by QuantizeLinear to (int8|uint8) with scale (\d+(?:\.\d+)?) and zero point (-?\d+)$`, quantizeLinearPerTensor)
	sc.Step(`^it is quantized by QuantizeLinear to (int8|uint8) along axis 1 with scales `+numberList+` and zero points `+numberList+`$`, quantizeLinearPerAxis)
	sc.Step(`^it is quantized by DynamicQuantizeLinear$`, dynamicQuantizeLinear)
	sc.Step(`^the codes are `+numberList+`$`, theCodesAre)
	sc.Step(`^the codes of each channel are:$`, theCodesOfEachChannel)
	sc.Step(`^DequantizeLinear with the same qparams gives `+numberList+`$`, dequantizeLinearGives)
	sc.Step(`^DequantizeLinear with the same qparams gives back the tensor exactly$`, dequantizeLinearGivesBack)

	sc.Step(`^the (int8|uint8) matrix ([AB]) with zero point (-?\d+):$`, aMatrix)
	sc.Step(`^the (int8|uint8) matrix ([AB]) with scale (\d+(?:\.\d+)?) and zero point (-?\d+):$`, aMatrixWithScale)
	sc.Step(`^A and B are multiplied by MatMulInteger$`, multipliedByMatMulInteger)
	sc.Step(`^A and B are multiplied by QLinearMatMul into (int8|uint8) with scale (\d+(?:\.\d+)?) and zero point (-?\d+)$`, multipliedByQLinearMatMul)
	sc.Step(`^the (int32|int8|uint8) product is:$`, theProductIs)
}

func onnxOf(ctx context.Context) *onnxState {
	s := domainState[onnxState](ctx)
	if s.mats == nil {
		s.mats = map[string]*onnxMatrix{}
	}
	return s
}

func float32s(list string) ([]float32, error) {
	vs, err := parseFloats(list)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(vs))
	for i, v := range vs {
		out[i] = float32(v)
	}
	return out, nil
}

func ints(list string) ([]int32, error) {
	var out []int32
	for f := range strings.SplitSeq(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of integers", list)
		}
		out = append(out, int32(v))
	}
	return out, nil
}

func theFloatTensor(ctx context.Context, list string) error {
	vs, err := float32s(list)
	if err != nil {
		return err
	}
	configOf(ctx).x = tensor.MustFromData(vs, len(vs))
	return nil
}

func aFloatTensorByChannel(ctx context.Context, shape string, table *godog.Table) error {
	dims, err := parseShape(shape)
	if err != nil {
		return err
	}
	if len(dims) < 2 {
		return fmt.Errorf("shape %s has no axis 1", shape)
	}
	rows, err := tableRows(table, "channel", "values")
	if err != nil {
		return err
	}
	if len(rows) != dims[1] {
		return fmt.Errorf("the table has %d channels, shape %s has %d", len(rows), shape, dims[1])
	}
	x := tensor.New(dims...)
	n, c := dims[0], dims[1]
	inner := x.Len() / (n * c)
	for ch, r := range rows {
		vs, err := float32s(r["values"])
		if err != nil {
			return err
		}
		if len(vs) != n*inner {
			return fmt.Errorf("channel %s holds %d values, want %d", r["channel"], len(vs), n*inner)
		}
		for s := range n {
			copy(x.Data()[(s*c+ch)*inner:(s*c+ch+1)*inner], vs[s*inner:(s+1)*inner])
		}
	}
	configOf(ctx).x = x
	return nil
}

func onnxTensor[T int8 | uint8 | int32 | float32](shape []int, data []T) onnx.Tensor[T] {
	return onnx.Tensor[T]{Shape: slices.Clone(shape), Data: data}
}

func castInts[T int8 | uint8](v []int32) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

func widen[T int8 | uint8 | int32](v []T) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// quantizeLinear runs ONNX QuantizeLinear on x with one scale and zero
// point per index of axis 1, or one for the tensor (axis -1), and records
// the result as the config domain's latest quantization.
func quantizeLinear(ctx context.Context, dtype string, scales []float32, zps []int32, axis int) error {
	cs := configOf(ctx)
	if cs.x == nil {
		return errors.New("the scenario has no float tensor")
	}
	if len(scales) != len(zps) {
		return fmt.Errorf("%d scales and %d zero points", len(scales), len(zps))
	}
	x := onnxTensor(cs.x.Shape(), cs.x.Data())
	sh := []int{len(scales)}
	if axis < 0 {
		sh = []int{}
	}
	var codes []int32
	var err error
	d := quant.Int8
	if dtype == "uint8" {
		d = quant.UInt8
		var y onnx.Tensor[uint8]
		y, err = onnx.QuantizeLinear(x, onnxTensor(sh, scales), onnxTensor(sh, castInts[uint8](zps)), max(axis, 1))
		codes = widen(y.Data)
	} else {
		var y onnx.Tensor[int8]
		y, err = onnx.QuantizeLinear(x, onnxTensor(sh, scales), onnxTensor(sh, castInts[int8](zps)), max(axis, 1))
		codes = widen(y.Data)
	}
	if err != nil {
		return err
	}
	return cs.record("QuantizeLinear", d, scales, zps, axis, codes)
}

// record stores integer codes and their qparams as a configResult.
func (cs *configState) record(label string, d quant.DType, scales []float32, zps []int32, axis int, codes []int32) error {
	qp := quant.QParams{DType: d, Scale: scales, ZeroPoint: zps, Axis: axis}
	var q *quant.QTensor
	var err error
	if d == quant.UInt8 {
		q, err = quant.NewQTensor(castInts[uint8](codes), qp, cs.x.Shape()...)
	} else {
		q, err = quant.NewQTensor(castInts[int8](codes), qp, cs.x.Shape()...)
	}
	if err != nil {
		return err
	}
	cs.results[label], cs.last = &configResult{qp: qp, q: q, deq: q.Dequantize()}, label
	return nil
}

func quantizeLinearPerTensor(ctx context.Context, dtype string, scale float64, zp int) error {
	return quantizeLinear(ctx, dtype, []float32{float32(scale)}, []int32{int32(zp)}, -1)
}

func quantizeLinearPerAxis(ctx context.Context, dtype, scaleList, zpList string) error {
	scales, err := float32s(scaleList)
	if err != nil {
		return err
	}
	zps, err := ints(zpList)
	if err != nil {
		return err
	}
	return quantizeLinear(ctx, dtype, scales, zps, 1)
}

func dynamicQuantizeLinear(ctx context.Context) error {
	cs := configOf(ctx)
	if cs.x == nil {
		return errors.New("the scenario has no float tensor")
	}
	y, scale, zp, err := onnx.DynamicQuantizeLinear(onnxTensor(cs.x.Shape(), cs.x.Data()))
	if err != nil {
		return err
	}
	return cs.record("DynamicQuantizeLinear", quant.UInt8, []float32{scale}, []int32{int32(zp)}, -1, widen(y.Data))
}

// lastCodes returns the codes of the latest quantization.
func lastCodes(ctx context.Context) ([]int32, error) {
	r, err := configOf(ctx).lastResult()
	if err != nil {
		return nil, err
	}
	codes := make([]int32, r.q.Len())
	for i := range codes {
		codes[i] = r.q.At(i)
	}
	return codes, nil
}

func theCodesAre(ctx context.Context, list string) error {
	want, err := ints(list)
	if err != nil {
		return err
	}
	got, err := lastCodes(ctx)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("the codes are %v, want %v", got, want)
	}
	return nil
}

func theCodesOfEachChannel(ctx context.Context, table *godog.Table) error {
	cs := configOf(ctx)
	got, err := lastCodes(ctx)
	if err != nil {
		return err
	}
	rows, err := tableRows(table, "channel", "codes")
	if err != nil {
		return err
	}
	shape := cs.x.Shape()
	n, c := shape[0], shape[1]
	inner := len(got) / (n * c)
	if len(rows) != c {
		return fmt.Errorf("the table has %d channels, the tensor %d", len(rows), c)
	}
	var bad []string
	for ch, r := range rows {
		want, err := ints(r["codes"])
		if err != nil {
			return err
		}
		var have []int32
		for s := range n {
			have = append(have, got[(s*c+ch)*inner:(s*c+ch+1)*inner]...)
		}
		if !slices.Equal(have, want) {
			bad = append(bad, fmt.Sprintf("channel %s: %v, want %v", r["channel"], have, want))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// dequantizeLinear runs ONNX DequantizeLinear on the latest codes with
// their qparams.
func dequantizeLinear(ctx context.Context) ([]float32, error) {
	r, err := configOf(ctx).lastResult()
	if err != nil {
		return nil, err
	}
	codes, _ := lastCodes(ctx)
	p := r.qp
	sh, axis := []int{len(p.Scale)}, p.Axis
	if p.Axis < 0 {
		sh, axis = []int{}, 1
	}
	var y onnx.Tensor[float32]
	shape := r.q.Shape()
	if p.DType == quant.UInt8 {
		y, err = onnx.DequantizeLinear(onnxTensor(shape, castInts[uint8](codes)), onnxTensor(sh, p.Scale), onnxTensor(sh, castInts[uint8](p.ZeroPoint)), axis)
	} else {
		y, err = onnx.DequantizeLinear(onnxTensor(shape, castInts[int8](codes)), onnxTensor(sh, p.Scale), onnxTensor(sh, castInts[int8](p.ZeroPoint)), axis)
	}
	return y.Data, err
}

func dequantizeLinearGives(ctx context.Context, list string) error {
	want, err := float32s(list)
	if err != nil {
		return err
	}
	got, err := dequantizeLinear(ctx)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("DequantizeLinear gives %v, want %v", got, want)
	}
	return nil
}

func dequantizeLinearGivesBack(ctx context.Context) error {
	got, err := dequantizeLinear(ctx)
	if err != nil {
		return err
	}
	want := configOf(ctx).x.Data()
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("element %d comes back as %g, was %g", i, got[i], want[i])
		}
	}
	return nil
}

// tableInts reads a header-less table of integers, one matrix row per row.
func tableInts(t *godog.Table) (rows, cols int, data []int32, err error) {
	if t == nil || len(t.Rows) == 0 {
		return 0, 0, nil, errors.New("the step needs a table of numbers")
	}
	for i, r := range t.Rows {
		if i == 0 {
			cols = len(r.Cells)
		} else if len(r.Cells) != cols {
			return 0, 0, nil, fmt.Errorf("row %d has %d numbers, row 1 has %d", i+1, len(r.Cells), cols)
		}
		for _, c := range r.Cells {
			v, err := strconv.Atoi(strings.TrimSpace(c.Value))
			if err != nil {
				return 0, 0, nil, fmt.Errorf("row %d: %q is not an integer", i+1, c.Value)
			}
			data = append(data, int32(v))
		}
	}
	return len(t.Rows), cols, data, nil
}

func aMatrixWithScale(ctx context.Context, dtype, name string, scale float64, zp int, table *godog.Table) error {
	r, c, data, err := tableInts(table)
	if err != nil {
		return err
	}
	onnxOf(ctx).mats[name] = &onnxMatrix{dtype: dtype, rows: r, cols: c, data: data, scale: float32(scale), zero: int32(zp)}
	return nil
}

func aMatrix(ctx context.Context, dtype, name string, zp int, table *godog.Table) error {
	return aMatrixWithScale(ctx, dtype, name, 0, zp, table)
}

func (m *onnxMatrix) shape() []int { return []int{m.rows, m.cols} }

// operands returns A and B.
func (s *onnxState) operands() (a, b *onnxMatrix, err error) {
	a, b = s.mats["A"], s.mats["B"]
	if a == nil || b == nil {
		return nil, nil, errors.New("the scenario needs matrices A and B")
	}
	return a, b, nil
}

// matMulInteger calls MatMulInteger with A and B of the given types.
func matMulInteger[A, B int8 | uint8](a, b *onnxMatrix) (onnx.Tensor[int32], error) {
	return onnx.MatMulInteger(onnxTensor(a.shape(), castInts[A](a.data)), onnxTensor(b.shape(), castInts[B](b.data)),
		onnxTensor([]int{}, castInts[A]([]int32{a.zero})), onnxTensor([]int{}, castInts[B]([]int32{b.zero})))
}

func multipliedByMatMulInteger(ctx context.Context) error {
	s := onnxOf(ctx)
	a, b, err := s.operands()
	if err != nil {
		return err
	}
	var y onnx.Tensor[int32]
	switch a.dtype + "x" + b.dtype {
	case "uint8xuint8":
		y, err = matMulInteger[uint8, uint8](a, b)
	case "uint8xint8":
		y, err = matMulInteger[uint8, int8](a, b)
	case "int8xuint8":
		y, err = matMulInteger[int8, uint8](a, b)
	default:
		y, err = matMulInteger[int8, int8](a, b)
	}
	if err != nil {
		return err
	}
	s.product = &onnxMatrix{dtype: "int32", rows: y.Shape[0], cols: y.Shape[1], data: y.Data}
	return nil
}

// qlinearMatMul calls QLinearMatMul with A, B and the output of the given
// types.
func qlinearMatMul[A, B, Y int8 | uint8](a, b *onnxMatrix, ys float32, yz int32) ([]int32, []int, error) {
	one := []int{}
	y, err := onnx.QLinearMatMul(
		onnxTensor(a.shape(), castInts[A](a.data)), onnxTensor(one, []float32{a.scale}), onnxTensor(one, castInts[A]([]int32{a.zero})),
		onnxTensor(b.shape(), castInts[B](b.data)), onnxTensor(one, []float32{b.scale}), onnxTensor(one, castInts[B]([]int32{b.zero})),
		onnxTensor(one, []float32{ys}), onnxTensor(one, castInts[Y]([]int32{yz})))
	return widen(y.Data), y.Shape, err
}

func multipliedByQLinearMatMul(ctx context.Context, dtype string, scale float64, zp int) error {
	s := onnxOf(ctx)
	a, b, err := s.operands()
	if err != nil {
		return err
	}
	if a.dtype != b.dtype {
		return errors.New("the steps multiply matrices of one type with QLinearMatMul")
	}
	var data []int32
	var shape []int
	ys, yz := float32(scale), int32(zp)
	switch a.dtype + ">" + dtype {
	case "uint8>uint8":
		data, shape, err = qlinearMatMul[uint8, uint8, uint8](a, b, ys, yz)
	case "uint8>int8":
		data, shape, err = qlinearMatMul[uint8, uint8, int8](a, b, ys, yz)
	case "int8>uint8":
		data, shape, err = qlinearMatMul[int8, int8, uint8](a, b, ys, yz)
	default:
		data, shape, err = qlinearMatMul[int8, int8, int8](a, b, ys, yz)
	}
	if err != nil {
		return err
	}
	s.product = &onnxMatrix{dtype: dtype, rows: shape[0], cols: shape[1], data: data, scale: ys, zero: yz}
	return nil
}

func theProductIs(ctx context.Context, dtype string, table *godog.Table) error {
	p := onnxOf(ctx).product
	if p == nil {
		return errors.New("no matrices were multiplied")
	}
	if p.dtype != dtype {
		return fmt.Errorf("the product is %s, not %s", p.dtype, dtype)
	}
	r, c, want, err := tableInts(table)
	if err != nil {
		return err
	}
	if r != p.rows || c != p.cols {
		return fmt.Errorf("the product is %dx%d, the table %dx%d", p.rows, p.cols, r, c)
	}
	if !slices.Equal(p.data, want) {
		return fmt.Errorf("the product is %v, want %v", p.data, want)
	}
	return nil
}
