package tensor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
				assert.ErrorAs(t, err, &se)
				assert.ErrorIs(t, err, ErrShape)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, y.Shape())
			y.Data()[0] = 42
			assert.Equal(t, float32(42), x.At(0, 0), "reshape must be a view")
			x.Set(1, 0, 0)
		})
	}
}

func TestSliceAndConcat(t *testing.T) {
	x := MustFromData([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	s, err := x.Slice(1, 3)
	require.NoError(t, err)
	assert.Equal(t, []float32{3, 4, 5, 6}, s.Data())
	assert.Equal(t, 2, s.Dim(0))
	_, err = x.Slice(2, 4)
	assert.ErrorIs(t, err, ErrShape, "rows out of range")
	c, err := Concat(s, x)
	require.NoError(t, err)
	assert.Equal(t, []int{5, 2}, c.Shape())
	assert.Equal(t, float32(6), c.At(4, 1))
	_, err = Concat(x, New(2, 3))
	assert.ErrorIs(t, err, ErrShape, "mismatched trailing dims")
}

func TestFromDataErrorNamesShapes(t *testing.T) {
	_, err := FromData(make([]float32, 5), 2, 3)
	assert.EqualError(t, err, "tensor: from data: shape [2 3]: needs 6 elements, data has 5")
}

func TestIndexPanicsWithShapeError(t *testing.T) {
	defer func() {
		_, ok := recover().(*ShapeError)
		assert.True(t, ok, "want a *ShapeError panic")
	}()
	New(2, 2).At(2, 0)
}
