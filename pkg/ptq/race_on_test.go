//go:build race

package ptq

// raceEnabled is set under the race detector, whose sync.Pool drops a
// random share of what is put back: allocation tests allow the refills.
const raceEnabled = true
