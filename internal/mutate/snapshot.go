package mutate

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Snapshot writes the files of commit ref (e.g. "HEAD") of the git
// repository at root into dst, through `git archive`, so faults are built
// and run on a fixed tree however others edit the working tree meanwhile.
// It returns the number of files written. Untracked resources the
// features need (ONNX Runtime's node_modules, the ONNX fixtures, the model
// cache) stay where they are: SnapshotEnv points the snapshot at them.
func Snapshot(root, ref, dst string) (int, error) {
	cmd := exec.Command("git", "-C", root, "archive", "--format=tar", ref)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("mutate: git archive %s: %w", ref, err)
	}
	n, extractErr := extract(tar.NewReader(out), dst)
	if extractErr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return n, fmt.Errorf("mutate: git archive %s in %s: %w: %s", ref, root, err, strings.TrimSpace(stderr.String()))
	}
	return n, extractErr
}

// extract writes the regular files, directories and symbolic links of tr
// under dst, refusing names that leave it.
func extract(tr *tar.Reader, dst string) (int, error) {
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("mutate: snapshot: %w", err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return n, fmt.Errorf("mutate: snapshot: entry %q leaves the destination", h.Name)
		}
		path := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeEntry(path, tr, os.FileMode(h.Mode)&0o777)
			n++
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				err = os.Symlink(h.Linkname, path)
			}
		}
		if err != nil {
			return n, fmt.Errorf("mutate: snapshot: %s: %w", h.Name, err)
		}
	}
}

func writeEntry(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SnapshotEnv returns the environment variables that let the features of
// a snapshot use the untracked resources of the work tree at root: ONNX
// Runtime (PTQSPEC_ORT_DIR), the PyTorch-written ONNX fixtures beside the
// tree (PTQSPEC_ONNX_FIXTURES) and the trained-model cache
// (PTQSPEC_CACHE). A variable already set in the environment is kept.
func SnapshotEnv(root string) []string {
	var env []string
	set := func(name, value string) {
		if os.Getenv(name) != "" {
			return
		}
		if _, err := os.Stat(value); err == nil {
			env = append(env, name+"="+value)
		}
	}
	set("PTQSPEC_ORT_DIR", filepath.Join(root, "tools", "onnxruntime"))
	set("PTQSPEC_ONNX_FIXTURES", filepath.Join(filepath.Dir(root), "shared", "onnx"))
	set("PTQSPEC_CACHE", filepath.Join(root, ".cache", "models"))
	return env
}
