package mutate

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSnapshot(t *testing.T) {
	repo := t.TempDir()
	writeModule(t, repo)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q")
	git("add", "go.mod", "main.go", "calc/calc.go")
	git("commit", "-q", "-m", "init")
	// Uncommitted edits and untracked files stay out of the snapshot.
	require.NoError(t, os.WriteFile(filepath.Join(repo, "calc", "calc.go"), []byte("package calc // edited\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "untracked.go"), []byte("package main\n"), 0o644))

	dst := t.TempDir()
	n, err := Snapshot(repo, "HEAD", dst)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	got, err := os.ReadFile(filepath.Join(dst, "calc", "calc.go"))
	require.NoError(t, err)
	assert.Contains(t, string(got), "return a + b", "the committed version")
	assert.NoFileExists(t, filepath.Join(dst, "untracked.go"))

	_, err = Snapshot(repo, "no-such-ref", t.TempDir())
	require.Error(t, err)
}
