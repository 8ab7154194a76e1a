// Package workpool spreads independent work items over goroutines: the one
// worker pool of ptqspec, used wherever a package fans a loop out over
// GOMAXPROCS.
//
// # Overview
//
// Workers picks a goroutine count; For and ForErr call a function for every
// index of a range, on that many goroutines that pull indices in
// increasing order. Team.Split does the same for a few large parts (a
// batch cut in one part per thread) with the caller working as one of the
// goroutines, and spinning briefly at the end rather than sleeping, so
// that one fork and one join cost a few microseconds and no wake-up of a
// sleeping thread in the common case; the team's helpers also spin for a
// short while after a call, so that calls made back to back find them
// running.
//
// # Invariants
//
//   - Every index in [0, n) is handed to exactly one call (ForErr may skip
//     indices after one has failed).
//   - Results do not depend on the worker count as long as the function
//     writes only what belongs to its index: the pool decides which
//     goroutine runs an index, never what it computes.
//   - ForErr and Team.Split return the error of the lowest failing index,
//     whatever the worker count and scheduling.
package workpool
