package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Perm is the mode of the files WriteFile creates: none of the project's
// files hold secrets.
const Perm os.FileMode = 0o644

// WriteFile replaces path with what write produces, atomically. write fills
// a temporary file in path's folder (named after path, ending in ".tmp"
// and a random suffix) through a buffer; the file is then flushed,
// synced to disk, closed, given mode Perm and renamed over path, and the
// folder is synced so that the rename itself survives a crash. path thus
// holds either its old contents or the whole new file, never a part, and
// on every error (write's included) the temporary file is removed.
//
// write's own error is returned unwrapped, so callers keep its message;
// the errors of the file system name the path.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // harmless when already closed
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chmod(Perm); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err // *os.LinkError names both paths
	}
	return syncDir(dir)
}

// WriteBytes replaces path with data, atomically (see WriteFile).
func WriteBytes(path string, data []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir syncs a folder, so that a rename in it is on disk. File systems
// that cannot sync a folder (EINVAL on some) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to sync it: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil && !errors.Is(serr, errInvalid) {
		return fmt.Errorf("sync folder %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("close folder %s: %w", dir, cerr)
	}
	return nil
}
