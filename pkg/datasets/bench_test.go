package datasets

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sinkIDX and sinkN keep benchmark results alive.
var (
	sinkIDX *IDX
	sinkN   int64
	sinkDS  *Dataset
)

// benchIDX returns a 10000x28x28 uint8 IDX file (the size of MNIST's test
// images) with a fixed pseudo-random pattern, raw or gzip'd.
func benchIDX(b *testing.B, compress bool) []byte {
	px := make([]byte, 10000*28*28)
	r := newRand(1)
	for i := range px {
		if r.IntN(5) == 0 { // MNIST is mostly background
			px[i] = byte(r.IntN(256))
		}
	}
	in := makeIDX(TypeUint8, []int{10000, 28, 28}, px)
	if compress {
		in = gz(b, in)
	}
	return in
}

// benchReadIDX times ReadIDX on in.
func benchReadIDX(b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		x, err := ReadIDX(bytes.NewReader(in), "bench")
		if err != nil {
			b.Fatal(err)
		}
		sinkIDX = x
	}
}

// benchCopy is the baseline: the same stream read and, for gzip, inflated
// into a fresh buffer of the decompressed size, with no parsing.
func benchCopy(b *testing.B, in []byte, compressed bool) {
	size := len(in)
	if compressed {
		size = sizeOfGzip(b, in)
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var r io.Reader = bytes.NewReader(in)
		if compressed {
			zr, err := gzip.NewReader(r)
			if err != nil {
				b.Fatal(err)
			}
			r = zr
		}
		buf := make([]byte, size)
		n, err := io.ReadFull(r, buf)
		if err != nil {
			b.Fatal(err)
		}
		sinkN = int64(n)
	}
}

// sizeOfGzip returns the decompressed size of a gzip stream.
func sizeOfGzip(b *testing.B, in []byte) int {
	zr, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		b.Fatal(err)
	}
	return int(n)
}

func BenchmarkReadIDXRaw(b *testing.B)          { benchReadIDX(b, benchIDX(b, false)) }
func BenchmarkReadIDXRawBaseline(b *testing.B)  { benchCopy(b, benchIDX(b, false), false) }
func BenchmarkReadIDXGzip(b *testing.B)         { benchReadIDX(b, benchIDX(b, true)) }
func BenchmarkReadIDXGzipBaseline(b *testing.B) { benchCopy(b, benchIDX(b, true), true) }

// benchMNIST times an uncached load of the real MNIST files, or with
// baseline only inflates them into io.Discard.
func benchMNIST(b *testing.B, baseline bool) {
	dir, err := MNISTDir()
	if err != nil {
		b.Fatal(err)
	}
	var files [][]byte
	for _, base := range []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels} {
		f, err := os.ReadFile(filepath.Join(dir, base+".gz"))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	for b.Loop() {
		if baseline {
			for _, f := range files {
				benchInflate(b, f)
			}
			continue
		}
		train, _, err := loadMNIST(dir)
		if err != nil {
			b.Fatal(err)
		}
		sinkDS = train
	}
}

// benchInflate inflates one gzip'd file into io.Discard.
func benchInflate(b *testing.B, f []byte) {
	zr, err := gzip.NewReader(bytes.NewReader(f))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		b.Fatal(err)
	}
	sinkN = n
}

func BenchmarkLoadMNISTUncached(b *testing.B)        { benchMNIST(b, false) }
func BenchmarkLoadMNISTInflateBaseline(b *testing.B) { benchMNIST(b, true) }
