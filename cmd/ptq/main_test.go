package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/nn"
)

func TestRunUsageAndErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.model")
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		wantStatus int
		wantOut    string // substring of stdout
		wantErr    string // substring of stderr
	}{
		{"no command", nil, nil, 2, "", "Usage: ptq <command>"},
		{"help", []string{"help"}, nil, 0, "train", ""},
		{"dash h", []string{"-h"}, nil, 0, "Usage: ptq <command>", ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{"train without -out", []string{"train"}, nil, 2, "", "-out is required"},
		{"train unknown model", []string{"train", "-model", "vgg", "-out", out}, nil, 2, "", `unknown model "vgg"`},
		{"train zero epochs", []string{"train", "-epochs", "0", "-out", out}, nil, 2, "", "-epochs is 0, want > 0"},
		{"train negative limit", []string{"train", "-limit", "-5", "-out", out}, nil, 2, "", "-limit is -5"},
		{"train bad seed", []string{"train", "-seed", "minus-one", "-out", out}, nil, 2, "", `invalid value "minus-one" for flag -seed`},
		{"train unknown flag", []string{"train", "-bogus"}, nil, 2, "", "flag provided but not defined: -bogus"},
		{"train extra argument", []string{"train", "-out", out, "now"}, nil, 2, "", "unexpected arguments now"},
		{"train help", []string{"train", "-h"}, nil, 0, "", "Usage: ptq train -model"},
		{"train without MNIST", []string{"train", "-out", out}, map[string]string{"MNIST_DIR": t.TempDir()}, 1, "", "t10k-images-idx3-ubyte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			status := run(c.args, &stdout, &stderr)
			if status != c.wantStatus {
				t.Fatalf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", c.args, status, c.wantStatus, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), c.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", c.wantOut, &stdout)
			}
			if !strings.Contains(stderr.String(), c.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantErr, &stderr)
			}
		})
	}
}

func TestTrainJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mlp.model")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "-model", "mlp", "-epochs", "1", "-seed", "2", "-limit", "600", "-out", out, "-json"}
	if status := run(args, &stdout, &stderr); status != 0 {
		t.Fatalf("run(%q) = %d\nstdout: %s\nstderr: %s", args, status, &stdout, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	for _, key := range []string{"model", "epochs", "train_seconds", "test_accuracy", "images_per_second"} {
		if _, ok := got[key]; !ok {
			t.Errorf("JSON lacks %q: %v", key, got)
		}
	}
	const minAccuracy = 0.6 // 600 images, one epoch; about 0.8 observed
	if got["model"] != "mlp" || got["epochs"] != 1.0 || got["train_images"] != 600.0 {
		t.Errorf("JSON = %v", got)
	}
	if acc, _ := got["test_accuracy"].(float64); acc < minAccuracy || acc > 1 {
		t.Errorf("test_accuracy = %v, want a fraction >= %v", got["test_accuracy"], minAccuracy)
	}
	g, err := nn.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got["params"] != float64(g.NumParams()) {
		t.Errorf("params = %v, saved model has %d", got["params"], g.NumParams())
	}
}
