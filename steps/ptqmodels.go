package steps

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("ptqmodels", registerPTQModelSteps) }

// Seeds of the models the ptq features build. Fixed, so every run builds
// the same weights and a failure replays.
const (
	ptqWeightSeed = 7
	ptqBNSeed     = 8
)

func registerPTQModelSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a model for (\d+(?:x\d+)*) inputs with the layers:$`, aModelWithLayerTable)
	sc.Step(`^a model for (\d+(?:x\d+)*) inputs with the layers ([A-Z].*)$`, aModelWithLayerList)
	sc.Step(`^a one-layer model "([^"]+)" mapping (\d+) inputs to (\d+) outputs with the weights and biases:$`, aOneLayerModel)
	sc.Step(`^the example residual network for (\d+x\d+x\d+) images with (\d+) classes( and a Softmax at the end)?$`, theExampleResidualNetwork)
}

// layerRow is one node of a model described in a feature.
type layerRow struct {
	name, layer string
	inputs      []string
}

// aModelWithLayerTable builds a model from a table with columns name,
// layer and optionally inputs (comma-separated node names; empty means the
// node before, or the model input for the first node).
func aModelWithLayerTable(ctx context.Context, shape string, table *godog.Table) error {
	rows, err := tableRows(table, "name", "layer")
	if err != nil {
		return err
	}
	var layers []layerRow
	for _, r := range rows {
		lr := layerRow{name: r["name"], layer: r["layer"]}
		for in := range strings.SplitSeq(r["inputs"], ",") {
			if in = strings.TrimSpace(in); in != "" {
				lr.inputs = append(lr.inputs, in)
			}
		}
		layers = append(layers, lr)
	}
	return buildPTQModel(ctx, shape, layers)
}

// aModelWithLayerList builds a chain from a comma-separated list of layer
// descriptions. Nodes are named as pkg/models names them: the kind in
// lower case followed by its count, "conv2d1", "relu1", "linear1".
func aModelWithLayerList(ctx context.Context, shape, list string) error {
	counts := map[string]int{}
	var layers []layerRow
	for desc := range strings.SplitSeq(list, ",") {
		desc = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(desc), "and "))
		if desc == "" {
			continue
		}
		kind := strings.ToLower(strings.Fields(desc)[0])
		counts[kind]++
		layers = append(layers, layerRow{name: kind + strconv.Itoa(counts[kind]), layer: desc})
	}
	return buildPTQModel(ctx, shape, layers)
}

// buildPTQModel builds the graph, draws its weights from a fixed seed,
// gives its BatchNorm layers realistic statistics and makes it the
// scenario's model.
func buildPTQModel(ctx context.Context, shape string, rows []layerRow) error {
	in, err := parseShape(shape)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seeded(ptqWeightSeed), 0))
	b := nn.NewBuilder("input", in...)
	shapes := map[string][]int{"input": in}
	prev := "input"
	for _, r := range rows {
		inputs := r.inputs
		if len(inputs) == 0 {
			inputs = []string{prev}
		}
		inShapes := make([][]int, len(inputs))
		for i, name := range inputs {
			s, ok := shapes[name]
			if !ok {
				return fmt.Errorf("layer %q reads %q, which is not an earlier node", r.name, name)
			}
			inShapes[i] = s
		}
		l, err := parseLayer(r.layer, inShapes, rng)
		if err != nil {
			return fmt.Errorf("layer %q: %w", r.name, err)
		}
		out, err := l.OutputShape(inShapes)
		if err != nil {
			return fmt.Errorf("layer %q (%s): %w", r.name, r.layer, err)
		}
		shapes[r.name] = out
		b.Add(r.name, l, inputs...)
		prev = r.name
	}
	g, err := b.Build()
	if err != nil {
		return err
	}
	if err := realisticBatchNorm(g); err != nil {
		return err
	}
	ptqOf(ctx).model = g
	return nil
}

