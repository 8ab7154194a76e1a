package steps

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/cucumber/godog"
	messages "github.com/cucumber/messages/go/v34"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

// stepTable builds the table a step receives from rows of cells, the
// first row the header.
func stepTable(rows ...[]string) *godog.Table {
	t := &godog.Table{}
	for _, r := range rows {
		row := &messages.PickleTableRow{}
		for _, c := range r {
			row.Cells = append(row.Cells, &messages.PickleTableCell{Value: c})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// TestPlanPrintsRows feeds the printed-plan step the table of the
// traversal feature and tables that are wrong in one fact each: every
// wrong one fails and names what the printed plan says instead.
func TestPlanPrintsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	g, err := nn.Sequential([]int{1, 8, 8}, nn.NewConv2D(1, 4, 3, 1, 1, r), nn.NewReLU(), nn.NewFlatten(), nn.NewLinear(256, 3, r), nn.NewSoftmax())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ptq.Traverse(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	head := []string{"node", "kind", "role", "output", "inputs"}
	good := [][]string{
		{"conv2d1", "Conv2D", "int8", "int8", "input (quantize)"},
		{"relu1", "ReLU", "fused", "int8", "conv2d1"},
		{"flatten1", "Flatten", "int8-transparent", "int8", "relu1"},
		{"linear1", "Linear", "int8", "int8", "flatten1"},
		{"softmax1", "Softmax", "fp32", "fp32", "linear1 (dequantize)"},
	}
	with := func(row, col int, v string) [][]string {
		out := [][]string{head}
		for i, r := range good {
			r = append([]string(nil), r...)
			if i == row {
				r[col] = v
			}
			out = append(out, r)
		}
		return out
	}
	cases := []struct {
		name    string
		rows    [][]string
		wantErr string
	}{
		{"the plan as printed", with(-1, 0, ""), ""},
		{"wrong role", with(1, 2, "int8"), `row 2 reads "relu1 ReLU fused int8`},
		{"wrong output type", with(4, 3, "int8"), `row 5 reads "softmax1 Softmax fp32 fp32`},
		{"dequantize step not marked", with(4, 4, "linear1"), `row 5 (softmax1) gives the inputs and reason as "linear1 (dequantize) Softmax`},
		{"quantize step not marked", with(0, 4, "input"), `row 1 (conv2d1) gives the inputs and reason as "input (quantize) Conv2D`},
		{"rows out of order", [][]string{head, good[1], good[0], good[2], good[3], good[4]}, `row 1 reads "conv2d1 Conv2D`},
		{"a row missing", [][]string{head, good[0], good[1], good[2], good[3]}, "the plan prints 6 lines, want a header and 4 rows"},
		{"missing column", [][]string{{"node", "kind", "role", "output"}, {"conv2d1", "Conv2D", "int8", "int8"}}, "the table has columns"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			ptqOf(ctx).plan = p
			checkStepError(t, thePlanPrintsRows(ctx, stepTable(c.rows...)), c.wantErr)
		})
	}
}
