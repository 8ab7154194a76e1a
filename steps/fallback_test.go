package steps

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// The Then steps of the fallback and sensitivity features check the
// library's results; these tests feed them wrong results and expect them
// to fail.

func TestRevertedByRecovery(t *testing.T) {
	sens := &ptq.SensitivityReport{Layers: []ptq.LayerSensitivity{
		{Layer: "linear1", Recovery: 0.5}, {Layer: "linear2", Recovery: 0.2}, {Layer: "linear3", Recovery: 0},
	}}
	cases := []struct {
		name    string
		rep     *ptq.FallbackReport
		wantErr string
	}{
		{"in order", &ptq.FallbackReport{Reverted: []ptq.FallbackStep{{Layer: "linear1"}, {Layer: "linear2"}}, Sensitivity: sens, Met: true}, ""},
		{"out of order", &ptq.FallbackReport{Reverted: []ptq.FallbackStep{{Layer: "linear2"}, {Layer: "linear1"}}, Sensitivity: sens, Met: true},
			`"linear2" (recovery 20.00 points) was reverted before "linear1"`},
		{"skips the best", &ptq.FallbackReport{Reverted: []ptq.FallbackStep{{Layer: "linear2"}}, Sensitivity: sens, Met: true}, "was reverted before"},
		{"unknown layer", &ptq.FallbackReport{Reverted: []ptq.FallbackStep{{Layer: "fc"}}, Sensitivity: sens, Met: true}, `"fc" is not in the sensitivity analysis`},
		{"nothing reverted within budget", &ptq.FallbackReport{FP32: 0.9, AllInt8: 0.85, MaxDrop: 0.1, Met: true}, ""},
		{"nothing reverted over budget", &ptq.FallbackReport{FP32: 0.9, AllInt8: 0.5, MaxDrop: 0.1, Met: true}, "no layer was reverted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			domainState[fallbackState](ctx).report = c.rep
			checkStepError(t, revertedByRecovery(ctx), c.wantErr)
		})
	}
}

func TestTheSensitiveLayersAre(t *testing.T) {
	cases := []struct {
		name    string
		layers  []ptq.LayerSensitivity
		list    []string
		want    string
		wantErr string
	}{
		{"match", []ptq.LayerSensitivity{{Layer: "a", Sensitive: true}, {Layer: "b"}}, []string{"a"}, "a", ""},
		{"none", []ptq.LayerSensitivity{{Layer: "a"}, {Layer: "b"}}, []string{}, "none", ""},
		{"list differs", []ptq.LayerSensitivity{{Layer: "a", Sensitive: true}, {Layer: "b"}}, []string{"a"}, "a and b", "want"},
		{"flag differs from list", []ptq.LayerSensitivity{{Layer: "a"}, {Layer: "b"}}, []string{"a"}, "a", `layer "a" is marked sensitive: false`},
		{"rank order", []ptq.LayerSensitivity{{Layer: "a", Sensitive: true}, {Layer: "b", Sensitive: true}}, []string{"a", "b"}, "b and a", "want"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			domainState[sensitivityState](ctx).rep = &ptq.SensitivityReport{Layers: c.layers, Sensitive: c.list}
			checkStepError(t, theSensitiveLayersAre(ctx, c.want), c.wantErr)
		})
	}
}

func TestBothAnalysesAlike(t *testing.T) {
	base := func() *ptq.SensitivityReport {
		return &ptq.SensitivityReport{FP32: 0.9, AllInt8: 0.5, Layers: []ptq.LayerSensitivity{
			{Layer: "a", Kind: "Linear", OnlyThisInt8: 0.5, Drop: 0.4, SQNR: 1}, {Layer: "b", Kind: "Linear", SQNR: 30}}}
	}
	cases := []struct {
		name    string
		change  func(r *ptq.SensitivityReport)
		wantErr string
	}{
		{"identical", func(*ptq.SensitivityReport) {}, ""},
		{"one SQNR bit", func(r *ptq.SensitivityReport) { r.Layers[1].SQNR = 30.000000000000004 }, `layer "b" differs`},
		{"ranking", func(r *ptq.SensitivityReport) { r.Layers[0], r.Layers[1] = r.Layers[1], r.Layers[0] }, "the analyses rank"},
		{"all-int8", func(r *ptq.SensitivityReport) { r.AllInt8 = 0.51 }, "differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			b := base()
			c.change(b)
			ss := domainState[sensitivityState](ctx)
			ss.rep, ss.again = base(), b
			checkStepError(t, bothAnalysesAlike(ctx), c.wantErr)
		})
	}
}

