package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuClock returns the CPU time this process has used: time spent waiting
// for a CPU while other programs run does not count, so a busy machine
// does not inflate the timings.
func cpuClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ts.Nano())
}
