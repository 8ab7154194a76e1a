package workpool

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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

// spinFor bounds how long Team.Split's caller spins for its helpers to
// finish before it sleeps: about what sleeping costs. Parking the caller
// costs little, but waking it costs the goroutine that finishes last a
// futex wake of an idle thread (measured at 7 µs on the project's 2-vCPU
// machine, on a 28 µs part), so a wait expected to be shorter than that
// is spun and a longer one slept (spin-then-block): parts of equal size
// on idle cores end within a few microseconds of each other, while on a
// loaded machine, where a helper may wait for a core, the caller does not
// burn the core the helper needs.
const spinFor = 15 * time.Microsecond

// inline runs fn on every index in order on the calling goroutine.
func inline(n int, fn func(i int) error) error {
	for i := range n {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

// split is the shared state of one Team.Split call.
type split struct {
	n      int
	fn     func(int) error
	errs   []error
	next   atomic.Int64
	failed atomic.Bool
	// done counts the indices whose call has returned.
	done atomic.Int64
}

// work runs indices until none is left or one has failed.
func (s *split) work() {
	for !s.failed.Load() {
		i := int(s.next.Add(1) - 1)
		if i >= s.n {
			break
		}
		if err := s.fn(i); err != nil {
			s.errs[i] = err
			s.failed.Store(true)
		}
		s.done.Add(1)
	}
}

// teamLinger is how long a Team's helper spins for the next call before
// it exits: about the gap between two batches of a caller that runs
// batches back to back.
const teamLinger = 200 * time.Microsecond

// Team splits a call into a few large parts (a batch cut in one part per
// thread), run by the calling goroutine and helpers that outlive a call:
// after its last index a helper spins for teamLinger waiting for the caller's next call, so that
// back-to-back calls (a model run batch after batch) find it running
// instead of waking a sleeping thread. Waking the idle second vCPU of the
// project's VM took 10-30 us, as long as half of a batch of the int8 MLP,
// so the caller ran both halves itself (ONNX Runtime's threads spin in
// the same way between runs). A helper that is not needed exits after
// teamLinger; the caller claims every index a helper has not started, so
// a late or absent helper costs nothing but its start. The zero value is
// ready to use and safe for concurrent use. It returns the error of the
// lowest failing index, or nil; once an index has failed, indices not yet
// handed out are skipped.
type Team struct {
	job     atomic.Pointer[split]
	helpers atomic.Int32 // helper goroutines alive
}

// Split calls fn(i) for every i in [0, n) on the calling goroutine and
// the team's helpers, up to w-1 of them (started when missing); with
// w <= 1 or n <= 1 it runs inline.
func (t *Team) Split(n, w int, fn func(i int) error) error {
	if w <= 1 || n <= 1 {
		return inline(n, fn)
	}
	s := &split{n: n, fn: fn, errs: make([]error, n)}
	t.job.Store(s)
	for want := int32(min(w, n) - 1); t.helpers.Load() < want; {
		if t.helpers.Add(1) > want {
			t.helpers.Add(-1)
			break
		}
		go t.helper()
	}
	s.work()
	// Close the call: an index handed out from now on is past the end.
	claimed := int64(min(s.next.Swap(math.MaxInt64/2), int64(n)))
	t.job.CompareAndSwap(s, nil)
	start := time.Now()
	for i := 1; s.done.Load() != claimed; i++ {
		if i%64 == 0 && time.Since(start) > spinFor {
			time.Sleep(5 * time.Microsecond)
		}
	}
	for _, err := range s.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// helper runs the indices of each new call published in t.job, and
// exits when none came for teamLinger. Every 64 polls it yields its P,
// so that it never holds up a caller that shares it (GOMAXPROCS 1).
func (t *Team) helper() {
	defer t.helpers.Add(-1)
	var last *split
	idle := time.Now()
	for i := 1; ; i++ {
		if s := t.job.Load(); s != nil && s != last {
			last = s
			s.work()
			idle = time.Now()
			continue
		}
		if i%64 == 0 {
			if time.Since(idle) > teamLinger {
				return
			}
			runtime.Gosched()
		}
	}
}
