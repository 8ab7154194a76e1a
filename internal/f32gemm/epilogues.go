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

// ApplyInPlace runs row r's Epilogue over the cols values of x from
// r·ld on, for r < rows, in place, with the bits of Epilogue.Apply. It
// panics, with a message prefixed "f32gemm:", if x or a constant slice
// in use is too short or a size negative.
func (e Epilogues) ApplyInPlace(x []float32, ld, rows, cols int) {
	if rows < 0 || cols < 0 || ld < cols {
		panic(fmt.Sprintf("f32gemm: epilogues of %d×%d values with leading dimension %d", rows, cols, ld))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("f32gemm: epilogues over %d values, needs %d", len(x), need))
	}
	if (e.AddBias && len(e.Bias) < rows) || (e.Affine && (len(e.Scale) < rows || len(e.Shift) < rows)) {
		panic(fmt.Sprintf("f32gemm: epilogues of %d rows with %d biases, %d scales, %d shifts", rows, len(e.Bias), len(e.Scale), len(e.Shift)))
	}
	flags := e.Row(0).flags()
	if flags == 0 {
		return
	}
	if !epilogueAsm {
		for r := range rows {
			e.Row(r).applyGo(x[r*ld:], ld, x[r*ld:], ld, 1, cols)
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
	epilogueRows512(&x[0], ld, rows, cols, bias, scale, shift, flags)
}
