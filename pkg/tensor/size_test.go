package tensor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumel(t *testing.T) {
	cases := []struct {
		name     string
		shape    []int
		want     int
		tooLarge bool // ErrTooLarge (and ErrShape)
		invalid  bool // ErrShape only
	}{
		{"scalar", nil, 1, false, false},
		{"vector", []int{7}, 7, false, false},
		{"MNIST", []int{60000, 1, 28, 28}, 47040000, false, false},
		{"zero dimension", []int{3, 0, 5}, 0, false, false},
		{"zero beside an overflow", []int{1 << 62, 1 << 62, 0}, 0, false, false},
		{"exactly MaxElements", []int{1 << 14, 1 << 14}, DefaultMaxElements, false, false},
		{"one above MaxElements", []int{DefaultMaxElements + 1}, 0, true, false},
		{"2^20 x 2^20", []int{1 << 20, 1 << 20}, 0, true, false},
		{"overflow 2^62 x 4", []int{1 << 62, 4}, 0, true, false},
		{"overflow MaxInt x 2", []int{math.MaxInt, 2}, 0, true, false},
		{"negative", []int{2, -1}, 0, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := Numel(c.shape)
			switch {
			case c.tooLarge:
				assert.ErrorIs(t, err, ErrTooLarge)
				assert.ErrorIs(t, err, ErrShape)
			case c.invalid:
				assert.ErrorIs(t, err, ErrShape)
				assert.NotErrorIs(t, err, ErrTooLarge)
			default:
				require.NoError(t, err)
				assert.Equal(t, c.want, n)
			}
			var se *ShapeError
			if err != nil {
				require.ErrorAs(t, err, &se)
				assert.Equal(t, c.shape, se.Got)
			}
		})
	}
}

func TestMulDimsHasNoElementBound(t *testing.T) {
	n, err := MulDims("test", 1<<20, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, 1<<40, n)
	_, err = MulDims("test", 1<<32, 1<<32)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestSetMaxElements(t *testing.T) {
	old := SetMaxElements(100)
	t.Cleanup(func() { SetMaxElements(old) })
	assert.Equal(t, DefaultMaxElements, old)
	assert.Equal(t, 100, MaxElements())
	_, err := Numel([]int{10, 11})
	assert.ErrorIs(t, err, ErrTooLarge)
	n, err := Numel([]int{10, 10})
	require.NoError(t, err)
	assert.Equal(t, 100, n)
	SetMaxElements(0)
	assert.Equal(t, 1, MaxElements(), "a limit below 1 is raised to 1")
}

func TestReshapeOverflowingTarget(t *testing.T) {
	x := New(0)
	_, err := x.Reshape(1<<62, 1<<62, 0)
	require.NoError(t, err, "a zero dimension holds zero elements whatever the others are")
	_, err = New(4).Reshape(1<<62, 1<<62)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestNewPanicsOnOverflow(t *testing.T) {
	assert.PanicsWithError(t, "tensor: new: shape [4611686018427387904 4]: element count overflows int", func() { New(1<<62, 4) })
}
