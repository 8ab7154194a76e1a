package mutate

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestApply(t *testing.T) {
	src := "a := 1\nb := 2\nc := a + b\n"
	cases := []struct {
		name    string
		f       Fault
		want    string
		wantErr error
	}{
		{"exactly once", Fault{ID: "x", Old: "a + b", New: "a - b"}, "a := 1\nb := 2\nc := a - b\n", nil},
		{"across lines", Fault{ID: "x", Old: "1\nb", New: "1\n_"}, "a := 1\n_ := 2\nc := a + b\n", nil},
		{"deletion", Fault{ID: "x", Old: "b := 2\n", New: ""}, "a := 1\nc := a + b\n", nil},
		{"not found", Fault{ID: "x", Old: "a * b", New: "a / b"}, "", ErrNotFound},
		{"found twice", Fault{ID: "x", Old: " := ", New: " = "}, "", ErrAmbiguous},
		{"overlapping twice", Fault{ID: "x", Old: "a", New: "z"}, "", ErrAmbiguous},
		{"empty old text", Fault{ID: "x", Old: "", New: "y"}, "", ErrNotFound},
		{"no change", Fault{ID: "x", Old: "a + b", New: "a + b"}, "", ErrNoChange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.f.Apply([]byte(src))
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				assert.Contains(t, err.Error(), `"x"`, "the error names the fault")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got))
		})
	}
}

func TestApplyAmbiguousNamesOffsets(t *testing.T) {
	_, err := Fault{ID: "x", File: "f.go", Old: "ab", New: "ba"}.Apply([]byte("ab..ab"))
	require.ErrorIs(t, err, ErrAmbiguous)
	assert.Contains(t, err.Error(), "at bytes 0 and 4")
	assert.Contains(t, err.Error(), "f.go")
}

// writeModule writes a tiny Go module under dir whose main prints a sum.
func writeModule(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "calc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "calc", "calc.go"),
		[]byte("package calc\n\n// Add returns a+b.\nfunc Add(a, b int) int { return a + b }\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"),
		[]byte("package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/calc\"\n)\n\nfunc main() { fmt.Println(calc.Add(2, 3)) }\n"), 0o644))
}

func TestWriteOverlay(t *testing.T) {
	root, scratch := t.TempDir(), t.TempDir()
	writeModule(t, root)
	orig, err := os.ReadFile(filepath.Join(root, "calc", "calc.go"))
	require.NoError(t, err)
	f := Fault{ID: "add-subtracts", File: "calc/calc.go", Old: "return a + b", New: "return a - b", Desc: "Add subtracts"}

	ovPath, err := WriteOverlay(scratch, root, f)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(scratch, "add-subtracts", "overlay.json"), ovPath)

	data, err := os.ReadFile(ovPath)
	require.NoError(t, err)
	var ov Overlay
	require.NoError(t, json.Unmarshal(data, &ov))
	require.Len(t, ov.Replace, 1, "one replaced file")
	copyPath, ok := ov.Replace[filepath.Join(root, "calc", "calc.go")]
	require.True(t, ok, "the key is the absolute path of the faulted file: %v", ov.Replace)
	assert.Equal(t, filepath.Join(scratch, "add-subtracts", "calc.go"), copyPath)
	faulted, err := os.ReadFile(copyPath)
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(string(orig), "return a + b", "return a - b", 1), string(faulted))

	after, err := os.ReadFile(filepath.Join(root, "calc", "calc.go"))
	require.NoError(t, err)
	assert.Equal(t, string(orig), string(after), "the source tree is not modified")

	// The go command compiles the faulted copy in place of the original.
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"without overlay", []string{"run", "."}, "5\n"},
		{"with overlay", []string{"run", "-overlay=" + ovPath, "."}, "-1\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("go", c.args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, c.want, string(out))
		})
	}
}

func TestWriteOverlayRefuses(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root)
	cases := []struct {
		name    string
		f       Fault
		wantErr error
	}{
		{"stale old text", Fault{ID: "stale", File: "calc/calc.go", Old: "return a * b", New: "return 0"}, ErrNotFound},
		{"missing file", Fault{ID: "gone", File: "calc/gone.go", Old: "x", New: "y"}, os.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scratch := t.TempDir()
			_, err := WriteOverlay(scratch, root, c.f)
			require.ErrorIs(t, err, c.wantErr)
			entries, err := os.ReadDir(scratch)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing written for a fault that does not apply")
		})
	}
	_, err := WriteOverlay(t.TempDir(), root, Fault{ID: "../escape", File: "calc/calc.go", Old: "a + b", New: "a - b"})
	require.Error(t, err, "an ID that is not a plain name is refused")
}

func TestCheckList(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root)
	good := Fault{ID: "good", File: "calc/calc.go", Old: "a + b", New: "a - b"}
	faults := []Fault{
		good,
		{ID: "good", File: "calc/calc.go", Old: "a + b", New: "b"},
		{ID: "stale", File: "calc/calc.go", Old: "a * b", New: "b"},
		{ID: "Bad ID", File: "calc/calc.go", Old: "a + b", New: "b"},
	}
	ok, errs := CheckList(root, faults)
	assert.Equal(t, []Fault{good}, ok)
	require.Len(t, errs, 3)
	assert.Contains(t, errs[0].Error(), "appears twice")
	assert.True(t, errors.Is(errs[1], ErrNotFound), "%v", errs[1])
	assert.Contains(t, errs[2].Error(), "Bad ID")
}

// TestFaultsApplyToThisTree keeps the list in step with the code: every
// fault's old text occurs exactly once in its file of this module, and
// every ID is unique and has a description.
func TestFaultsApplyToThisTree(t *testing.T) {
	ok, errs := CheckList(filepath.Join("..", ".."), Faults)
	for _, err := range errs {
		t.Error(err)
	}
	assert.Len(t, ok, len(Faults))
	for _, f := range Faults {
		assert.NotEmpty(t, f.Desc, "fault %s has a description", f.ID)
		assert.False(t, strings.Contains(f.Desc, "\n"), "fault %s: one-line description", f.ID)
	}
}
