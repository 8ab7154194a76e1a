package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ptqspec/ptqspec/internal/modelcache"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

func init() {
	register(command{name: "train", summary: "train a model on MNIST, save it and print its test accuracy", run: runTrain})
}

// trainFlags are the parsed flags of ptq train.
type trainFlags struct {
	model  string
	epochs int
	seed   uint64
	out    string
	limit  int
	json   bool
	quiet  bool
}

// parseTrainFlags parses and checks ptq train's flags.
func parseTrainFlags(args []string, stderr io.Writer) (trainFlags, error) {
	var f trainFlags
	fs := newFlagSet("train", "-model mlp|cnn -epochs N -seed S -out FILE [-limit N] [-json]", stderr)
	fs.StringVar(&f.model, "model", "mlp", "model to train: "+strings.Join(models.Names(), ", "))
	fs.IntVar(&f.epochs, "epochs", 3, "passes over the training images (> 0)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the initial weights and of the shuffling")
	fs.StringVar(&f.out, "out", "", "file to save the trained model to (required)")
	fs.IntVar(&f.limit, "limit", 0, "train on the first N training images only (0: all 60,000)")
	fs.BoolVar(&f.json, "json", false, "print a JSON summary as the last line (and no progress bars)")
	fs.BoolVar(&f.quiet, "quiet", false, "draw no progress bars (they are drawn only when stderr is a terminal)")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	switch {
	case f.out == "":
		return f, usageErrorf("-out is required")
	case f.epochs <= 0:
		return f, usageErrorf("-epochs is %d, want > 0", f.epochs)
	case f.limit < 0:
		return f, usageErrorf("-limit is %d, want >= 0", f.limit)
	}
	if _, err := models.ByName(f.model, f.seed); err != nil {
		if errors.Is(err, models.ErrUnknownModel) {
			return f, usageErrorf("-model: %v", err)
		}
		return f, err
	}
	return f, nil
}

// trainSummary is the JSON line of ptq train -json.
type trainSummary struct {
	Model           string  `json:"model"`
	Epochs          int     `json:"epochs"`
	Seed            uint64  `json:"seed"`
	TrainImages     int     `json:"train_images"`
	Params          int     `json:"params"`
	TrainSeconds    float64 `json:"train_seconds"`
	TestAccuracy    float64 `json:"test_accuracy"`
	TestLoss        float64 `json:"test_loss"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Out             string  `json:"out"`
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	f, err := parseTrainFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := notifyContext()
	defer stop()
	prog := newProgress(stderr, f.quiet, f.json)
	defer prog.wait()
	ph := newPhases().watch(ctx, prog)
	fmt.Fprintf(stdout, "training %s (seed %d) on MNIST for %d epochs\n", f.model, f.seed, f.epochs)
	var g *nn.Graph
	var info modelcache.TrainInfo
	err = ph.step("train", 0, func(b *bar) (err error) {
		g, info, err = modelcache.Train(f.model, f.seed, f.epochs, modelcache.Options{
			Limit: f.limit, Batch: trainHook(ctx, b),
			Log: func(e modelcache.EpochInfo) {
				fmt.Fprintf(stdout, "epoch %d/%d: loss %.4f, train accuracy %.2f%%, %.1f s, %.0f images/s\n",
					e.Epoch, f.epochs, e.Loss, 100*e.Accuracy, e.Seconds, e.ImagesPerSecond)
			},
		})
		return err
	})
	if err != nil {
		return err
	}
	// nn.SaveFile is atomic: the whole model file or none.
	if err := ph.time("save_model", func() error { return nn.SaveFile(f.out, g) }); err != nil {
		return err
	}
	prog.wait()
	fmt.Fprintf(stdout, "%s: %d parameters, trained on %d images in %.1f s (%.0f images/s)\n",
		f.model, info.Params, info.TrainImages, info.TrainSeconds, info.ImagesPerSecond)
	fmt.Fprintf(stdout, "test accuracy %.2f%% (loss %.4f) on 10,000 images; saved to %s\n",
		100*info.TestAccuracy, info.TestLoss, f.out)
	if f.json {
		line, err := json.Marshal(trainSummary{
			Model: f.model, Epochs: f.epochs, Seed: f.seed, TrainImages: info.TrainImages,
			Params: info.Params, TrainSeconds: info.TrainSeconds, TestAccuracy: info.TestAccuracy,
			TestLoss: info.TestLoss, ImagesPerSecond: info.ImagesPerSecond, Out: f.out,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", line)
	}
	return nil
}
