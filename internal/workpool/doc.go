// Package workpool spreads independent work items over goroutines: the one
// worker pool of ptqspec, used wherever a package fans a loop out over
// GOMAXPROCS.
//
// # Overview
//
// Workers picks a goroutine count; For and ForErr call a function for every
// index of a range, on that many goroutines that pull indices in
// increasing order.
//
// # Invariants
//
//   - Every index in [0, n) is handed to exactly one call (ForErr may skip
//     indices after one has failed).
//   - Results do not depend on the worker count as long as the function
//     writes only what belongs to its index: the pool decides which
//     goroutine runs an index, never what it computes.
//   - ForErr returns the error of the lowest failing index, whatever the
//     worker count and scheduling.
package workpool
