package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.bin")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	boom := errors.New("boom")
	cases := []struct {
		name  string
		path  string
		write func(w io.Writer) error
		is    error
		want  string // the file's contents afterwards
	}{
		{"replaces the file", path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, nil, "new"},
		{"write fails after writing: old file kept", path, func(w io.Writer) error {
			io.WriteString(w, "partial")
			return boom
		}, boom, "new"},
		{"missing folder", filepath.Join(dir, "no", "m.bin"), func(io.Writer) error { return nil }, os.ErrNotExist, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := WriteFile(c.path, c.write)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			} else {
				require.NoError(t, err)
			}
			if c.want != "" {
				got, err := os.ReadFile(c.path)
				require.NoError(t, err)
				assert.Equal(t, c.want, string(got))
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file is left behind")
		})
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, Perm, st.Mode().Perm(), "the new file has mode 0644 whatever the old one had")
}

func TestWriteBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.json")
	require.NoError(t, WriteBytes(path, []byte("{}\n")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{}\n", string(got))
}
