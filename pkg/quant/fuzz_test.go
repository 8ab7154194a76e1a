package quant

import (
	"encoding/binary"
	"testing"
)

// FuzzGemmPaths checks every GEMM path this build and CPU can run (the
// lane path; the pair and VNNI paths with their Go twins and, where the
// CPU has them, their assembly kernels; with the weights packed under one
// path and run under each) against an int64 reference of
// Σ (a - za)(b - zb), wrapped to int32, on fuzzed sizes (empty ones
// included), int8 and uint8 operands, and per-tensor or per-row/column
// zero points of any int32 value (those beyond int16 leave the pair
// path). GemmInt (B not transposed) is checked on the default path. Seeds
// run in plain go test.
func FuzzGemmPaths(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), byte(0), []byte{1, 2, 3, 250, 128, 127, 0, 255, 9, 9, 9})
	f.Add(uint8(17), uint8(9), uint8(40), byte(7), []byte{200, 100, 50, 25, 12, 6, 3, 1}) // depth 40: the VNNI path
	f.Add(uint8(0), uint8(4), uint8(4), byte(2), []byte{5})                               // no rows
	f.Add(uint8(2), uint8(3), uint8(0), byte(1), []byte{5})                               // no depth
	f.Add(uint8(4), uint8(4), uint8(33), byte(12), []byte{0, 0, 128, 0, 255, 255, 127, 255, 1})
	f.Fuzz(func(t *testing.T, m, n, k uint8, flags byte, data []byte) {
		switch flags % 4 {
		case 0:
			fuzzGemm[int8, int8](t, int(m%48), int(n%48), int(k%96), flags, data)
		case 1:
			fuzzGemm[int8, uint8](t, int(m%48), int(n%48), int(k%96), flags, data)
		case 2:
			fuzzGemm[uint8, int8](t, int(m%48), int(n%48), int(k%96), flags, data)
		default:
			fuzzGemm[uint8, uint8](t, int(m%48), int(n%48), int(k%96), flags, data)
		}
	})
}

func fuzzGemm[A, B int8 | uint8](t *testing.T, m, n, k int, flags byte, data []byte) {
	pos := 0
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		v := data[pos%len(data)] ^ byte(pos/len(data)*37)
		pos++
		return v
	}
	zero := func() int32 {
		var b [4]byte
		for i := range b {
			b[i] = next()
		}
		v := int32(binary.LittleEndian.Uint32(b[:]))
		switch b[0] % 4 {
		case 0:
			return v % 256 // within the types' ranges
		case 1:
			return v % 40000 // around the int16 limits
		}
		return v
	}
	a, b := make([]A, m*k), make([]B, k*n) // b is n×k (transposed)
	for i := range a {
		a[i] = A(next())
	}
	for i := range b {
		b[i] = B(next())
	}
	az, bz := []int32{zero()}, []int32{zero()}
	if flags&16 != 0 && m > 0 {
		az = make([]int32, m)
		for i := range az {
			az[i] = zero()
		}
	}
	if flags&32 != 0 && n > 0 {
		bz = make([]int32, n)
		for j := range bz {
			bz[j] = zero()
		}
	}
	want := make([]int32, m*n)
	for i := range m {
		for j := range n {
			var s int64
			for p := range k {
				s += (int64(a[i*k+p]) - int64(az[min(i, len(az)-1)])) * (int64(b[j*k+p]) - int64(bz[min(j, len(bz)-1)]))
			}
			want[i*n+j] = int32(s) // mod 2^32, as the kernels compute
		}
	}
	equal := func(c []int32) bool {
		for i := range c {
			if c[i] != want[i] {
				return false
			}
		}
		return true
	}
	paths := gemmPaths()
	for _, pack := range paths {
		var pb *PackedB
		t.Run("pack-"+pack.name, func(t *testing.T) {
			pack.use(t)
			pb = PackBT(n, k, b, bz)
		})
		for _, run := range paths {
			t.Run("pack-"+pack.name+"/run-"+run.name, func(t *testing.T) {
				run.use(t)
				c := make([]int32, m*n)
				GemmIntPacked(m, a, az, pb, c)
				if !equal(c) {
					t.Fatalf("%d×%d×%d, za %v, zb %v:\n got %v\nwant %v", m, n, k, az, bz, c, want)
				}
			})
		}
	}
	bt := make([]B, k*n) // b as k×n for GemmInt
	for j := range n {
		for p := range k {
			bt[p*n+j] = b[j*k+p]
		}
	}
	c := make([]int32, m*n)
	GemmInt(m, n, k, a, az, bt, bz, c)
	if !equal(c) {
		t.Fatalf("GemmInt %d×%d×%d, za %v, zb %v:\n got %v\nwant %v", m, n, k, az, bz, c, want)
	}
}
