package main

import (
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
}

func newPhases() *phases { return &phases{start: time.Now(), secs: map[string]float64{}} }

// add records d under name, adding to an earlier phase of that name.
func (p *phases) add(name string, d time.Duration) {
	if _, ok := p.secs[name]; !ok {
		p.names = append(p.names, name)
	}
	p.secs[name] += d.Seconds()
}

// time runs f and records its duration under name.
func (p *phases) time(name string, f func() error) error {
	t := time.Now()
	err := f()
	p.add(name, time.Since(t))
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
