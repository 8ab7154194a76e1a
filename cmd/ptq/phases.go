package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// phases records the wall-clock seconds of each phase of a command, in
// the order they ran.
type phases struct {
	start time.Time
	names []string
	secs  map[string]float64
	// ctx, when set, stops the phases: a phase does not start once it is
	// cancelled, and a phase's error after the cancellation becomes an
	// interruptError naming it.
	ctx context.Context
	// prog draws the bars of the phases run with step (nil: none).
	prog *progress
}

func newPhases() *phases { return &phases{start: time.Now(), secs: map[string]float64{}} }

// add records d under name, adding to an earlier phase of that name.
func (p *phases) add(name string, d time.Duration) {
	if _, ok := p.secs[name]; !ok {
		p.names = append(p.names, name)
	}
	p.secs[name] += d.Seconds()
}

// watch makes ctx stop the phases and prog draw their bars.
func (p *phases) watch(ctx context.Context, prog *progress) *phases {
	p.ctx, p.prog = ctx, prog
	return p
}

// time runs f and records its duration under name. Once p's context is
// cancelled it runs nothing, and f's error becomes an interruptError.
func (p *phases) time(name string, f func() error) error {
	if p.ctx != nil && p.ctx.Err() != nil {
		return interrupted(p.ctx, name, p.ctx.Err())
	}
	t := time.Now()
	err := f()
	p.add(name, time.Since(t))
	return interrupted(p.ctx, name, err)
}

// step is time with a progress bar of total steps, which f advances.
func (p *phases) step(name string, total int, f func(b *bar) error) error {
	var b *bar
	err := p.time(name, func() error {
		b = p.prog.phase(strings.ReplaceAll(name, "_", " "), total)
		return f(b)
	})
	b.finish(err)
	return err
}

// total returns the seconds since the command started.
func (p *phases) total() float64 { return time.Since(p.start).Seconds() }

// String lists the phases in order, "load data 0.81 s, calibrate 0.03 s".
func (p *phases) String() string {
	parts := make([]string, len(p.names))
	for i, n := range p.names {
		parts[i] = fmt.Sprintf("%s %s", strings.ReplaceAll(n, "_", " "), seconds(p.secs[n]))
	}
	return strings.Join(parts, ", ")
}

// seconds renders a duration readably: "<1 ms", "25 ms", "1.4 s", "12 s".
func seconds(s float64) string {
	switch {
	case s < 0.001:
		return "<1 ms"
	case s < 1:
		return fmt.Sprintf("%.0f ms", 1000*s)
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}
