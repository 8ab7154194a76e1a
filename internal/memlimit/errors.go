package memlimit

import "errors"

// errRace reports that RLIMIT_AS was not set because the race detector
// reserves more address space than any useful limit.
var errRace = errors.New("the race detector is on")
