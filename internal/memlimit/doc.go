// Package memlimit runs a piece of a test in a child process under a hard
// memory limit, so that a loader that trusts a hostile file fails the test
// instead of taking the machine down.
//
// # Overview
//
// A test passes its cases to Test, which re-executes the test binary with
// -test.run selecting the same test and a marker in the environment. In
// the child, the same call to Test runs the cases: it sets
// debug.SetMemoryLimit and, where the platform has one and the race
// detector is off (it reserves terabytes of address space), a hard
// RLIMIT_AS of the same size beyond what the process has already mapped,
// then runs each case and prints one result line for it (the error,
// whether it matched the expected type, the heap bytes allocated and the
// time taken). The parent parses them and checks each case in a subtest:
// the typed error, at most MaxTime, at most Slack bytes beyond the
// input's size.
//
// # Invariants
//
//   - A child that dies (out of memory, a panic, a fatal error) fails the
//     cases it did not finish, with its output in the error; a child that
//     hangs is killed after two minutes.
//   - The allocation reported is runtime.MemStats.TotalAlloc across the
//     case only, so it counts every allocation, freed or not.
package memlimit
