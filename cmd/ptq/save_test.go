package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
)

func TestSaveFlag(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	missing := filepath.Join(dir, "no", "int8.ptq")
	cases := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string
	}{
		{"quantize into a missing folder", []string{"quantize", "-model", model, "-save", missing}, 2,
			"-save " + missing + ": folder " + filepath.Dir(missing) + " does not exist"},
		{"mnist into a missing folder", []string{"mnist", "-save", missing}, 2,
			"-save " + missing + ": folder " + filepath.Dir(missing) + " does not exist"},
		{"quantize help lists it", []string{"quantize", "-h"}, 0, "write the final INT8 model to FILE"},
		{"mnist help lists it", []string{"mnist", "-h"}, 0, "[-save FILE]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runPTQ(t, c.args...)
			if status != c.wantStatus || !strings.Contains(stderr, c.wantErr) {
				t.Errorf("run(%q) = %d, want %d with stderr containing %q\nstdout: %s\nstderr: %s", c.args, status, c.wantStatus, c.wantErr, stdout, stderr)
			}
		})
	}
	for _, c := range []struct {
		name  string
		parse func() (string, error)
	}{
		{"quantize", func() (string, error) {
			f, err := parseQuantizeFlags([]string{"-model", model, "-save", filepath.Join(dir, "q.ptq")}, io.Discard)
			return f.save, err
		}},
		{"mnist", func() (string, error) {
			f, err := parseMnistFlags([]string{"-save", filepath.Join(dir, "q.ptq")}, io.Discard)
			return f.save, err
		}},
	} {
		if got, err := c.parse(); err != nil || got != filepath.Join(dir, "q.ptq") {
			t.Errorf("%s -save: parsed %q, %v", c.name, got, err)
		}
	}
}

// TestQuantizeSavesTheInt8Model quantizes the tiny MLP with -save and
// loads the file: it must be the model the command evaluated, to the
// last image (tolerance 0).
func TestQuantizeSavesTheInt8Model(t *testing.T) {
	g, err := tinyModel()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, out := filepath.Join(dir, "tiny.model"), filepath.Join(dir, "tiny-int8.ptq")
	if err := nn.SaveFile(file, g); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runPTQ(t, "quantize", "-model", file, "-calib", "200", "-eval", "1000", "-save", out, "-json")
	if status != 0 {
		t.Fatalf("status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	var got savedSummary
	lastJSON(t, stdout, &got)
	if got.SavedModel != out || !strings.Contains(stdout, "INT8 model (static) saved to "+out) {
		t.Errorf("saved_model %q, stdout:\n%s", got.SavedModel, stdout)
	}
	if _, ok := got.PhaseSeconds["save_model"]; !ok {
		t.Errorf("phase_seconds %v lack save_model", got.PhaseSeconds)
	}
	m, err := ptq.LoadModelFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := datasets.LoadMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	eval, err := test.Subset(0, tinyEval)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := ptq.Accuracy(m, ptq.Data{X: eval.X, Labels: eval.Labels}, evalBatch)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mode() != ptq.ModeStatic || acc != got.Int8Accuracy || m.Bytes() != got.Int8Bytes {
		t.Errorf("loaded %s model: accuracy %v, %d bytes; the run reported %v, %d bytes", m.Mode(), acc, m.Bytes(), got.Int8Accuracy, got.Int8Bytes)
	}
}
