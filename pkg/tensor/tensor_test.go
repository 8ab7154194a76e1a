package tensor

import (
	"errors"
	"slices"
	"testing"
)

func TestReshape(t *testing.T) {
	x := MustFromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	cases := []struct {
		name    string
		shape   []int
		want    []int
		wantErr bool
	}{
		{"flat", []int{6}, []int{6}, false},
		{"infer", []int{3, -1}, []int{3, 2}, false},
		{"same", []int{2, 3}, []int{2, 3}, false},
		{"wrong count", []int{4, 2}, nil, true},
		{"two inferred", []int{-1, -1}, nil, true},
		{"not divisible", []int{4, -1}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y, err := x.Reshape(c.shape...)
			if c.wantErr {
				var se *ShapeError
				if !errors.As(err, &se) {
					t.Fatalf("want *ShapeError, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(y.Shape(), c.want) {
				t.Fatalf("shape %v, want %v", y.Shape(), c.want)
			}
			y.Data()[0] = 42
			if x.At(0, 0) != 42 {
				t.Fatal("reshape must be a view")
			}
			x.Set(1, 0, 0)
		})
	}
}

func TestSliceAndConcat(t *testing.T) {
	x := MustFromData([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	s, err := x.Slice(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Data(), []float32{3, 4, 5, 6}) || s.Dim(0) != 2 {
		t.Fatalf("slice = %v", s)
	}
	if _, err := x.Slice(2, 4); err == nil {
		t.Fatal("want error for rows out of range")
	}
	c, err := Concat(s, x)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Shape(), []int{5, 2}) || c.At(4, 1) != 6 {
		t.Fatalf("concat = %v", c)
	}
	if _, err := Concat(x, New(2, 3)); err == nil {
		t.Fatal("want error for mismatched trailing dims")
	}
}

func TestFromDataErrorNamesShapes(t *testing.T) {
	_, err := FromData(make([]float32, 5), 2, 3)
	if err == nil || err.Error() != "tensor: from data: shape [2 3]: needs 6 elements, data has 5" {
		t.Fatalf("err = %v", err)
	}
}

func TestIndexPanicsWithShapeError(t *testing.T) {
	defer func() {
		if _, ok := recover().(*ShapeError); !ok {
			t.Fatal("want *ShapeError panic")
		}
	}()
	New(2, 2).At(2, 0)
}