func TestCheckFields(t *testing.T) {
	table := func(rows ...[]string) []map[string]string {
		var out []map[string]string
		for _, r := range rows {
			out = append(out, map[string]string{"field": r[0], "type": r[1], "value": r[2]})
		}
		return out
	}
	const doc = `{"schema":"s/v1","samples":400,"fp32":0.5,"layers":[{"a":1}],"names":["x","y"],"ok":true}`
	good := [][]string{{"schema", "string", `"s/v1"`}, {"samples", "integer", "400"}, {"fp32", "number", ""},
		{"layers", "array of objects", ""}, {"names", "array of strings", `["x","y"]`}, {"ok", "boolean", ""}}
	swap := func(i, j int) [][]string {
		rows := append([][]string(nil), good...)
		rows[i], rows[j] = rows[j], rows[i]
		return rows
	}
	with := func(i int, cell []string) [][]string {
		rows := append([][]string(nil), good...)
		rows[i] = cell
		return rows
	}
	cases := []struct {
		name    string
		rows    [][]string
		wantErr string
	}{
		{"matches", good, ""},
		{"order", swap(0, 1), "has the fields"},
		{"missing field", good[:5], "has the fields"},
		{"type", with(2, []string{"fp32", "string", ""}), `field "fp32" is number`},
		{"integer is a number", with(1, []string{"samples", "number", ""}), ""},
		{"number is not an integer", with(2, []string{"fp32", "integer", ""}), `field "fp32" is number`},
		{"value", with(0, []string{"schema", "string", `"s/v2"`}), `field "schema" is "s/v1", want "s/v2"`},
		{"array value", with(4, []string{"names", "array of strings", `["y","x"]`}), `field "names"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkStepError(t, checkFields("doc", []byte(doc), table(c.rows...)), c.wantErr)
		})
	}
}

// checkStepError fails t unless err is nil when wantErr is empty, or
// contains wantErr.
func checkStepError(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("step failed: %v", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Fatalf("step error %v, want one containing %q", err, wantErr)
	}
}

// TestDisjoint shows that the check behind "none of them a calibration or
// test sample" fails when a sample is in two sets, and names it.
func TestDisjoint(t *testing.T) {
	set := func(name string, rows ...float32) *datasets.Dataset {
		return &datasets.Dataset{Name: name, X: tensor.MustFromData(rows, len(rows)/2, 2)}
	}
	cases := []struct {
		name    string
		sets    []*datasets.Dataset
		wantErr string
	}{
		{"disjoint", []*datasets.Dataset{set("calib", 1, 2, 3, 4), set("selection", 5, 6), set("test", 7, 8, 1, 3)}, ""},
		{"one shared sample", []*datasets.Dataset{set("calib", 1, 2, 3, 4), set("selection", 5, 6), set("test", 7, 8, 3, 4)},
			"sample 1 of test is also in calib"},
		{"a repeat inside one set", []*datasets.Dataset{set("selection", 5, 6, 5, 6)}, "sample 1 of selection is also in selection"},
		{"negative zero is another sample", []*datasets.Dataset{set("a", 0, 1), set("b", float32(math.Copysign(0, -1)), 1)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkStepError(t, disjoint(c.sets...), c.wantErr)
		})
	}
}

// TestAnalysisNamesSelection feeds the step a report that names other
// data, or data that overlaps the test samples, and expects it to fail.
func TestAnalysisNamesSelection(t *testing.T) {
	task, err := blobTask()
	if err != nil {
		t.Fatal(err)
	}
	overlap, err := task.Test.Subset(0, blobSelect)
	if err != nil {
		t.Fatal(err)
	}
	overlap.Name = task.Select.Name
	cases := []struct {
		name      string
		selection *datasets.Dataset
		rep       *ptq.SensitivityReport
		n         int
		wantErr   string
	}{
		{"named", task.Select, &ptq.SensitivityReport{Selection: task.Select.Name, Samples: blobSelect}, blobSelect, ""},
		{"other data", task.Select, &ptq.SensitivityReport{Selection: task.Test.Name, Samples: blobSelect}, blobSelect, "the analysis says it measured on"},
		{"other count", task.Select, &ptq.SensitivityReport{Selection: task.Select.Name, Samples: blobSelect}, 200, "want 200"},
		{"selection overlaps the test samples", overlap, &ptq.SensitivityReport{Selection: task.Select.Name, Samples: blobSelect}, blobSelect,
			"is also in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := withState(context.Background(), c.name)
			b := domainState[blobState](ctx)
			b.calib, b.selection, b.test = task.Train, c.selection, task.Test
			domainState[sensitivityState](ctx).rep = c.rep
			checkStepError(t, analysisNamesSelection(ctx, c.n), c.wantErr)
		})
	}
}
