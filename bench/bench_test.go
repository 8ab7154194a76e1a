package bench

import (
	"strings"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	base := &Baseline{Schema: Schema, Benchmarks: []BaselineEntry{
		{Name: "a", Ratio: 2}, {Name: "b", Ratio: 0.5},
	}}
	cases := []struct {
		name  string
		got   []CaseResult
		want  []string // names reported
		limit float64
	}{
		{"same speed", []CaseResult{{Name: "a", Ratio: 2}, {Name: "b", Ratio: 0.5}}, nil, 1.5},
		{"faster", []CaseResult{{Name: "a", Ratio: 1}, {Name: "b", Ratio: 0.1}}, nil, 1.5},
		{"1.49x slower passes", []CaseResult{{Name: "a", Ratio: 2 * 1.49}, {Name: "b", Ratio: 0.5}}, nil, 1.5},
		{"1.51x slower fails", []CaseResult{{Name: "a", Ratio: 2 * 1.51}, {Name: "b", Ratio: 0.5}}, []string{"a"}, 1.5},
		{"2x slower fails", []CaseResult{{Name: "a", Ratio: 2}, {Name: "b", Ratio: 1}}, []string{"b"}, 1.5},
		{"missing case fails", []CaseResult{{Name: "a", Ratio: 2}}, []string{"b"}, 1.5},
		{"new case is not a regression", []CaseResult{{Name: "a", Ratio: 2}, {Name: "b", Ratio: 0.5}, {Name: "c", Ratio: 9}}, nil, 1.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			regs := Compare(base, &Result{ReferenceNs: 1, Cases: c.got}, c.limit)
			var names []string
			for _, r := range regs {
				names = append(names, r.Name)
				if !strings.Contains(r.Msg, r.Name) {
					t.Errorf("message %q does not name %q", r.Msg, r.Name)
				}
			}
			if strings.Join(names, ",") != strings.Join(c.want, ",") {
				t.Fatalf("reported %v, want %v", names, c.want)
			}
		})
	}
}

// spin is a case that does the reference's work on its own buffer, so
// that its ratio to the reference is about 1 on any machine, under -race
// too; a slowdown injected into it leaves the reference alone.
func spin() Case { return Case{Name: "spin", Kind: "kernel", Setup: referenceWork} }

// TestCheckCatchesInjectedSlowdown makes a baseline of a workload, then
// measures it again as it is (within the limit) and with its work doubled
// (about 2x: reported), in the same process as the reference.
func TestCheckCatchesInjectedSlowdown(t *testing.T) {
	o := Options{Rounds: 7, MinTime: 25 * time.Millisecond}
	first, err := Measure([]Case{spin()}, o)
	if err != nil {
		t.Fatal(err)
	}
	base := first.Baseline(time.Now())
	same, err := Measure([]Case{spin()}, o)
	if err != nil {
		t.Fatal(err)
	}
	if regs := Compare(base, same, MaxSlowdown); len(regs) != 0 {
		t.Fatalf("an unchanged workload was reported: %v", regs[0].Msg)
	}
	o.Slowdown = map[string]int{"spin": 2}
	slow, err := Measure([]Case{spin()}, o)
	if err != nil {
		t.Fatal(err)
	}
	regs := Compare(base, slow, MaxSlowdown)
	if len(regs) != 1 || regs[0].Name != "spin" {
		t.Fatalf("a 2x slowdown was not reported: %v (baseline ratio %.3g, slowed %.3g)", regs, base.Benchmarks[0].Ratio, slow.Cases[0].Ratio)
	}
	if f := regs[0].Factor; f < 1.6 || f > 2.6 {
		t.Fatalf("a 2x slowdown was measured as %.2fx, want within [1.6, 2.6]", f)
	}
}

// TestCasesRun sets up every case of the baseline and runs it once.
func TestCasesRun(t *testing.T) {
	for _, c := range append(Cases(), Reference()) {
		t.Run(c.Name, func(t *testing.T) {
			fn, err := c.Setup()
			if err != nil {
				t.Fatal(err)
			}
			if err := fn(); err != nil {
				t.Fatal(err)
			}
			if c.Kind != "kernel" && c.Kind != "model" && c.Kind != "reference" {
				t.Fatalf("kind %q", c.Kind)
			}
		})
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	r := &Result{ReferenceNs: 1000, Cases: []CaseResult{{Name: "a", Kind: "kernel", NsOp: 2100, MinNs: 2000, Ratio: 2}}}
	path := t.TempDir() + "/baseline.json"
	if err := r.Baseline(time.Unix(1e9, 0)).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Schema != Schema || len(b.Benchmarks) != 1 || b.Benchmarks[0] != (BaselineEntry{Name: "a", Kind: "kernel", NsPerOp: 2100, MinNs: 2000, Ratio: 2}) {
		t.Fatalf("read back %+v", b)
	}
}
