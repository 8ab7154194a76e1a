package npyfile_test

import (
	"bytes"
	"fmt"

	"github.com/ptqspec/ptqspec/internal/npyfile"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func ExampleEncodeTensor() {
	x := tensor.MustFromData([]float32{0, 0.5, 1, 1.5, 2, 2.5}, 2, 3)
	var b bytes.Buffer
	if err := npyfile.EncodeTensor(&b, x); err != nil {
		fmt.Println(err)
		return
	}
	y, err := npyfile.DecodeTensor(&b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Shape(), y.Data())
	// Output: [2 3] [0 0.5 1 1.5 2 2.5]
}
