// Package nn holds neural-network layers, the model graph that connects
// them, training, and a binary save/load format.
//
// # Overview
//
// A Layer (layer.go) is one operation with a forward pass, a backward pass
// and named parameters. The built-in layers are Linear, Conv2D,
// BatchNorm2D, ReLU, MaxPool2D, AvgPool2D, GlobalAvgPool, Flatten, Add,
// Dropout, Softmax, LogSoftmax, Identity and ZeroPad2D (what an imported
// ONNX Pad becomes when no Conv2D absorbs it); each registers its kind so Load
// can rebuild it, and custom layers may do the same with Register.
//
// A Graph is a directed acyclic graph of named nodes, each applying a layer
// to the graph input or to earlier nodes' outputs, with one input and one
// output (the last node). Build one with a Builder,
//
//	g, err := nn.NewBuilder("x", 1, 28, 28).
//		Add("flat", nn.NewFlatten()).
//		Add("fc1", nn.NewLinear(784, 128, rng)).
//		Add("relu1", nn.NewReLU()).
//		Add("fc2", nn.NewLinear(128, 10, rng)).
//		Build()
//
// or, for a plain chain, with Sequential, which names nodes "flatten1",
// "linear1", "relu1", "linear2". Shapes are checked at build time: every
// node knows its per-sample output shape, and errors name the node, as in
// `nn: node "fc2" (Linear): ...`.
//
// Graph.Forward runs a batch [N, InputShape()...]; Graph.Run also shows
// every node's output to a hook, which is how calibration observes
// activations. After a Train-mode Forward, Graph.Backward propagates the
// loss gradient, summing it where a node feeds several consumers, into each
// parameter's Grad. SoftmaxCrossEntropy is the loss; SGD and Adam (with
// PyTorch's update rules) are the optimizers; Fit is the training loop
// (seeded shuffling, mini-batches, optional per-epoch learning-rate decay,
// per-epoch EpochStats); Evaluate and Predict run a data set in Eval mode
// on all processors.
//
// An Eval-mode Forward (Run without a hook) fuses what nobody else sees:
// a Conv2D and the BatchNorm2D, ReLU and MaxPool2D(2, 2) that alone read
// it run as one per-sample pipeline (product, then one vector pass of
// bias, normalization and rectifier, then the pool, while the sample is in
// cache; a channel whose pass ends with the rectifier and only rises with
// its input, a positive normalization scale, is pooled first and its pass
// runs over a quarter of the values, with the same bits), a Flatten
// feeding a Linear passes a view, and the storage of such inner outputs
// is reused by the next pass. Run with a hook runs the
// layers one by one, each with the same vector passes
// (internal/f32gemm's Epilogue and MaxPool2x2).
//
// Save and Load (SaveFile, LoadFile) write and read a model file (see
// Model files below). SaveFile replaces the file atomically.
//
// # Invariants
//
//   - Nodes() is a topological order: a node's inputs are the graph input
//     or nodes before it. Node names are unique, differ from the input's
//     name, and contain neither '.' nor ','.
//   - Parameters and buffers are named "node.param" (for example
//     "fc1.weight"), in node order, each node's in the layer's order.
//   - Eval-mode Forward and Run keep no state on the graph or its layers, so
//     they may run concurrently on one graph. Train-mode passes, Backward,
//     ZeroGrad and optimizer steps must not overlap anything else.
//   - Training is deterministic: the same graph, data, TrainConfig (seed
//     included) and GOMAXPROCS give bit-identical weights, and the built-in
//     layers make the result independent of GOMAXPROCS as well.
//   - The fused Eval-mode pass gives the bits of the layer-by-layer pass:
//     every output element goes through the same float32 and float64
//     operations in the same order (fusing never folds BatchNorm into the
//     convolution's weights). No result handed to a caller shares storage
//     that a later pass reuses.
//   - Evaluate and Predict combine per-batch results in batch order, so
//     their results do not depend on scheduling.
//   - Layers hold no gradients until the first Backward allocates them, so
//     a model built or loaded for inference holds its values only.
//   - In a built graph, no per-sample output or intermediate buffer
//     (Conv2D's im2col matrix) exceeds tensor.MaxElements, and Conv2D's
//     padding is smaller than its kernel (a window is never all padding).
//
// # Model files
//
// Save writes, and Load reads, version 1 of the FP32 model file: magic
// "PTQSPEC\x00", a JSON architecture header, one float32 record per
// parameter and buffer, and a CRC-32; Save documents it byte by byte.
// Load checks the magic (ErrBadMagic), the version (ErrVersion), the
// record structure (ErrTruncated, with the byte offset where the file
// ends) and the checksum (ErrChecksum) before it trusts any content. It
// then builds each layer allowing it no more values than the file holds
// for it, so a header declaring a huge layer is refused before anything
// is allocated (tensor.ErrTooLarge), as is a geometry whose per-sample
// output or intermediate buffer exceeds tensor.MaxElements. It rebuilds
// each layer with the constructor registered for its kind
// (ErrUnknownKind, naming the kind and the node), checks that the
// inferred shapes match the header, and fills every parameter and buffer,
// failing with ErrParamShape on a missing, extra, renamed or misshapen
// tensor. Save refuses a graph with a layer that is not Serializable
// (ErrNotSerializable) or a parameter holding NaN or ±Inf
// (ErrNonFinite), naming the node, before writing anything.
package nn
