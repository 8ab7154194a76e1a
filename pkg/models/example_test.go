package models_test

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/models"
)

func ExampleByName() {
	g, err := models.ByName("cnn", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(g.Summary())
	_, err = models.ByName("vgg", 1)
	fmt.Println(err)
	// Output:
	// NAME          KIND         INPUTS        OUTPUT      PARAMS
	// input         Input        -             [1 28 28]   0
	// conv2d1       Conv2D       input         [16 28 28]  160
	// batchnorm2d1  BatchNorm2D  conv2d1       [16 28 28]  32
	// relu1         ReLU         batchnorm2d1  [16 28 28]  0
	// maxpool2d1    MaxPool2D    relu1         [16 14 14]  0
	// conv2d2       Conv2D       maxpool2d1    [32 14 14]  4640
	// batchnorm2d2  BatchNorm2D  conv2d2       [32 14 14]  64
	// relu2         ReLU         batchnorm2d2  [32 14 14]  0
	// maxpool2d2    MaxPool2D    relu2         [32 7 7]    0
	// flatten1      Flatten      maxpool2d2    [1568]      0
	// linear1       Linear       flatten1      [10]        15690
	// 10 nodes, 20586 trainable parameters
	// models: unknown model "vgg" (known: cnn, mlp, residual)
}

func ExampleResidualCNN() {
	g, err := models.ResidualCNN(1, 3, 16, 16, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	add, _ := g.Node("block_add")
	fmt.Println("skip connection:", add.Inputs)
	fmt.Println("stem_relu feeds:", g.Consumers("stem_relu"))
	fmt.Println("output:", g.Output(), g.OutputShape())
	// Output:
	// skip connection: [block_bn2 stem_relu]
	// stem_relu feeds: [block_conv1 block_add]
	// output: fc [5]
}

func ExampleDefaultTrainConfig() {
	cfg := models.DefaultTrainConfig("cnn")
	fmt.Printf("%d epochs, batches of %d, %T\n", cfg.Epochs, cfg.BatchSize, cfg.Optimizer)
	// Output:
	// 3 epochs, batches of 64, *nn.Adam
}
