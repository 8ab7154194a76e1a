package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteFiles writes the fixture run whole, then under a cancelled
// context: each file is complete with mode 0644, progress counts every
// file, no temporary file is left, and a cancelled write adds nothing.
func TestWriteFiles(t *testing.T) {
	r := testRun(t)
	cases := []struct {
		name      string
		cancelled bool
		wantFiles bool
	}{
		{"whole run", false, true},
		{"cancelled before the first file", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithCancel(context.Background())
			if c.cancelled {
				cancel()
			} else {
				defer cancel()
			}
			var calls, last, total int
			paths, err := WriteFiles(ctx, dir, r, func(done, n int) { calls, last, total = calls+1, done, n })
			entries, rerr := os.ReadDir(dir)
			require.NoError(t, rerr)
			for _, e := range entries {
				assert.NotContains(t, e.Name(), ".tmp", "temporary file left")
			}
			if !c.wantFiles {
				require.ErrorIs(t, err, context.Canceled)
				assert.Empty(t, paths)
				assert.Empty(t, entries)
				assert.Zero(t, calls)
				return
			}
			require.NoError(t, err)
			assert.Len(t, entries, len(paths))
			assert.Equal(t, len(paths), calls)
			assert.Equal(t, len(paths), last)
			assert.Equal(t, len(paths), total)
			for _, p := range paths {
				fi, err := os.Stat(p)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), p)
				if strings.HasSuffix(p, ".html") {
					raw, err := os.ReadFile(p)
					require.NoError(t, err)
					assert.True(t, strings.HasSuffix(strings.TrimSpace(string(raw)), "</html>"), "%s is whole", p)
				}
			}
		})
	}
}
