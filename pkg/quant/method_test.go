package quant

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMethodText(t *testing.T) {
	cases := []struct {
		name string
		m    Method
		text string
	}{
		{"minmax", MethodMinMax, "minmax"},
		{"moving average", MethodMovingAverage, "moving_average"},
		{"percentile", MethodPercentile, "percentile"},
		{"entropy", MethodEntropy, "entropy"},
		{"mse", MethodMSE, "mse"},
		{"zero is no method", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.text, c.m.String())
			b, err := c.m.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, c.text, string(b))
			got := MethodEntropy // overwritten
			require.NoError(t, got.UnmarshalText([]byte(c.text)))
			assert.Equal(t, c.m, got)
			assert.Equal(t, c.m != 0, c.m.Valid())
		})
	}
}

func TestMethodRefusals(t *testing.T) {
	outside := MethodMSE + 1
	assert.False(t, outside.Valid())
	assert.Equal(t, "Method(6)", outside.String())
	_, err := outside.MarshalText()
	assert.ErrorIs(t, err, ErrUnknownMethod)
	_, err = json.Marshal(struct{ M Method }{outside})
	assert.ErrorIs(t, err, ErrUnknownMethod)

	for _, name := range []string{"", "kl", "MinMax", "minmax "} {
		_, err := ParseMethod(name)
		assert.ErrorIs(t, err, ErrUnknownMethod, "%q", name)
	}
	m := MethodPercentile
	err = m.UnmarshalText([]byte("kl"))
	require.ErrorIs(t, err, ErrUnknownMethod)
	assert.Contains(t, err.Error(), `"kl" (known: minmax, moving_average, percentile, entropy, mse)`)
	assert.Equal(t, MethodPercentile, m, "a refused text leaves the method unchanged")
}

func TestMethodsIsOneFreshList(t *testing.T) {
	ms := Methods()
	require.Equal(t, []Method{MethodMinMax, MethodMovingAverage, MethodPercentile, MethodEntropy, MethodMSE}, ms)
	ms[0] = MethodMSE
	assert.Equal(t, MethodMinMax, Methods()[0], "callers cannot change the list")
	for _, m := range Methods() {
		p, err := ParseMethod(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, p)
		_, err = NewObserver(m, ActivationDefault)
		assert.NoError(t, err, "every listed method builds an observer")
	}
}
