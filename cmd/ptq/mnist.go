package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ptqspec/ptqspec/internal/modelcache"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

func init() {
	register(command{name: "mnist", summary: "the demo: train (or load from the cache) an MNIST model, quantize it to INT8 and report", run: runMnist})
}

// mnistSynopsis is the flag summary of ptq mnist.
const mnistSynopsis = "[-model mlp|cnn] [-seed S] [-epochs N] [-limit N] [-calib 1000] [-method minmax] " +
	"[-eval N] [-sens-eval 2000] [-threshold 0.5] [-budget 1.0] [-fallback] [-out reports/mnist-MODEL] [-save FILE] [-json]"

// mnistFlags are the parsed flags of ptq mnist.
type mnistFlags struct {
	model  string
	seed   uint64
	epochs int
	limit  int
	save   string
	ptqFlags
}

// parseMnistFlags parses and checks ptq mnist's flags.
func parseMnistFlags(args []string, stderr io.Writer) (mnistFlags, error) {
	var f mnistFlags
	fs := newFlagSet("mnist", mnistSynopsis, stderr)
	fs.StringVar(&f.model, "model", "mlp", "model to train or load: "+strings.Join(models.Names(), ", "))
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the initial weights and of the shuffling")
	fs.IntVar(&f.epochs, "epochs", 3, "training epochs (> 0)")
	fs.IntVar(&f.limit, "limit", 0, "train on the first N training images only, without the model cache (0: all 60,000, cached)")
	f.bind(fs, defaultSensEval, "", true)
	bindSave(fs, &f.save)
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.epochs <= 0:
		return f, usageErrorf("-epochs is %d, want > 0", f.epochs)
	case f.limit < 0:
		return f, usageErrorf("-limit is %d, want >= 0", f.limit)
	}
	if err := checkSave(f.save); err != nil {
		return f, err
	}
	if _, err := models.ByName(f.model, f.seed); err != nil {
		if errors.Is(err, models.ErrUnknownModel) {
			return f, usageErrorf("-model: %v", err)
		}
		return f, err
	}
	outSet := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "out" {
			outSet = true
		}
	})
	if !outSet {
		f.out = filepath.Join("reports", "mnist-"+f.model)
	}
	return f, f.check()
}

func runMnist(args []string, stdout, stderr io.Writer) error {
	f, err := parseMnistFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := notifyContext()
	defer stop()
	prog := newProgress(stderr, f.quiet, f.json)
	defer prog.wait()
	ph := newPhases().watch(ctx, prog)
	train, test, err := f.loadSets(ph)
	if err != nil {
		return err
	}
	if f.limit > train.Len() {
		return usageErrorf("-limit is %s, but the MNIST training set holds %s images", thousands(f.limit), thousands(train.Len()))
	}
	g, info, err := mnistModel(ctx, f, ph, stdout)
	if err != nil {
		return err
	}
	j := &job{
		model: f.model, title: fmt.Sprintf("MNIST %s: static INT8 post-training quantization", f.model),
		graph: g, flags: f.ptqFlags, train: train, test: test, ph: ph,
	}
	fmt.Fprintf(stdout, "quantizing %s to INT8, evaluating and analysing it\n", f.model)
	return j.runAndReport(ctx, f.save, stdout, func(s *summary) {
		s.Seed, s.Epochs, s.TrainImages, s.Cached = f.seed, f.epochs, info.TrainImages, info.Cached
	})
}

