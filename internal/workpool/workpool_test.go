package workpool

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkers(t *testing.T) {
	cases := []struct {
		name         string
		n, limit     int
		want, atMost int // want > 0: exact; else at most atMost
	}{
		{"limit below n", 10, 3, 3, 0},
		{"n below limit", 2, 8, 2, 0},
		{"no items still one worker", 0, 4, 1, 0},
		{"GOMAXPROCS by default", 1000, 0, 0, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Workers(c.n, c.limit)
			if c.want > 0 {
				assert.Equal(t, c.want, got)
				return
			}
			assert.GreaterOrEqual(t, got, 1)
			assert.LessOrEqual(t, got, c.atMost)
		})
	}
}

// TestForEveryIndexOnce checks that every index runs exactly once and that
// a per-index reduction gives the same bits for any worker count.
func TestForEveryIndexOnce(t *testing.T) {
	const n = 1000
	var ref []float32
	for _, w := range []int{1, 2, 3, 7, 64} {
		t.Run(fmt.Sprintf("%d workers", w), func(t *testing.T) {
			counts := make([]atomic.Int32, n)
			out := make([]float32, n)
			For(n, w, func(worker, i int) {
				require.Less(t, worker, w)
				counts[i].Add(1)
				s := float32(0)
				for k := range i + 1 {
					s += float32(math.Sin(float64(k)))
				}
				out[i] = s
			})
			for i := range counts {
				require.Equal(t, int32(1), counts[i].Load(), "index %d", i)
			}
			if ref == nil {
				ref = out
			}
			assert.Equal(t, ref, out)
		})
	}
}

// TestForErrLowestIndex checks that the error of the lowest failing index
// is returned, for any worker count.
func TestForErrLowestIndex(t *testing.T) {
	errBad := errors.New("bad")
	cases := []struct {
		name    string
		failing []int
		want    string
	}{
		{"none", nil, ""},
		{"one", []int{37}, "item 37"},
		{"several", []int{90, 12, 55}, "item 12"},
		{"the first", []int{0, 99}, "item 0"},
	}
	for _, c := range cases {
		for _, w := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s, %d workers", c.name, w), func(t *testing.T) {
				err := ForErr(100, w, func(_, i int) error {
					for _, f := range c.failing {
						if i == f {
							return fmt.Errorf("item %d: %w", i, errBad)
						}
					}
					return nil
				})
				if c.want == "" {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, errBad)
				assert.EqualError(t, err, c.want+": bad")
			})
		}
	}
}

// TestForInlineDoesNotAllocate checks that one worker runs the loop in
// place, so that alloc-free callers stay alloc-free on one thread.
func TestForInlineDoesNotAllocate(t *testing.T) {
	sum := 0
	fn := func(_, i int) { sum += i }
	allocs := testing.AllocsPerRun(100, func() { For(64, 1, fn) })
	assert.Zero(t, allocs)
	assert.Equal(t, 100*(63*64/2)+63*64/2, sum) // 100 runs plus the warm-up
}

// TestTeamLowestIndexError checks that Team.Split returns the error of the
// lowest failing index, for any worker count.
func TestTeamLowestIndexError(t *testing.T) {
	errBad := errors.New("bad")
	cases := []struct {
		name    string
		failing []int
		want    string
	}{
		{"none", nil, ""},
		{"one", []int{3}, "part 3"},
		{"several", []int{7, 1, 5}, "part 1"},
		{"the first", []int{0, 7}, "part 0"},
	}
	var team Team
	for _, c := range cases {
		for _, w := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s, %d workers", c.name, w), func(t *testing.T) {
				err := team.Split(8, w, func(i int) error {
					for _, f := range c.failing {
						if i == f {
							return fmt.Errorf("part %d: %w", i, errBad)
						}
					}
					return nil
				})
				if c.want == "" {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, errBad)
				assert.EqualError(t, err, c.want+": bad")
			})
		}
	}
}

// TestTeamInlineDoesNotAllocate checks that one worker runs the parts in
// place.
func TestTeamInlineDoesNotAllocate(t *testing.T) {
	var team Team
	sum := 0
	fn := func(i int) error { sum += i; return nil }
	allocs := testing.AllocsPerRun(100, func() { _ = team.Split(4, 1, fn) })
	assert.Zero(t, allocs)
	assert.Equal(t, 101*6, sum)
}

// TestTeamEveryIndexOnce runs calls back to back and after the helpers
// have exited: every index runs exactly once per call, results do not
// depend on the worker count, including a part that outlasts the caller's
// spin (the caller then sleeps until it is done), and the lowest failing
// index's error is returned.
func TestTeamEveryIndexOnce(t *testing.T) {
	var team Team
	cases := []struct {
		name  string
		n, w  int
		pause time.Duration // before the call: 0 finds the helper spinning
		slow  time.Duration // how long index 1 takes
	}{
		{"inline", 5, 1, 0, 0},
		{"two parts, helper started", 2, 2, 0, 0},
		{"two parts, helper spinning", 2, 2, 0, 0},
		{"more parts than goroutines", 9, 3, 0, 0},
		{"after the helpers exited", 4, 2, 4 * teamLinger, 0},
		{"more goroutines than parts", 3, 8, 0, 0},
		{"a part longer than the spin", 2, 2, 0, 4 * spinFor},
		{"no parts", 0, 2, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			time.Sleep(c.pause)
			counts := make([]atomic.Int32, c.n)
			out := make([]int, c.n)
			require.NoError(t, team.Split(c.n, c.w, func(i int) error {
				if i == 1 {
					time.Sleep(c.slow)
				}
				counts[i].Add(1)
				out[i] = i * i
				return nil
			}))
			for i := range c.n {
				assert.Equal(t, int32(1), counts[i].Load(), "index %d", i)
				assert.Equal(t, i*i, out[i], "index %d", i)
			}
		})
	}
	errBad := errors.New("bad")
	err := team.Split(8, 2, func(i int) error {
		if i == 5 || i == 3 {
			return fmt.Errorf("part %d: %w", i, errBad)
		}
		return nil
	})
	assert.ErrorIs(t, err, errBad)
	assert.EqualError(t, err, "part 3: bad")
}

// TestTeamHelpersExit checks that idle helpers exit after teamLinger.
func TestTeamHelpersExit(t *testing.T) {
	var team Team
	require.NoError(t, team.Split(4, 2, func(int) error { return nil }))
	deadline := time.Now().Add(time.Second)
	for team.helpers.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(teamLinger)
	}
	assert.Zero(t, team.helpers.Load(), "helpers alive a second after the last call")
}
