package datasets_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Blobs makes a labelled data set from a seed; Source hands it out in
// batches, the last one short.
func Example() {
	d, err := datasets.Blobs(datasets.BlobsConfig{Samples: 10, Features: 2, Classes: 3, Spread: 0.5, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := d.Source(4)
	fmt.Println("samples:", src.Len())
	for b, err := range src.Batches() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("batch", b.Index, b.X.Shape(), "labels", b.Labels)
	}
	// Output:
	// samples: 10
	// batch 0 [4 2] labels [0 1 2 0]
	// batch 1 [4 2] labels [1 2 0 1]
	// batch 2 [2 2] labels [2 0]
}

// Shuffled reorders a data set by seed; Subset takes a view.
func ExampleDataset_Shuffled() {
	d, _ := datasets.Blobs(datasets.BlobsConfig{Samples: 6, Features: 1, Classes: 6, Spread: 0, Seed: 3})
	s := d.Shuffled(42)
	again := d.Shuffled(42)
	head, _ := s.Subset(0, 3)
	fmt.Println("same order for the same seed:", fmt.Sprint(s.Labels) == fmt.Sprint(again.Labels))
	fmt.Println("a permutation of the labels:", len(s.Labels), "samples,", head.Len(), "in the head")
	// Output:
	// same order for the same seed: true
	// a permutation of the labels: 6 samples, 3 in the head
}

// TensorSource yields fixed, unlabelled calibration batches.
func ExampleTensorSource() {
	a := tensor.New(2, 3)
	b := tensor.New(1, 3)
	src := datasets.TensorSource(a, b)
	for batch, err := range src.Batches() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("batch", batch.Index, batch.X.Shape())
	}
	fmt.Println("samples:", src.Len())
	// Output:
	// batch 0 [2 3]
	// batch 1 [1 3]
	// samples: 3
}

// ReadIDX decodes an IDX stream and names the file and offset of any flaw.
func ExampleReadIDX() {
	file := []byte{0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6}
	x, err := datasets.ReadIDX(bytes.NewReader(file), "tiny-idx2-ubyte")
	fmt.Println(datasets.TypeName(x.Type), x.Dims, x.Float32s(), err)

	_, err = datasets.ReadIDX(bytes.NewReader(file[:15]), "tiny-idx2-ubyte")
	fmt.Println(err)
	fmt.Println(errors.Is(err, datasets.ErrTruncated), errors.Is(err, datasets.ErrCorrupt))
	// Output:
	// uint8 [2 3] [1 2 3 4 5 6] <nil>
	// datasets: tiny-idx2-ubyte: offset 12: truncated data: want 6 bytes (2x3 uint8), got 3
	// true true
}

// WithOutliers scales a fixed fraction of elements: heavy tails for
// comparing calibration methods.
func ExampleWithOutliers() {
	d := datasets.Constant(100, []int{10}, 1)
	o, err := datasets.WithOutliers(d, 0.01, 50, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for _, v := range o.X.Data() {
		if v == 50 {
			n++
		}
	}
	fmt.Println(n, "of", o.X.Len(), "elements are outliers")
	// Output:
	// 10 of 1000 elements are outliers
}
