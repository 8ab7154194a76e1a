package f32gemm_test

import (
	"fmt"

	"github.com/ptqspec/ptqspec/internal/f32gemm"
)

// A Linear layer's forward, y = x·Wᵀ: W [out, in] is read transposed.
func ExampleGemm() {
	x := []float32{1, 2, 3, 4, 5, 6}  // 2 samples × 3 inputs
	w := []float32{1, 0, -1, 2, 2, 2} // 2 outputs × 3 inputs
	y := make([]float32, 4)
	f32gemm.Gemm(false, true, 2, 2, 3, x, 3, w, 3, 0, y, 2)
	fmt.Println(y)
	// Output: [-2 12 -2 30]
}

// A 2×2 kernel slid over a 3×3 image without padding: row (ky, kx) of the
// im2col matrix is the image from ky·3 + kx on, at the image's width, so the
// product gives a 2×3 output whose last column (past the 2 valid ones) is
// dropped.
func ExampleGemmOffsetB() {
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 0} // 3×3, one spare value
	kernel := []float32{1, 0, 0, 1}                // out = img[y][x] + img[y+1][x+1]
	boff := []int{0, 1, 3, 4}                      // (ky, kx) = (0,0) (0,1) (1,0) (1,1)
	wide := make([]float32, 2*3)
	f32gemm.GemmOffsetB(1, 6, 4, kernel, 4, img, boff, 0, wide, 6)
	fmt.Println(wide[0:2], wide[3:5])
	// Output: [6 8] [12 14]
}
