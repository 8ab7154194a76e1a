// Package atomicfile replaces files whole: the model files of packages nn
// and ptq, the model cache, and any other file the library or the command
// writes.
//
// # Overview
//
// WriteFile writes through a temporary file in the target's folder, syncs
// it, renames it over the target and syncs the folder, so that a crash or
// an error leaves either the old file or the complete new one. WriteBytes
// does the same for a byte slice.
//
// # Invariants
//
//   - The target never holds a partial file.
//   - No temporary file survives an error return: it is removed on every
//     error path, including an error of the caller's write function.
//   - Files are created with mode 0644 (Perm), whatever the umask lets
//     os.CreateTemp use.
package atomicfile
