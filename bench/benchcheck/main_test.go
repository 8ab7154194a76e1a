package main

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

func TestParseSlowdown(t *testing.T) {
	cases := []struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		{"", map[string]int{}, false},
		{"a=2", map[string]int{"a": 2}, false},
		{"a=2, b=3", map[string]int{"a": 2, "b": 3}, false},
		{"a", nil, true},
		{"a=0", nil, true},
		{"a=x", nil, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseSlowdown(c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if err == nil && !maps.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-write", "a", "-check", "b"}, {"-check", "a", "extra"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "benchcheck") {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and a message", args, code, errb.String())
		}
	}
}
