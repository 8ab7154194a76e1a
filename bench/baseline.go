package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"
)

// Schema is the schema of a baseline file.
const Schema = "ptqspec.bench/v1"

// MaxSlowdown is how much a case's ratio to the reference may grow over
// its baseline before Compare reports it.
const MaxSlowdown = 1.5

// Baseline is the JSON file bench/baseline.json:
//
//	schema        string  "ptqspec.bench/v1"
//	created       string  RFC 3339 time of the run
//	go, os, arch  string  the toolchain and platform of the run
//	reference_ns  number  median ns of one Reference iteration
//	benchmarks    array   {name, kind, ns_per_op, min_ns, ratio}: the median and
//	                      the fastest ns of one iteration over the rounds, and the
//	                      ratio of the fastest to the reference's fastest
type Baseline struct {
	Schema      string          `json:"schema"`
	Created     time.Time       `json:"created"`
	Go          string          `json:"go"`
	OS          string          `json:"os"`
	Arch        string          `json:"arch"`
	ReferenceNs float64         `json:"reference_ns"`
	Benchmarks  []BaselineEntry `json:"benchmarks"`
}

// BaselineEntry is one case of a Baseline.
type BaselineEntry struct {
	Name    string  `json:"name"`
	Kind    string  `json:"kind"`
	NsPerOp float64 `json:"ns_per_op"`
	MinNs   float64 `json:"min_ns"`
	Ratio   float64 `json:"ratio"`
}

// Baseline returns r as a baseline made at t.
func (r *Result) Baseline(t time.Time) *Baseline {
	b := &Baseline{Schema: Schema, Created: t.UTC().Truncate(time.Second), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, ReferenceNs: r.ReferenceNs}
	for _, c := range r.Cases {
		b.Benchmarks = append(b.Benchmarks, BaselineEntry{Name: c.Name, Kind: c.Kind, NsPerOp: c.NsOp, MinNs: c.MinNs, Ratio: c.Ratio})
	}
	return b
}

// WriteFile writes b as indented JSON to path.
func (b *Baseline) WriteFile(path string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// ReadBaseline reads the baseline at path and checks its schema.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	if b.Schema != Schema {
		return nil, fmt.Errorf("bench: %s: schema %q, want %q", path, b.Schema, Schema)
	}
	return &b, nil
}

// Regression is a case slower than its baseline by more than the limit,
// or one the run or the baseline lacks.
type Regression struct {
	Name string
	// Factor is the case's ratio to the reference over its baseline
	// ratio; 0 when the case is missing from one side.
	Factor float64
	Msg    string
}

// Compare returns the cases of r whose ratio to the reference is more
// than limit times their baseline ratio, and every baseline case r lacks
// (a case of r that the baseline lacks is new, not a regression).
func Compare(base *Baseline, r *Result, limit float64) []Regression {
	got := map[string]CaseResult{}
	for _, c := range r.Cases {
		got[c.Name] = c
	}
	var out []Regression
	for _, b := range base.Benchmarks {
		c, ok := got[b.Name]
		if !ok {
			out = append(out, Regression{Name: b.Name, Msg: fmt.Sprintf("%s: in the baseline but not measured", b.Name)})
			continue
		}
		f := c.Ratio / b.Ratio
		if !(f <= limit) {
			out = append(out, Regression{Name: b.Name, Factor: f, Msg: fmt.Sprintf(
				"%s: %.2fx slower than its baseline relative to the reference (ratio %.3g, baseline %.3g; %.0f ns/op, baseline %.0f ns/op), limit %.2gx",
				b.Name, f, c.Ratio, b.Ratio, c.NsOp, b.NsPerOp, limit)})
		}
	}
	return out
}
