package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// Loading the MNIST sets and FP32 model files.

// loadMNIST loads the MNIST training and test sets, timed as "load_data".
func loadMNIST(ph *phases) (train, test *datasets.Dataset, err error) {
	err = ph.time("load_data", func() error {
		train, test, err = datasets.LoadMNIST("")
		return err
	})
	return train, test, err
}

// loadSets loads the MNIST training and test sets and refuses image
// counts beyond them (checkSizes), before any model is trained or loaded.
func (f *ptqFlags) loadSets(ph *phases) (train, test *datasets.Dataset, err error) {
	if train, test, err = loadMNIST(ph); err != nil {
		return nil, nil, err
	}
	if err := f.checkSizes(train, test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// bindModelFile registers -model FILE, the FP32 model of ptq quantize and
// sensitivity.
func bindModelFile(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "model", "", "FP32 model file saved by 'ptq train' (required)")
}

// checkModelFile refuses a missing -model FILE.
func checkModelFile(path string) error {
	if path == "" {
		return usageErrorf("-model is required: a model file saved by 'ptq train'")
	}
	return nil
}

// fileInputs is what ptq quantize and sensitivity work on: the MNIST sets
// and an FP32 model file.
type fileInputs struct {
	train, test *datasets.Dataset
	graph       *nn.Graph
	name        string // the model's name in reports: the file's base name
}

// loadFileInputs loads the MNIST sets (loadSets), then the model file
// (loadModelFile).
func loadFileInputs(f *ptqFlags, file string, ph *phases) (*fileInputs, error) {
	train, test, err := f.loadSets(ph)
	if err != nil {
		return nil, err
	}
	g, err := loadModelFile(file, ph)
	if err != nil {
		return nil, err
	}
	return &fileInputs{train: train, test: test, graph: g, name: modelNameOf(file)}, nil
}

// first returns the first n samples of d, or all of them when n is 0.
func first(d *datasets.Dataset, n int) (*datasets.Dataset, error) {
	if n == 0 {
		return d, nil
	}
	return d.Subset(0, n)
}

// loadModelFile reads an FP32 model saved by ptq train (nn.SaveFile),
// timed as "load_model".
func loadModelFile(path string, ph *phases) (*nn.Graph, error) {
	var g *nn.Graph
	err := ph.time("load_model", func() (err error) {
		g, err = nn.LoadFile(path)
		return err
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("model file %s does not exist (make one with 'ptq train -out %s')", path, path)
	}
	return g, err
}

// modelNameOf names a model file in reports: its base name without the
// extension.
func modelNameOf(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}
