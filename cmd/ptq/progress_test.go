package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgressBarsOnATerminal draws the bars of two phases on a buffer
// treated as a terminal (newProgressTo's forced flag) and finds each
// phase's name, its final count and a rate.
func TestProgressBarsOnATerminal(t *testing.T) {
	t.Setenv(stepDelayEnv, "")
	var out bytes.Buffer
	pr := newProgressTo(&out, true)
	cases := []struct {
		label string
		total int
	}{{"calibrate", 4}, {"evaluate int8", 20}}
	for _, c := range cases {
		b := pr.phase(c.label, c.total)
		for i := 1; i <= c.total; i++ {
			time.Sleep(2 * time.Millisecond) // a step takes time: the rate is finite
			if i == c.total {
				// mpb keeps the rate of the last frame drawn before the
				// bar completes: let two refreshes (150 ms) happen.
				time.Sleep(400 * time.Millisecond)
			}
			b.set(i, c.total)
		}
		b.finish(nil)
	}
	pr.wait()
	text := out.String()
	for _, c := range cases {
		assert.Contains(t, text, c.label)
		assert.Contains(t, text, "/s", "a rate is shown")
	}
	assert.Contains(t, text, "4/4")
	assert.Contains(t, text, "20/20")
}

// TestNoProgressBarsWhenPiped runs commands with stderr in a buffer (not
// a terminal), with and without -json and -quiet: no byte of a bar (no
// carriage return, no escape sequence) reaches either stream.
func TestNoProgressBarsWhenPiped(t *testing.T) {
	file := fragileModelFile(t)
	cases := []struct {
		name string
		args []string
	}{
		{"sensitivity", []string{"sensitivity", "-model", file, "-calib", "200", "-sens-eval", "300", "-out", ""}},
		{"sensitivity -json", []string{"sensitivity", "-model", file, "-calib", "200", "-sens-eval", "300", "-out", "", "-json"}},
		{"quantize -quiet", []string{"quantize", "-model", file, "-calib", "200", "-eval", "500", "-quiet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runPTQ(t, c.args...)
			require.Equal(t, 0, status, "stderr:\n%s", stderr)
			assert.False(t, strings.ContainsAny(stdout+stderr, "\r\x1b"), "bar bytes in stdout %q / stderr %q", stdout, stderr)
		})
	}
	for _, c := range []struct {
		name        string
		quiet, json bool
	}{{"buffer", false, false}, {"quiet", true, false}, {"json", false, true}} {
		assert.Nil(t, newProgress(&bytes.Buffer{}, c.quiet, c.json).p, "%s: no bars", c.name)
	}
}
