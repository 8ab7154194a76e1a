// Package npyfile reads and writes NumPy .npy files as ptqspec tensors and
// label lists, through codeberg.org/sbinet/npyio.
//
// # Overview
//
// .npy is the format the Python ecosystem hands calibration and evaluation
// tensors in (numpy.save), and the format in which ptqspec exchanges tensors
// with ONNX Runtime (internal/ortrun). ReadTensor and DecodeTensor give a
// *tensor.Tensor from a float32 (or float64, converted) array of any rank;
// WriteTensor and EncodeTensor write one as '<f4'. ReadLabels and
// DecodeLabels give class labels as []int from a 1-D integer array (int64,
// int32, int16, int8, uint8, uint16); WriteLabels and EncodeLabels write
// '<i8'.
//
// Reading goes through npyio's decoder, after this package has checked the
// header's declared size against the file. Writing lays out format 1.0 as
// numpy.save does (magic, version, header dictionary padded so the data
// starts at a multiple of 64 bytes, raw little-endian data) in a few lines of
// its own: npyio's writer takes a shape only from nested Go slices and
// reflects on every element, 2.5 s for the 31 MB of 10,000 MNIST images, where
// this takes milliseconds. The tests read every written file back with npyio,
// and ONNX Runtime's runner reads them too.
//
// # Invariants
//
//   - A decoded tensor's shape is the file's shape and its data holds exactly
//     product(shape) elements, in C (row-major) order; a 0-d array gives a
//     tensor of empty shape holding one element.
//   - Before any data is allocated, the size the header declares is checked
//     against the bytes the file holds: a header that declares more data than
//     the file has is refused, so a hostile header never causes a large
//     allocation. Trailing bytes after the data are refused too.
//   - Encode then Decode gives back the same shape and the same bits.
//
// # Errors
//
// Every error is a *FileError naming the file (or "<reader>") and, where it
// applies, the byte offset, and matches one of ErrNotNPY (no NumPy magic or
// an unreadable header), ErrDType (an element type this package does not
// read, or Fortran order), ErrSize (data shorter or longer than the header
// declares, a shape that overflows) or ErrLabels (a label array that is not
// 1-D, or a negative label).
package npyfile
