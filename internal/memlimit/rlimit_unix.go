//go:build unix

package memlimit

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setAddressSpaceLimit sets a hard RLIMIT_AS of limit bytes beyond the
// address space the process has already mapped (a Go process reserves
// about 1 GB of address space before it allocates anything), unless the
// race detector is on or the mapped size cannot be read.
func setAddressSpaceLimit(limit uint64) error {
	if raceEnabled {
		return errRace
	}
	mapped, err := mappedBytes()
	if err != nil {
		return err
	}
	return unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: mapped + limit, Max: mapped + limit})
}

// mappedBytes returns the process's virtual memory size (VmSize in
// /proc/self/status).
func mappedBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}
