package mutate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCucumber(t *testing.T) {
	report := `[
	 {"uri": "../features/a.feature", "elements": [
	  {"name": "passes", "line": 5, "type": "scenario", "steps": [{"result": {"status": "passed"}}, {"result": {"status": "passed"}}]},
	  {"name": "fails", "line": 9, "type": "scenario", "steps": [{"result": {"status": "passed"}}, {"result": {"status": "failed"}}, {"result": {"status": "skipped"}}]},
	  {"name": "background", "line": 2, "type": "background", "steps": [{"result": {"status": "failed"}}]}
	 ]},
	 {"uri": "../features/b.feature", "elements": [
	  {"name": "undefined step", "line": 12, "type": "scenario", "steps": [{"result": {"status": "undefined"}}]},
	  {"name": "no steps", "line": 20, "type": "scenario", "steps": []}
	 ]}
	]`
	total, failed, err := ParseCucumber([]byte(report))
	require.NoError(t, err)
	assert.Equal(t, 4, total, "scenarios only, not backgrounds")
	assert.Equal(t, []Scenario{
		{Feature: "a.feature", Line: 9, Name: "fails"},
		{Feature: "b.feature", Line: 12, Name: "undefined step"},
		{Feature: "b.feature", Line: 20, Name: "no steps"},
	}, failed)
	assert.Equal(t, "a.feature:9 fails", failed[0].String())

	_, _, err = ParseCucumber([]byte("{not json"))
	require.Error(t, err)
}

func TestResultCaught(t *testing.T) {
	cases := []struct {
		name string
		res  Result
		want bool
	}{
		{"passed", Result{Total: 3}, false},
		{"a scenario failed", Result{Total: 3, Failed: []Scenario{{Feature: "a.feature", Line: 1}}}, true},
		{"crashed", Result{Crash: "exit status 2"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, c.res.Caught()) })
	}
}
