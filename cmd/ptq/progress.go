package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Progress bars of the long phases (training batches, calibration
// batches, evaluation batches, sensitivity variants, report files). The
// library reports progress through plain callbacks (nn.TrainConfig.Batch,
// modelcache.Options.Batch, ptq.SensitivityOptions.Progress, report's
// WriteFiles); only this file knows mpb.

// stepDelayEnv names a test hook: when it holds a duration ("50ms"), or
// a phase and a duration ("calibrate=50ms"), every phase prints "ptq:
// phase NAME (N steps)" on stderr as it starts, and the start and every
// step (a batch, a variant, a file) of every phase, or of the phase
// named, sleep that long. The interrupt test uses it to send a signal in
// the middle of a given phase.
const stepDelayEnv = "PTQSPEC_TEST_STEP_DELAY"

// progress draws one bar per phase on a terminal, and nothing elsewhere.
type progress struct {
	p      *mpb.Progress // nil: no bars
	log    io.Writer     // phase lines of the test hook, or nil
	delay  time.Duration // test hook: sleep per step
	slow   string        // test hook: the phase that sleeps, "" for all
	logMu  sync.Mutex
	closed bool
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress returns the bars of a command writing its errors to
// stderr: drawn when stderr is a terminal, unless quiet or json is set.
func newProgress(stderr io.Writer, quiet, json bool) *progress {
	return newProgressTo(stderr, !quiet && !json && isTerminal(stderr))
}

// newProgressTo returns bars drawn on w when on is set (as on a terminal,
// whatever w is), or no bars. The test hook of stepDelayEnv is read here.
func newProgressTo(w io.Writer, on bool) *progress {
	pr := &progress{}
	if on {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithWidth(60), mpb.WithRefreshRate(150*time.Millisecond))
	}
	hook := os.Getenv(stepDelayEnv)
	slow, dur, ok := strings.Cut(hook, "=")
	if !ok {
		slow, dur = "", hook
	}
	if d, err := time.ParseDuration(dur); err == nil && d > 0 {
		pr.delay, pr.log, pr.slow = d, w, slow
	}
	return pr
}

// bar is the progress of one phase.
type bar struct {
	pr    *progress
	b     *mpb.Bar      // nil without bars
	delay time.Duration // test hook: sleep per step
	mu    sync.Mutex
	total int
}

// phase starts the bar of a phase of total steps (a guess that set may
// correct); label names it on screen.
func (pr *progress) phase(label string, total int) *bar {
	if pr == nil {
		return &bar{}
	}
	if pr.log != nil {
		pr.logMu.Lock()
		fmt.Fprintf(pr.log, "ptq: phase %s (%d steps)\n", label, total)
		pr.logMu.Unlock()
	}
	b := &bar{pr: pr, total: total}
	if pr.slow == "" || pr.slow == label {
		b.delay = pr.delay
		time.Sleep(b.delay) // lets a signal land before the first step
	}
	if pr.p != nil && !pr.closed {
		b.b = pr.p.New(int64(total), mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.AverageSpeed(0, "%.1f/s", decor.WCSyncSpace),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), "done")),
		)
	}
	return b
}

// set records done steps of total (total may change: the fallback stops
// early, a second calibration pass adds none).
func (b *bar) set(done, total int) {
	if b == nil || b.pr == nil {
		return
	}
	if b.b != nil {
		b.mu.Lock()
		if total != b.total {
			b.total = total
			b.b.SetTotal(int64(total), false)
		}
		b.b.SetCurrent(int64(min(done, total)))
		b.mu.Unlock()
	}
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
}

// finish completes the bar at its current count, or drops it when the
// phase failed.
func (b *bar) finish(err error) {
	if b == nil || b.b == nil {
		return
	}
	if err != nil {
		b.b.Abort(false)
		return
	}
	b.b.SetTotal(-1, true)
}

// wait waits for the bars to be drawn for the last time; no bar starts
// after it.
func (pr *progress) wait() {
	if pr == nil || pr.p == nil || pr.closed {
		return
	}
	pr.closed = true
	pr.p.Wait()
}
