package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func TestZeroPad2DValues(t *testing.T) {
	x := tensor.MustFromData([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 2, 3)
	for _, tc := range []struct {
		name                     string
		top, left, bottom, right int
		shape                    []int
		want                     []float32
	}{
		{"none", 0, 0, 0, 0, []int{1, 1, 2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"top left", 1, 1, 0, 0, []int{1, 1, 3, 4}, []float32{0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6}},
		{"bottom right", 0, 0, 1, 1, []int{1, 1, 3, 4}, []float32{1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0}},
		{"uneven", 0, 2, 1, 0, []int{1, 1, 3, 5}, []float32{0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewZeroPad2D(tc.top, tc.left, tc.bottom, tc.right)
			y, err := l.Forward([]*tensor.Tensor{x}, Train)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(y.Shape(), tc.shape) || !slices.Equal(y.Data(), tc.want) {
				t.Fatalf("output %v %v, want %v %v", y.Shape(), y.Data(), tc.shape, tc.want)
			}
			// The gradient of the input is the output gradient's interior.
			dx, err := l.Backward(y)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dx[0].Data(), x.Data()) {
				t.Fatalf("input gradient %v, want %v", dx[0].Data(), x.Data())
			}
		})
	}
}

func TestZeroPad2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	gradCheck(t, NewZeroPad2D(1, 0, 2, 1), []*tensor.Tensor{randAwayFromZero(rng, 2, 2, 3, 3)}, defaultGradTol)
}

func TestZeroPad2DErrors(t *testing.T) {
	cases := []errCase{
		{"rank", func() error { _, err := NewZeroPad2D(1, 1, 1, 1).OutputShape([][]int{{3, 4}}); return err },
			ErrLayerShape, "nn: ZeroPad2D: input shape [N 3 4] is not [N C H W]"},
		{"negative", func() error { _, err := (&ZeroPad2D{Top: -1}).OutputShape([][]int{{1, 2, 2}}); return err },
			ErrLayerConfig, "nn: ZeroPad2D: padding (top -1, left 0, bottom 0, right 0) must not be negative"},
		{"huge", func() error { _, err := NewZeroPad2D(1<<40, 0, 0, 0).OutputShape([][]int{{1, 2, 2}}); return err },
			ErrLayerShape, "nn: ZeroPad2D: input shape [N 1 2 2] with padding (1099511627776, 0, 0, 0): a size above 2^31"},
		{"too many elements", func() error { _, err := NewZeroPad2D(1<<30, 0, 0, 0).OutputShape([][]int{{4, 2, 1 << 10}}); return err },
			tensor.ErrTooLarge, ""},
		{"backward first", func() error { _, err := NewZeroPad2D(1, 1, 1, 1).Backward(tensor.New(1, 1, 3, 3)); return err }, ErrNoForward, ""},
	}
	checkErrCases(t, cases)
}
