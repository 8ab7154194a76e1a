package ptq

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSensitivityProgressAndCancel checks SensitivityOptions.Progress (one
// call per scored variant: FP32, all int8, and two per layer, counting up
// to the total) and that a cancelled context stops the analysis and the
// fallback with context.Canceled.
func TestSensitivityProgressAndCancel(t *testing.T) {
	task := fragileTask(t)
	var mu sync.Mutex
	var done []int
	var total int
	opts := SensitivityOptions{Progress: func(d, n int) {
		mu.Lock()
		defer mu.Unlock()
		done, total = append(done, d), n
	}}
	rep := analyze(t, task, task.Select, opts)
	want := 2 + 2*len(rep.Layers)
	assert.Equal(t, want, total)
	require.Len(t, done, want)
	for i, d := range done {
		assert.Equal(t, i+1, d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		run  func() error
	}{
		{"sensitivity", func() error {
			_, err := AnalyzeSensitivity(ctx, task.Model, BatchesOf(task.Train.X, 100), dataOf(task.Select), nil)
			return err
		}},
		{"fallback", func() error {
			_, _, err := QuantizeWithBudget(ctx, task.Model, BatchesOf(task.Train.X, 100), dataOf(task.Select), nil)
			return err
		}},
	}
	cases = append(cases, struct {
		name string
		run  func() error
	}{"sensitivity cancelled after the FP32 score", func() error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := AnalyzeSensitivity(ctx, task.Model, BatchesOf(task.Train.X, 100), dataOf(task.Select),
			&SensitivityOptions{Workers: 1, Progress: func(int, int) { cancel() }})
		return err
	}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.run(), context.Canceled)
		})
	}
}
