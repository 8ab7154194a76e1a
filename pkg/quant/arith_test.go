package quant

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRoundHalfEvenTies(t *testing.T) {
	cases := []struct{ in, want float32 }{
		{0.5, 0}, {1.5, 2}, {2.5, 2}, {-2.5, -2}, {-0.5, 0}, {3.5, 4}, {2.4999998, 2}, {-1.5, -2},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, RoundHalfEven(c.in), "RoundHalfEven(%v)", c.in)
	}
}

func TestQuantizeValueTiesAndSaturation(t *testing.T) {
	cases := []struct {
		name       string
		x, scale   float32
		zp         int32
		qmin, qmax int32
		want       int32
	}{
		{"0.5 -> 0", 0.5, 1, 0, -128, 127, 0},
		{"1.5 -> 2", 1.5, 1, 0, -128, 127, 2},
		{"2.5 -> 2", 2.5, 1, 0, -128, 127, 2},
		{"-2.5 -> -2", -2.5, 1, 0, -128, 127, -2},
		{"tie then zero point", 0.25, 0.5, 10, -128, 127, 10},
		{"saturate high", 1000, 1, 0, -128, 127, 127},
		{"saturate low", -1000, 1, 0, -127, 127, -127},
		{"huge", 3e38, 1e-30, 0, 0, 255, 255},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, QuantizeValue(c.x, c.scale, c.zp, c.qmin, c.qmax), c.name)
	}
}