// parseLayer reads one layer description of the features:
//
//	Conv2D 3->8 3x3 [stride 1] [padding 1]    Linear 256->10
//	BatchNorm2D (channels from its input)     MaxPool2D 2x2 [stride 2]
//	AvgPool2D 2x2 [stride 2]                  GlobalAvgPool, Flatten, ReLU
//	Add, Softmax, LogSoftmax, Identity        Dropout 0.5
func parseLayer(desc string, in [][]int, rng *rand.Rand) (nn.Layer, error) {
	f := strings.Fields(strings.ReplaceAll(desc, ",", " "))
	if len(f) == 0 {
		return nil, fmt.Errorf("empty layer description")
	}
	opts := map[string]int{}
	if i := slices.IndexFunc(f, func(w string) bool { return w == "stride" || w == "padding" }); i >= 0 {
		for rest := f[i:]; len(rest) > 0; rest = rest[min(2, len(rest)):] {
			n, err := 0, error(nil)
			if len(rest) > 1 {
				n, err = strconv.Atoi(rest[1])
			}
			if len(rest) < 2 || err != nil || (rest[0] != "stride" && rest[0] != "padding") {
				return nil, fmt.Errorf("want \"stride N\" or \"padding N\" after the sizes, got %q", strings.Join(rest, " "))
			}
			opts[rest[0]] = n
		}
		f = f[:i]
	}
	arrow := func() (int, int, error) {
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("layer %q: want sizes written \"in->out\"", desc)
		}
		a, b, ok := strings.Cut(f[1], "->")
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || x < 1 || y < 1 {
			return 0, 0, fmt.Errorf("layer %q: sizes %q are not \"in->out\"", desc, f[1])
		}
		return x, y, nil
	}
	window := func(i int) (int, error) {
		if len(f) <= i {
			return 0, fmt.Errorf("layer %q: want a window \"KxK\"", desc)
		}
		s, err := parseShape(f[i])
		if err != nil || len(s) != 2 || s[0] != s[1] || s[0] < 1 {
			return 0, fmt.Errorf("layer %q: window %q is not a square \"KxK\"", desc, f[i])
		}
		return s[0], nil
	}
	switch f[0] {
	case "Conv2D":
		ic, oc, err := arrow()
		if err != nil {
			return nil, err
		}
		k, err := window(2)
		if err != nil {
			return nil, err
		}
		stride := 1
		if s, ok := opts["stride"]; ok {
			stride = s
		}
		if stride < 1 || opts["padding"] < 0 {
			return nil, fmt.Errorf("layer %q: stride must be >= 1 and padding >= 0", desc)
		}
		return nn.NewConv2D(ic, oc, k, stride, opts["padding"], rng), nil
	case "Linear":
		i, o, err := arrow()
		if err != nil {
			return nil, err
		}
		return nn.NewLinear(i, o, rng), nil
	case "BatchNorm2D":
		if len(in) != 1 || len(in[0]) != 3 {
			return nil, fmt.Errorf("layer %q: BatchNorm2D reads one input of shape CxHxW, got %v", desc, in)
		}
		return nn.NewBatchNorm2D(in[0][0]), nil
	case "MaxPool2D", "AvgPool2D":
		k, err := window(1)
		if err != nil {
			return nil, err
		}
		stride := k
		if s, ok := opts["stride"]; ok {
			stride = s
		}
		if stride < 1 {
			return nil, fmt.Errorf("layer %q: stride must be >= 1", desc)
		}
		if f[0] == "MaxPool2D" {
			return nn.NewMaxPool2D(k, stride), nil
		}
		return nn.NewAvgPool2D(k, stride), nil
	case "Dropout":
		p := 0.5
		if len(f) > 1 {
			v, err := strconv.ParseFloat(f[1], 32)
			if err != nil || v < 0 || v >= 1 {
				return nil, fmt.Errorf("layer %q: dropout probability %q is not in [0, 1)", desc, f[1])
			}
			p = v
		}
		return nn.NewDropout(float32(p), seeded(ptqWeightSeed)), nil
	}
	simple := map[string]func() nn.Layer{
		"ReLU":          func() nn.Layer { return nn.NewReLU() },
		"Flatten":       func() nn.Layer { return nn.NewFlatten() },
		"GlobalAvgPool": func() nn.Layer { return nn.NewGlobalAvgPool() },
		"Add":           func() nn.Layer { return nn.NewAdd() },
		"Softmax":       func() nn.Layer { return nn.NewSoftmax() },
		"LogSoftmax":    func() nn.Layer { return nn.NewLogSoftmax() },
		"Identity":      func() nn.Layer { return nn.NewIdentity() },
	}
	if mk, ok := simple[f[0]]; ok && len(f) == 1 {
		return mk(), nil
	}
	return nil, fmt.Errorf("layer %q: unknown layer; known: Conv2D, Linear, BatchNorm2D, MaxPool2D, AvgPool2D, "+
		"GlobalAvgPool, Flatten, ReLU, Add, Softmax, LogSoftmax, Identity, Dropout", desc)
}