// mnistModel returns the trained model the flags name: from the model
// cache (training and storing it on a miss), or trained afresh on the
// first -limit images. It says which on w. Training shows a bar of its
// batches and stops within one batch once ctx is cancelled.
func mnistModel(ctx context.Context, f mnistFlags, ph *phases, w io.Writer) (*nn.Graph, modelcache.TrainInfo, error) {
	var (
		g    *nn.Graph
		info modelcache.TrainInfo
		err  error
	)
	if f.limit > 0 {
		fmt.Fprintf(w, "training %s (seed %d) for %s on the first %s MNIST training images (not cached)\n",
			f.model, f.seed, plural(f.epochs, "epoch"), thousands(f.limit))
		err = ph.step("train", 0, func(b *bar) (err error) {
			g, info, err = modelcache.Train(f.model, f.seed, f.epochs, modelcache.Options{Limit: f.limit, Log: epochLogger(w, f.epochs), Batch: trainHook(ctx, b)})
			return err
		})
	} else {
		fmt.Fprintf(w, "loading %s (seed %d, %s on all MNIST training images) from the model cache; "+
			"a first run trains it (about 20 s for mlp, 3 min for cnn on 2 cores)\n", f.model, f.seed, plural(f.epochs, "epoch"))
		t := time.Now()
		var b *bar // drawn only when the cache misses and training starts
		g, info, err = modelcache.GetWith(f.model, f.seed, f.epochs, modelcache.Options{Log: epochLogger(w, f.epochs), Batch: func(done, total int) error {
			if b == nil {
				b = ph.prog.phase("train", total)
			}
			return trainHook(ctx, b)(done, total)
		}})
		b.finish(err)
		phase := "train"
		if info.Cached {
			phase = "load_model"
		}
		ph.add(phase, time.Since(t))
		err = interrupted(ctx, phase, err)
	}
	if err != nil {
		return nil, info, err
	}
	how := fmt.Sprintf("trained in %.1f s", info.TrainSeconds)
	if info.Cached {
		how = fmt.Sprintf("loaded from %s (trained in %.1f s)", info.Path, info.TrainSeconds)
	}
	fmt.Fprintf(w, "%s: %s parameters, %s; FP32 test accuracy %s\n", f.model, thousands(info.Params), how, pct(info.TestAccuracy))
	return g, info, nil
}

// plural writes a count and a noun, "1 epoch", "3 epochs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// epochLogger prints one line per training epoch.
func epochLogger(w io.Writer, epochs int) func(modelcache.EpochInfo) {
	return func(e modelcache.EpochInfo) {
		fmt.Fprintf(w, "epoch %d/%d: loss %.4f, train accuracy %s, %.1f s, %.0f images/s\n",
			e.Epoch, epochs, e.Loss, pct(e.Accuracy), e.Seconds, e.ImagesPerSecond)
	}
}

// trainHook is the per-batch hook of training: it advances b and stops
// the training once ctx is cancelled.
func trainHook(ctx context.Context, b *bar) func(done, total int) error {
	return func(done, total int) error {
		b.set(done, total)
		return ctx.Err()
	}
}

// selectionImages returns the images the sensitivity analysis and the
// fallback choose layers on, the selection images: the last n of the
// MNIST training images, held out from calibration, which reads the first
// calib. The layers chosen are judged on the test images. n and calib
// together must fit in the training set, so that no image both
// calibrates and selects; the error says so otherwise. n = 0 returns nil:
// no analysis.
func selectionImages(train *datasets.Dataset, n, calib int) (*datasets.Dataset, error) {
	total := train.Len()
	switch {
	case n == 0:
		return nil, nil
	case n < 0 || calib < 0:
		return nil, usageErrorf("-sens-eval is %d and -calib %d, want values >= 0", n, calib)
	case n+calib > total:
		return nil, usageErrorf("-sens-eval %s and -calib %s together exceed the %s MNIST training images: "+
			"the selection images (the last -sens-eval) would overlap the calibration images (the first -calib)",
			thousands(n), thousands(calib), thousands(total))
	}
	d, err := train.Subset(total-n, total)
	if err != nil {
		return nil, err
	}
	d.Name = selectionName(n, total)
	return d, nil
}

// selectionName names the selection images: "MNIST training images
// 58,000 to 59,999 (the last 2,000 of 60,000, held out from calibration)".
func selectionName(n, total int) string {
	return fmt.Sprintf("MNIST training images %s to %s (the last %s of %s, held out from calibration)",
		thousands(total-n), thousands(total-1), thousands(n), thousands(total))
}
