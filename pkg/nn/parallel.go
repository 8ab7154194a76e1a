package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workers returns how many goroutines to spread n independent items over.
func workers(n int) int {
	return max(1, min(n, runtime.GOMAXPROCS(0)))
}

// parallelFor calls fn(worker, i) for every i in [0, n), spread over w
// goroutines (w from workers(n)) that pull indices in turn. worker is in
// [0, w) and lets fn use per-worker scratch space. Results must not depend on
// which worker handles which index: fn writes only what belongs to i.
func parallelFor(n, w int, fn func(worker, i int)) {
	if w <= 1 || n <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for wk := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(wk, i)
			}
		}()
	}
	wg.Wait()
}
