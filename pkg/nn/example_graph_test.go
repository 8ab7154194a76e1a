package nn_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// A small residual graph: "sum" reads two nodes, and "fc1" feeds two
// consumers.
func ExampleNewBuilder() {
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := nn.NewBuilder("x", 8).
		Add("fc1", nn.NewLinear(8, 8, rng)).
		Add("relu1", nn.NewReLU()).
		Add("fc2", nn.NewLinear(8, 8, rng)).
		Add("sum", nn.NewAdd(), "fc2", "fc1").
		Add("head", nn.NewLinear(8, 3, rng)).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(g.Summary())
	fmt.Println("consumers of fc1:", g.Consumers("fc1"))
	// Output:
	// NAME   KIND    INPUTS   OUTPUT  PARAMS
	// x      Input   -        [8]     0
	// fc1    Linear  x        [8]     72
	// relu1  ReLU    fc1      [8]     0
	// fc2    Linear  relu1    [8]     72
	// sum    Add     fc2,fc1  [8]     0
	// head   Linear  sum      [3]     27
	// 5 nodes, 171 trainable parameters
	// consumers of fc1: [relu1 sum]
}

// Shapes are checked as nodes are added; the error names the node.
func ExampleBuilder_Build_shapeError() {
	_, err := nn.NewBuilder("x", 1, 28, 28).
		Add("flat", nn.NewFlatten()).
		Add("fc1", nn.NewLinear(100, 10, nil)).
		Build()
	fmt.Println(err != nil)
	// Output:
	// true
}

func ExampleSequential() {
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := nn.Sequential([]int{1, 4, 4},
		nn.NewConv2D(1, 2, 3, 1, 1, rng), nn.NewReLU(),
		nn.NewFlatten(), nn.NewLinear(32, 4, rng), nn.NewReLU(), nn.NewLinear(4, 2, rng))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range g.Nodes() {
		fmt.Println(n.Name, n.Shape)
	}
	for _, p := range g.Params()[:2] {
		fmt.Println(p.Name, p.Value.Shape())
	}
	// Output:
	// conv2d1 [2 4 4]
	// relu1 [2 4 4]
	// flatten1 [32]
	// linear1 [4]
	// relu2 [4]
	// linear2 [2]
	// conv2d1.weight [2 1 3 3]
	// conv2d1.bias [2]
}

func ExampleSoftmaxCrossEntropy() {
	logits := tensor.MustFromData([]float32{2, 0, 0, 0, 0, 0}, 2, 3)
	loss, grad, err := nn.SoftmaxCrossEntropy(logits, []int{0, 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f\n", loss)
	fmt.Printf("grad row 1 %.4f\n", grad.Data()[3:])
	_, _, err = nn.SoftmaxCrossEntropy(logits, []int{0, 3})
	fmt.Println(err)
	// Output:
	// loss 0.6691
	// grad row 1 [0.1667 -0.3333 0.1667]
	// nn: softmax cross-entropy: sample 1: label 3 out of range [0, 3): bad label
}

// Train a small classifier on a synthetic two-class problem: the class is
// whether the first feature is positive.
func ExampleFit() {
	rng := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(512, 2)
	labels := make([]int, 512)
	for i := range labels {
		a, b := rng.Float32()*2-1, rng.Float32()*2-1
		x.Set(a, i, 0)
		x.Set(b, i, 1)
		if a > 0 {
			labels[i] = 1
		}
	}
	g, err := nn.Sequential([]int{2}, nn.NewLinear(2, 16, rng), nn.NewReLU(), nn.NewLinear(16, 2, rng))
	if err != nil {
		fmt.Println(err)
		return
	}
	stats, err := nn.Fit(g, x, labels, nn.TrainConfig{Epochs: 10, BatchSize: 32, Seed: 5, Optimizer: nn.NewAdam(0.01)})
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, _, err := nn.Evaluate(g, x, labels, 128)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("epochs:", len(stats))
	fmt.Println("loss fell:", stats[9].Loss < stats[0].Loss)
	fmt.Println("accuracy above 95%:", acc > 0.95)
	// Output:
	// epochs: 10
	// loss fell: true
	// accuracy above 95%: true
}

func ExampleLoad() {
	rng := rand.New(rand.NewPCG(1, 2))
	g, err := nn.Sequential([]int{4}, nn.NewLinear(4, 3, rng), nn.NewReLU(), nn.NewLinear(3, 2, rng))
	if err != nil {
		fmt.Println(err)
		return
	}
	var file bytes.Buffer
	if err := nn.Save(&file, g); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := nn.Load(bytes.NewReader(file.Bytes()))
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.MustFromData([]float32{1, -2, 3, 0.5}, 1, 4)
	a, _ := g.Forward(x, nn.Eval)
	b, _ := loaded.Forward(x, nn.Eval)
	fmt.Println("same output:", slices.Equal(a.Data(), b.Data()))

	corrupt := bytes.Clone(file.Bytes())
	corrupt[len(corrupt)-10] ^= 1
	_, err = nn.Load(bytes.NewReader(corrupt))
	fmt.Println(err != nil)
	_, err = nn.Load(bytes.NewReader(file.Bytes()[:50]))
	fmt.Println(err)
	// Output:
	// same output: true
	// true
	// nn: load: truncated file: the architecture header needs 329 bytes at byte offset 16, but the file ends at byte 50
}
