package f32gemm

import "fmt"

// Epilogues is an Epilogue per row of a matrix, the same steps on every
// row with the row's own constants: row r gets Bias[r], Scale[r] and
// Shift[r]. It is the per-channel pass of a convolution block whose
// channels are rows, in one call instead of one per channel.
type Epilogues struct {
	// Bias holds a bias per row, added first when AddBias is set.
	Bias    []float32
	AddBias bool
	// Scale and Shift hold a float64 affine step per row, applied when
	// Affine is set.
	Scale, Shift []float64
	Affine       bool
	// ReLU rectifies last, as Epilogue's does.
	ReLU bool
}

// Row returns the Epilogue of row r.
func (e Epilogues) Row(r int) Epilogue {
	o := Epilogue{AddBias: e.AddBias, Affine: e.Affine, ReLU: e.ReLU}
	if e.AddBias {
		o.Bias = e.Bias[r]
	}
	if e.Affine {
		o.Scale, o.Shift = e.Scale[r], e.Shift[r]
	}
	return o
}

// Apply runs row r's Epilogue over the cols values of src from r·lds on
// into dst from r·ldd on, for r < rows, with the bits of Epilogue.Apply.
// dst and src may be the same slice with the same leading dimension (in
// place); other overlaps are not allowed. In place over rows whose
// length is not a multiple of 16, the store of a row's last values holds
// up the load of the next row's first ones (they share 64 bytes), so a
// caller that can run it out of place should. It panics, with a message
// prefixed "f32gemm:", if a slice is too short or a size negative.
func (e Epilogues) Apply(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows < 0 || cols < 0 || ldd < cols || lds < cols {
		panic(fmt.Sprintf("f32gemm: epilogues of %d×%d values with leading dimensions %d and %d", rows, cols, ldd, lds))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ldd + cols; len(dst) < need {
		panic(fmt.Sprintf("f32gemm: epilogues destination has %d values, needs %d", len(dst), need))
	}
	if need := (rows-1)*lds + cols; len(src) < need {
		panic(fmt.Sprintf("f32gemm: epilogues source has %d values, needs %d", len(src), need))
	}
	if (e.AddBias && len(e.Bias) < rows) || (e.Affine && (len(e.Scale) < rows || len(e.Shift) < rows)) {
		panic(fmt.Sprintf("f32gemm: epilogues of %d rows with %d biases, %d scales, %d shifts", rows, len(e.Bias), len(e.Scale), len(e.Shift)))
	}
	flags := e.Row(0).flags()
	if flags == 0 || !epilogueAsm {
		for r := range rows {
			e.Row(r).Apply(dst[r*ldd:], ldd, src[r*lds:], lds, 1, cols)
		}
		return
	}
	var bias *float32
	var scale, shift *float64
	if e.AddBias {
		bias = &e.Bias[0]
	}
	if e.Affine {
		scale, shift = &e.Scale[0], &e.Shift[0]
	}
	epilogueRows512(&dst[0], ldd, &src[0], lds, rows, cols, bias, scale, shift, flags)
}
