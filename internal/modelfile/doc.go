// Package modelfile is the container shared by package nn's FP32 model
// file and package ptq's int8 model file: magic, version, JSON header,
// typed tensor records and a CRC-32, read through a cursor whose errors
// name the file and the byte offset.
//
// # Overview
//
// A Format names a file kind: its 8-byte magic, its version, and what the
// one-byte tag of its records means (a role for nn, an element type for
// ptq). Format.Write encodes a header and records; Format.Read checks the
// magic (ErrBadMagic), the version (ErrVersion), the record structure
// (ErrTruncated, with the offset where the file ends) and the checksum
// (ErrChecksum) before it decodes the header strictly (unknown fields are
// errors) and hands back the records, each with its byte offset and its
// values as raw little-endian bytes. Every record's size is checked
// against the bytes the file holds before anything is allocated for it,
// so a corrupt or hostile header cannot make a reader allocate more than
// the file's own size.
//
// The byte layout is documented on Format.Write.
//
// # Invariants
//
//   - Read never trusts a byte before the checksum of the whole file has
//     been verified, and never allocates more than the file holds.
//   - Write(Read(f)) gives f's bytes back: the encoding is canonical.
//   - Errors start with the prefix the caller gives (for example
//     "nn: load model.bin"), so they name the file, and every structural
//     error names a byte offset.
package modelfile