// realisticBatchNorm gives every BatchNorm2D of g, in order, the running
// mean and variance of its input on a fixed batch of standard normal
// samples, and a scale and shift drawn from [0.5, 1.5] and [-0.25, 0.25]:
// what training leaves behind, so that folding changes the weights.
func realisticBatchNorm(g *nn.Graph) error {
	rng := rand.New(rand.NewPCG(seeded(ptqBNSeed), 0))
	x := datasets.Gaussian(32, g.InputShape(), 0, 1, seeded(ptqBNSeed)).X
	for _, n := range g.Nodes() {
		bn, ok := n.Layer.(*nn.BatchNorm2D)
		if !ok {
			continue
		}
		var in *tensor.Tensor
		if n.Inputs[0] == g.InputName() {
			in = x
		} else if _, err := g.Run(x, nn.Eval, func(m *nn.Node, out *tensor.Tensor) error {
			if m.Name == n.Inputs[0] {
				in = out
			}
			return nil
		}); err != nil {
			return fmt.Errorf("setting the statistics of %q: %w", n.Name, err)
		}
		c, plane := in.Dim(1), in.Dim(2)*in.Dim(3)
		for ch := range c {
			var sum, sq float64
			cnt := 0
			for s := range in.Dim(0) {
				for _, v := range in.Data()[(s*c+ch)*plane : (s*c+ch+1)*plane] {
					sum += float64(v)
					sq += float64(v) * float64(v)
					cnt++
				}
			}
			mean := sum / float64(cnt)
			bn.RunningMean.Value.Data()[ch] = float32(mean)
			bn.RunningVar.Value.Data()[ch] = float32(math.Max(sq/float64(cnt)-mean*mean, 1e-4))
			bn.Gamma.Value.Data()[ch] = float32(0.5 + rng.Float64())
			bn.Beta.Value.Data()[ch] = float32(0.5*rng.Float64() - 0.25)
		}
	}
	return nil
}

// aOneLayerModel builds a model of a single Linear layer whose weight rows
// and biases are given, one output per table row.
func aOneLayerModel(ctx context.Context, name string, in, out int, table *godog.Table) error {
	rows, err := tableRows(table, "weights", "bias")
	if err != nil {
		return err
	}
	if len(rows) != out {
		return fmt.Errorf("the table has %d rows, want one per output (%d)", len(rows), out)
	}
	l := nn.NewLinear(in, out, nil)
	for o, r := range rows {
		ws, err := parseFloats(r["weights"])
		if err != nil {
			return err
		}
		if len(ws) != in {
			return fmt.Errorf("row %d has %d weights, want %d", o+1, len(ws), in)
		}
		for i, w := range ws {
			l.Weight.Value.Data()[o*in+i] = float32(w)
		}
		b, err := strconv.ParseFloat(strings.TrimSpace(r["bias"]), 32)
		if err != nil {
			return fmt.Errorf("row %d: bias %q is not a number", o+1, r["bias"])
		}
		l.Bias.Value.Data()[o] = float32(b)
	}
	g, err := nn.NewBuilder("input", in).Add(name, l).Build()
	if err != nil {
		return err
	}
	ptqOf(ctx).model = g
	return nil
}

// theExampleResidualNetwork builds pkg/models' ResidualCNN, optionally with
// a Softmax node "softmax" after its classifier, with realistic BatchNorm
// statistics.
func theExampleResidualNetwork(ctx context.Context, shape string, classes int, softmax string) error {
	s, err := parseShape(shape)
	if err != nil {
		return err
	}
	g, err := models.ResidualCNN(seeded(ptqWeightSeed), s[0], s[1], s[2], classes)
	if err != nil {
		return err
	}
	if softmax != "" {
		b := nn.NewBuilder(g.InputName(), g.InputShape()...)
		for _, n := range g.Nodes() {
			b.Add(n.Name, n.Layer, n.Inputs...)
		}
		if g, err = b.Add("softmax", nn.NewSoftmax()).Build(); err != nil {
			return err
		}
	}
	if err := realisticBatchNorm(g); err != nil {
		return err
	}
	ptqOf(ctx).model = g
	return nil
}

// tableRows reads a table with a header row into maps keyed by column
// name, checking the required columns are there.
func tableRows(t *godog.Table, required ...string) ([]map[string]string, error) {
	if t == nil || len(t.Rows) == 0 {
		return nil, fmt.Errorf("the step needs a table with a header row")
	}
	var head []string
	for _, c := range t.Rows[0].Cells {
		head = append(head, strings.TrimSpace(c.Value))
	}
	for _, r := range required {
		if !slices.Contains(head, r) {
			return nil, fmt.Errorf("the table has columns %q, want %q", head, required)
		}
	}
	var rows []map[string]string
	for _, r := range t.Rows[1:] {
		m := map[string]string{}
		for i, c := range r.Cells {
			m[head[i]] = strings.TrimSpace(c.Value)
		}
		rows = append(rows, m)
	}
	return rows, nil
}

// parseFloats reads "1, 0, -2.5".
func parseFloats(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of numbers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseNames reads a list such as "conv1, conv2 and fc" or `"a", "b"`.
func parseNames(s string) []string {
	s = strings.ReplaceAll(s, " and ", ",")
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.Trim(strings.TrimSpace(f), `"`); f != "" {
			out = append(out, f)
		}
	}
	return out
}
