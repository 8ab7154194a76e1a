//go:build !linux

package bench

import "time"

// start is the origin of cpuClock.
var start = time.Now()

// cpuClock returns the time since the package started: where the process
// CPU time is not read, wall time stands in for it.
func cpuClock() time.Duration { return time.Since(start) }
