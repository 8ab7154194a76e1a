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

// spinFor bounds how long Split's caller spins for its helpers to
// finish before it sleeps: about what sleeping costs. Parking the caller
// costs little, but waking it costs the goroutine that finishes last a
// futex wake of an idle thread (measured at 7 µs on the project's 2-vCPU
// machine, on a 28 µs part), so a wait expected to be shorter than that
// is spun and a longer one slept (spin-then-block): parts of equal size
// on idle cores end within a few microseconds of each other, while on a
// loaded machine, where a helper may wait for a core, the caller does not
// burn the core the helper needs.
const spinFor = 15 * time.Microsecond

// Split calls fn(i) for every i in [0, n), on the calling goroutine and
// on at most w-1 goroutines started for the call, which pull indices in
// increasing order; with w <= 1 or n <= 1 it runs inline. It is ForErr
// for a few large parts (a batch cut in one part per thread): the caller
// works instead of waiting, and an index no helper has started yet is run
// by whichever goroutine gets to it first, so a helper that the scheduler
// starts late costs nothing but its start (it then finds no index left,
// possibly after Split has returned). Once every index is handed out, the
// caller spins if the parts still running should end within spinFor (by
// its own part's duration), else, or when they overrun, it sleeps until
// the helpers are done. It returns the error of the lowest failing index, or nil; once an
// index has failed, indices not yet handed out are skipped.
func Split(n, w int, fn func(i int) error) error {
	_, err := split2(n, w, fn)
	return err
}

// inline runs fn on every index in order on the calling goroutine.
func inline(n int, fn func(i int) error) error {
	for i := range n {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

// split2 is Split; it also reports whether a helper ran an index.
func split2(n, w int, fn func(i int) error) (bool, error) {
	if w <= 1 || n <= 1 {
		return false, inline(n, fn)
	}
	w = min(w, n)
	s := &split{n: n, fn: fn, errs: make([]error, n), t0: time.Now()}
	s.wg.Add(w - 1)
	for range w - 1 {
		go s.helper()
	}
	// A new goroutine goes to its P's runnext slot, which an idle P steals
	// only after sleeping (usleep(3), some 30 us on the project's VM, whose
	// timers are coarse): the caller keeps its P busy, so the last helper
	// would start that late. Starting one more, empty, goroutine moves it
	// to the run queue, from which an idle P takes it at once.
	go noop()
	last, mine := s.work()
	if s.failed.Load() || !s.spin(last) {
		s.wg.Wait()
	}
	helped := int(s.done.Load()) > mine
	for _, err := range s.errs {
		if err != nil {
			return helped, err
		}
	}
	return helped, nil
}

// noop is the empty goroutine Split starts after its helpers.
func noop() {}

// split is the shared state of one Split call.
type split struct {
	n      int
	fn     func(int) error
	errs   []error
	t0     time.Time
	next   atomic.Int64
	failed atomic.Bool
	// done counts the indices whose call has returned; started is when
	// (since t0, in ns) a helper last started a call.
	done, started atomic.Int64
	wg            sync.WaitGroup
}

// work runs indices until none is left or one has failed, and returns
// how long its last call took and how many it ran.
func (s *split) work() (last time.Duration, ran int) {
	for !s.failed.Load() {
		i := int(s.next.Add(1) - 1)
		if i >= s.n {
			break
		}
		begin := time.Since(s.t0)
		s.started.Store(int64(begin))
		if err := s.fn(i); err != nil {
			s.errs[i] = err
			s.failed.Store(true)
		}
		last = time.Since(s.t0) - begin
		s.done.Add(1)
		ran++
	}
	return last, ran
}

// helper is the body of a started goroutine. Its writes happen before
// its increments of done, which the caller reads (and before wg.Done,
// which the caller may wait for).
func (s *split) helper() {
	s.work()
	s.wg.Done()
}

// spin waits for every index to be done if the call started last (a
// helper's, or the caller's own) should end within spinFor: by its start
// plus last, the duration of the caller's own last call, plus a margin
// of last/16 (at most 5 µs) and 2 µs; it spins until that expected end
// at the latest. It reports whether every index was done.
func (s *split) spin(last time.Duration) bool {
	now := time.Since(s.t0)
	end := time.Duration(s.started.Load()) + last + min(last/16, 5*time.Microsecond) + 2*time.Microsecond
	if end-now > spinFor {
		return s.done.Load() == int64(s.n)
	}
	for i := 1; ; i++ {
		if s.done.Load() == int64(s.n) {
			return true
		}
		if i%64 == 0 && time.Since(s.t0) > end {
			return false
		}
	}
}

// teamLinger is how long a Team's helper spins for the next call before
// it exits: about the gap between two batches of a caller that runs
// batches back to back.
const teamLinger = 200 * time.Microsecond

// Team is Split with helpers that outlive a call: after its last index a
// helper spins for teamLinger waiting for the caller's next call, so that
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
	s := &split{n: n, fn: fn, errs: make([]error, n), t0: time.Now()}
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
