package nn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFitBatchHook checks TrainConfig.Batch: called after every batch
// with the running count and the total over all epochs, and an error
// from it stops Fit before the next batch, wrapped with where it stopped.
func TestFitBatchHook(t *testing.T) {
	x, labels := blobs(51, 10, 4) // batches of 4: 3 per epoch
	cases := []struct {
		name      string
		stopAfter int // 0: never
		wantCalls int
		wantStats int // epochs completed
	}{
		{"every batch of 2 epochs", 0, 6, 2},
		{"stopped in epoch 1", 2, 2, 0},
		{"stopped after the last batch of epoch 1, before its stats", 3, 3, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls []int
			cfg := TrainConfig{Epochs: 2, BatchSize: 4, Optimizer: NewSGD(0.1, 0), Batch: func(done, total int) error {
				calls = append(calls, done)
				assert.Equal(t, 6, total)
				if done == c.stopAfter {
					return context.Canceled
				}
				return nil
			}}
			stats, err := Fit(mlp(1, 4), x, labels, cfg)
			if c.stopAfter > 0 {
				require.ErrorIs(t, err, context.Canceled)
				assert.Contains(t, err.Error(), "nn: train: stopped after epoch")
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, calls, c.wantCalls)
			for i, d := range calls {
				assert.Equal(t, i+1, d)
			}
			assert.Len(t, stats, c.wantStats)
		})
	}
}
