package models

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/nn"
)

// MNIST's per-sample input shape and number of classes.
const (
	MNISTChannels = 1
	MNISTHeight   = 28
	MNISTWidth    = 28
	MNISTClasses  = 10
)

// ErrUnknownModel reports a model name ByName does not know.
var ErrUnknownModel = errors.New("unknown model")

// newRand returns the generator a builder draws its initial weights from.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6d6f64656c73)) // "models"
}

func mnistShape() []int { return []int{MNISTChannels, MNISTHeight, MNISTWidth} }

// MLP returns a multi-layer perceptron for MNIST: Flatten, then for each
// hidden size a Linear and a ReLU, then Linear to 10 classes. MLP(seed,
// 256) is 784-256-10; MLP(seed) is multinomial logistic regression. Nodes
// are named flatten1, linear1, relu1, linear2, ...
func MLP(seed uint64, hidden ...int) (*nn.Graph, error) {
	rng := newRand(seed)
	layers := []nn.Layer{nn.NewFlatten()}
	in := MNISTChannels * MNISTHeight * MNISTWidth
	for i, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("models: MLP: hidden layer %d has size %d, want > 0", i+1, h)
		}
		layers = append(layers, nn.NewLinear(in, h, rng), nn.NewReLU())
		in = h
	}
	layers = append(layers, nn.NewLinear(in, MNISTClasses, rng))
	g, err := nn.Sequential(mnistShape(), layers...)
	if err != nil {
		return nil, fmt.Errorf("models: MLP: %w", err)
	}
	return g, nil
}

// SmallCNN returns a convolutional network for MNIST: two blocks of 3x3
// convolution (padding 1), BatchNorm2D, ReLU and 2x2 max pooling, with 16
// then 32 channels, then Flatten and Linear(32*7*7 -> 10). Nodes are named
// conv2d1, batchnorm2d1, relu1, maxpool2d1, conv2d2, batchnorm2d2, relu2,
// maxpool2d2, flatten1, linear1.
func SmallCNN(seed uint64) (*nn.Graph, error) {
	rng := newRand(seed)
	const c1, c2 = 16, 32
	g, err := nn.Sequential(mnistShape(),
		nn.NewConv2D(MNISTChannels, c1, 3, 1, 1, rng), nn.NewBatchNorm2D(c1), nn.NewReLU(), nn.NewMaxPool2D(2, 2),
		nn.NewConv2D(c1, c2, 3, 1, 1, rng), nn.NewBatchNorm2D(c2), nn.NewReLU(), nn.NewMaxPool2D(2, 2),
		nn.NewFlatten(),
		nn.NewLinear(c2*(MNISTHeight/4)*(MNISTWidth/4), MNISTClasses, rng),
	)
	if err != nil {
		return nil, fmt.Errorf("models: SmallCNN: %w", err)
	}
	return g, nil
}

// ResidualWidth is the number of channels inside ResidualCNN.
const ResidualWidth = 8

// ResidualCNN returns a small residual network for images [inC, h, w] and
// the given number of classes. Its nodes, in order:
//
//	stem_conv    Conv2D(inC -> 8, 3x3, pad 1)   reads the input
//	stem_bn      BatchNorm2D
//	stem_relu    ReLU
//	block_conv1  Conv2D(8 -> 8, 3x3, pad 1)
//	block_bn1    BatchNorm2D
//	block_relu1  ReLU
//	block_conv2  Conv2D(8 -> 8, 3x3, pad 1)
//	block_bn2    BatchNorm2D
//	block_add    Add(block_bn2, stem_relu)      the skip connection
//	block_relu2  ReLU
//	pool         MaxPool2D(2, stride 2)
//	flatten      Flatten
//	fc           Linear(8*(h/2)*(w/2) -> classes)
//
// h and w must be at least 2.
func ResidualCNN(seed uint64, inC, h, w, classes int) (*nn.Graph, error) {
	if inC <= 0 || h < 2 || w < 2 || classes <= 0 {
		return nil, fmt.Errorf("models: ResidualCNN: input [%d %d %d] with %d classes; want channels > 0, height and width >= 2, classes > 0",
			inC, h, w, classes)
	}
	rng := newRand(seed)
	const c = ResidualWidth
	g, err := nn.NewBuilder("input", inC, h, w).
		Add("stem_conv", nn.NewConv2D(inC, c, 3, 1, 1, rng)).
		Add("stem_bn", nn.NewBatchNorm2D(c)).
		Add("stem_relu", nn.NewReLU()).
		Add("block_conv1", nn.NewConv2D(c, c, 3, 1, 1, rng)).
		Add("block_bn1", nn.NewBatchNorm2D(c)).
		Add("block_relu1", nn.NewReLU()).
		Add("block_conv2", nn.NewConv2D(c, c, 3, 1, 1, rng)).
		Add("block_bn2", nn.NewBatchNorm2D(c)).
		Add("block_add", nn.NewAdd(), "block_bn2", "stem_relu").
		Add("block_relu2", nn.NewReLU()).
		Add("pool", nn.NewMaxPool2D(2, 2)).
		Add("flatten", nn.NewFlatten()).
		Add("fc", nn.NewLinear(c*(h/2)*(w/2), classes, rng)).
		Build()
	if err != nil {
		return nil, fmt.Errorf("models: ResidualCNN: %w", err)
	}
	return g, nil
}

// MLPHidden is the hidden layer size of the "mlp" model of ByName.
const MLPHidden = 256

var builders = map[string]func(seed uint64) (*nn.Graph, error){
	"mlp": func(seed uint64) (*nn.Graph, error) { return MLP(seed, MLPHidden) },
	"cnn": SmallCNN,
	"residual": func(seed uint64) (*nn.Graph, error) {
		return ResidualCNN(seed, MNISTChannels, MNISTHeight, MNISTWidth, MNISTClasses)
	},
}

// Names returns the model names ByName accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ByName builds an MNIST model by name: "mlp" is MLP(seed, 256), "cnn" is
// SmallCNN(seed) and "residual" is ResidualCNN(seed, 1, 28, 28, 10). An
// unknown name gives an error wrapping ErrUnknownModel that lists the
// known ones.
func ByName(name string, seed uint64) (*nn.Graph, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("models: %w %q (known: %s)", ErrUnknownModel, name, strings.Join(Names(), ", "))
	}
	return b(seed)
}

// DefaultTrainConfig returns the recommended training settings for the
// named model: 3 epochs of Adam on batches of 64, seed 1, no logging, and
//
//	mlp                 learning rate 2e-3, halved after each epoch
//	cnn, residual       learning rate 3e-3, quartered after each epoch
//
// Unknown names get the "cnn" settings. Each call returns a fresh
// optimizer, since optimizers hold per-parameter state. On MNIST (60000
// training images) these settings reached 97.7% (mlp) and 98.97% (cnn)
// test accuracy.
func DefaultTrainConfig(name string) nn.TrainConfig {
	cfg := nn.TrainConfig{Epochs: 3, BatchSize: 64, Seed: 1, Optimizer: nn.NewAdam(3e-3), LRDecay: 0.25}
	if name == "mlp" {
		cfg.Optimizer, cfg.LRDecay = nn.NewAdam(2e-3), 0.5
	}
	return cfg
}
