//go:build race

package qnn

// raceEnabled is set under the race detector, whose sync.Pool drops a
// random share of the buffers put back: tests of steady-state
// allocations then allow the few allocations that refill it.
const raceEnabled = true
