package mutate_test

import (
	"fmt"

	"github.com/ptqspec/ptqspec/internal/mutate"
)

func ExampleFault_Apply() {
	f := mutate.Fault{
		ID:   "round-ties-away",
		File: "arith.go",
		Old:  "math.RoundToEven(x)",
		New:  "math.Round(x)",
		Desc: "ties round away from zero",
	}
	out, err := f.Apply([]byte("return math.RoundToEven(x)\n"))
	fmt.Print(string(out), err, "\n")

	_, err = f.Apply([]byte("a := math.RoundToEven(x)\nb := math.RoundToEven(x)\n"))
	fmt.Println(err)
	// Output:
	// return math.Round(x)
	// <nil>
	// mutate: fault "round-ties-away": arith.go contains "math.RoundToEven(x)" at bytes 5 and 30 (and maybe more): mutate: old text occurs more than once
}
