// Package mutate checks that the executable specification catches faults:
// it applies small, deliberate faults to the library one at a time and
// runs the @fast features on each, expecting at least one scenario to
// fail.
//
// # Overview
//
// A Fault is one edit of one file: an exact piece of source (Old) that
// must occur exactly once in the file, replaced by New. Faults lists the
// faults `make mutate` applies. Fault.Apply makes the edit in memory and
// WriteOverlay writes the faulted file and a `go build -overlay` JSON file
// that maps the original path to it, so the shared source tree is never
// touched: `go test -overlay=FILE -c ./steps` compiles a test binary with
// the fault in it. Runner builds such binaries and runs the features with
// a cucumber JSON report, and ParseCucumber reads which scenarios failed.
// The command scripts/mutate puts these together and prints, for each
// fault, the scenarios that caught it.
//
// # Invariants
//
//   - A fault whose Old text is absent, or present more than once, does not
//     apply: Apply returns an error wrapping ErrNotFound or ErrAmbiguous, so
//     the list cannot silently drift away from the code it faults.
//   - Fault IDs are unique (CheckList).
//   - WriteOverlay writes only under its scratch directory; the overlay's
//     single Replace entry maps the absolute path of the faulted file to
//     the faulted copy.
package mutate
