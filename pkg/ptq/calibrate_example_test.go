package ptq_test

import (
	"context"
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Convergence is re-evaluated after every batch: here three calm batches
// converge at batch 3, a batch 3% wider than any before loses it at batch
// 4, and three calm batches regain it at batch 7.
func ExampleCalibrator_Converged() {
	fc := nn.NewLinear(2, 1, nil)
	copy(fc.Weight.Value.Data(), []float32{1, 1})
	fc.Bias.Value.Fill(0)
	g, err := nn.NewBuilder("input", 2).Add("fc", fc).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	batch := func(a float32) *tensor.Tensor {
		x, _ := tensor.FromData([]float32{-a, a, a, a}, 2, 2)
		return x
	}
	var xs []*tensor.Tensor
	for _, a := range []float32{1, 1, 1, 1, 1.03, 1, 1, 1} {
		xs = append(xs, batch(a))
	}
	src := func(yield func(*tensor.Tensor, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
	pr, err := ptq.Prepare(g, &ptq.Config{Calibration: ptq.CalibrationOptions{Tolerance: 0.01, Patience: 3}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pr.Run(context.Background(), src); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range pr.History() {
		line := fmt.Sprintf("batch %d: change %.1f%%, converged %v", s.Batch, 100*s.MaxScaleChange, s.Converged)
		if s.Event != "" {
			line += " (" + string(s.Event) + ")"
		}
		fmt.Println(line)
	}
	ok, since := pr.Converged()
	fmt.Printf("converged at the end: %v, since batch %d; first converged at batch %d\n", ok, since, pr.FirstConverged())
	// Output:
	// batch 0: change 0.0%, converged false
	// batch 1: change 0.0%, converged false
	// batch 2: change 0.0%, converged false
	// batch 3: change 0.0%, converged true (converged)
	// batch 4: change 3.0%, converged false (lost)
	// batch 5: change 0.0%, converged false
	// batch 6: change 0.0%, converged false
	// batch 7: change 0.0%, converged true (regained)
	// converged at the end: true, since batch 7; first converged at batch 3
}
