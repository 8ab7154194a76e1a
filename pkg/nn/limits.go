package nn

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// reserve checks, before a constructor allocates them, that tensors of the
// given shapes hold at most limit values together (and each at most
// tensor.MaxElements), with overflow-checked arithmetic. Its error wraps
// tensor.ErrTooLarge and names the layer kind and the sizes.
func reserve(kind string, limit int, shapes ...[]int) error {
	total := 0
	for _, s := range shapes {
		n, err := tensor.Numel(s)
		if err != nil {
			return fmt.Errorf("nn: %s: parameter of shape %v: %w", kind, s, err)
		}
		total += n // at most len(shapes)·MaxElements: no overflow
	}
	if total > limit {
		return fmt.Errorf("nn: %s: parameters and buffers of shapes %v hold %d values, more than the %d allowed (the values the file holds): %w",
			kind, shapes, total, limit, tensor.ErrTooLarge)
	}
	return nil
}

// checkElements refuses a per-sample tensor (an output or an intermediate
// buffer, named by what) whose element count tensor.Numel refuses.
func checkElements(kind, what string, shape ...int) error {
	if _, err := tensor.Numel(shape); err != nil {
		return fmt.Errorf("nn: %s: %s of shape %v per sample: %w", kind, what, shape, err)
	}
	return nil
}
