package modelfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
)

// Cursor reads a file's bytes front to back. A read past the end is an
// error wrapping ErrTruncated that says what was being read, how many
// bytes it needs, at which byte offset, and where the file ends; every
// error starts with the cursor's prefix, which names the file.
type Cursor struct {
	data   []byte
	off    int
	prefix string
}

// NewCursor returns a cursor at the start of data whose errors start with
// prefix, such as "nn: load model.bin".
func NewCursor(data []byte, prefix string) *Cursor {
	return &Cursor{data: data, prefix: prefix}
}

// Offset returns the byte offset of the next read.
func (c *Cursor) Offset() int { return c.off }

// Remaining returns the number of bytes not yet read.
func (c *Cursor) Remaining() int { return len(c.data) - c.off }

// Errorf returns an error "prefix: what at byte offset off: message".
func (c *Cursor) Errorf(what string, off int, format string, args ...any) error {
	return fmt.Errorf("%s: %s at byte offset %d: %s", c.prefix, what, off, fmt.Sprintf(format, args...))
}

// Next returns the next n bytes; what names them in the error.
func (c *Cursor) Next(n int, what string) ([]byte, error) {
	if n < 0 || len(c.data)-c.off < n {
		return nil, fmt.Errorf("%s: %w: %s needs %d bytes at byte offset %d, but the file ends at byte %d",
			c.prefix, ErrTruncated, what, n, c.off, len(c.data))
	}
	b := c.data[c.off : c.off+n]
	c.off += n
	return b, nil
}

// Uint32 reads a little-endian uint32.
func (c *Cursor) Uint32(what string) (uint32, error) {
	b, err := c.Next(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Shape reads rank dimensions, each a little-endian uint32, and returns
// them with the number of elements they hold. The product is capped at
// 2^40, far above what any file holds, so that it cannot overflow:
// reading that many values then reports the file truncated.
func (c *Cursor) Shape(rank int, what string) ([]int, int, error) {
	const maxElems = 1 << 40
	shape := make([]int, rank)
	elems, zero := uint64(1), false
	for k := range shape {
		d, err := c.Uint32(what)
		if err != nil {
			return nil, 0, err
		}
		shape[k] = int(d)
		switch {
		case d == 0:
			zero = true
		case elems > maxElems/uint64(d):
			elems = maxElems
		default:
			elems *= uint64(d)
		}
	}
	if zero {
		elems = 0
	}
	return shape, int(elems), nil
}

// Finish reads the trailing CRC-32, which must end the file, and checks it
// against every byte before it: trailing bytes are an error naming their
// offset, a mismatch one wrapping ErrChecksum.
func (c *Cursor) Finish() error {
	sum, err := c.Uint32("the CRC-32 checksum")
	if err != nil {
		return err
	}
	if c.off != len(c.data) {
		return fmt.Errorf("%s: %d unexpected bytes after the checksum at byte offset %d", c.prefix, len(c.data)-c.off, c.off)
	}
	if got := crc32.ChecksumIEEE(c.data[:c.off-4]); got != sum {
		return fmt.Errorf("%s: %w: stored CRC-32 %08x, contents hash to %08x", c.prefix, ErrChecksum, sum, got)
	}
	return nil
}

// DecodeJSON decodes JSON strictly (unknown fields and trailing data are
// errors) into v; what and off name it in the error.
func (c *Cursor) DecodeJSON(js []byte, v any, what string, off int) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = fmt.Errorf("trailing data after the JSON value")
	}
	if err != nil {
		return fmt.Errorf("%s: %s at byte offset %d: %w", c.prefix, what, off, err)
	}
	return nil
}
