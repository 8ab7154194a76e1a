package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers returns how many goroutines to spread n independent items over:
// limit, or GOMAXPROCS when limit <= 0, but at most n and at least 1.
func Workers(n, limit int) int {
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	return max(1, min(n, limit))
}

// For calls fn(worker, i) for every i in [0, n), on w goroutines that pull
// indices in increasing order. worker is in [0, w) and lets fn keep
// per-worker scratch space. With w <= 1 or n <= 1 it runs inline. fn must
// write only what belongs to index i.
func For(n, w int, fn func(worker, i int)) {
	if w <= 1 || n <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	w = min(w, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for wk := range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(wk, i)
			}
		})
	}
	wg.Wait()
}

// ForErr is For for work that can fail. It returns the error of the
// lowest failing index, or nil. Once an index has failed, indices not yet
// handed out are skipped; every lower index has already been handed out,
// so the result does not depend on scheduling.
func ForErr(n, w int, fn func(worker, i int) error) error {
	if w <= 1 || n <= 1 {
		for i := range n {
			if err := fn(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	w = min(w, n)
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for wk := range w {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(wk, i); err != nil {
					errs[i] = err
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
