package datasets

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	const required = "v0.0.0-20150320212226-2fbe10d0fa63"
	if GoMNISTVersion != required {
		t.Errorf("GoMNISTVersion = %q, want %q", GoMNISTVersion, required)
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(mod)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == GoMNISTModule {
			got = append(got, f[1])
		}
	}
	if len(got) != 1 || got[0] != GoMNISTVersion {
		t.Errorf("go.mod requires %s at %v, want exactly [%s]", GoMNISTModule, got, GoMNISTVersion)
	}
}

func TestMNISTDir(t *testing.T) {
	tmp := t.TempDir()
	tests := []struct {
		name    string
		env     string
		wantDir string // "" means the module's data folder
		wantErr []string
	}{
		{name: "MNIST_DIR wins", env: tmp, wantDir: tmp},
		{name: "MNIST_DIR not a folder", env: filepath.Join(tmp, "missing"),
			wantErr: []string{"MNIST_DIR=", "missing", "is not a folder", "set MNIST_DIR to a folder holding", "unset it"}},
		{name: "module cache", env: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(MNISTDirEnv, tc.env)
			dir, err := MNISTDir()
			if tc.wantErr != nil {
				if !errors.Is(err, ErrMNISTNotFound) {
					t.Fatalf("error = %v, want ErrMNISTNotFound", err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("MNISTDir: %v", err)
			}
			if tc.wantDir != "" {
				if dir != tc.wantDir {
					t.Errorf("MNISTDir = %q, want %q", dir, tc.wantDir)
				}
				return
			}
			if filepath.Base(dir) != "data" || !strings.Contains(dir, GoMNISTVersion) {
				t.Errorf("MNISTDir = %q, want the data folder of %s@%s", dir, GoMNISTModule, GoMNISTVersion)
			}
			for _, base := range []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels} {
				if _, err := os.Stat(filepath.Join(dir, base+".gz")); err != nil {
					t.Errorf("module data folder lacks %s.gz: %v", base, err)
				}
			}
		})
	}
}

func TestGoModuleDirErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		version string
		want    []string
	}{
		{"no go command", map[string]string{"PATH": t.TempDir()}, GoMNISTVersion,
			[]string{"needs the go command, which is not on PATH", "install Go", "set MNIST_DIR"}},
		{"module not resolvable", map[string]string{"GOPROXY": "off", "GOFLAGS": "-mod=mod"}, "v0.0.0-20000101000000-000000000000",
			[]string{"go mod download " + GoMNISTModule + "@v0.0.0-20000101000000-000000000000", "set MNIST_DIR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir, err := goModuleDir(GoMNISTModule, tc.version)
			if !errors.Is(err, ErrMNISTNotFound) {
				t.Fatalf("goModuleDir = %q, %v; want ErrMNISTNotFound", dir, err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadMNISTReal(t *testing.T) {
	t.Setenv(MNISTDirEnv, "")
	start := time.Now()
	train, test, err := LoadMNIST("")
	if err != nil {
		t.Fatalf("LoadMNIST: %v", err)
	}
	t.Logf("first LoadMNIST in this process: %v", time.Since(start))
	tests := []struct {
		name       string
		d          *Dataset
		n          int
		first      []int
		classCount [10]int
		meanPixel  float64
	}{
		{"train", train, 60000, []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
			[10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, 0.1307},
		{"test", test, 10000, []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
			[10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, 0.1325},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if got := d.X.Shape(); !slices.Equal(got, []int{tc.n, 1, 28, 28}) {
				t.Fatalf("X shape = %v, want [%d 1 28 28]", got, tc.n)
			}
			if d.Len() != tc.n || len(d.Labels) != tc.n || d.Classes != 10 {
				t.Fatalf("Len %d, %d labels, %d classes; want %d, %d, 10", d.Len(), len(d.Labels), d.Classes, tc.n, tc.n)
			}
			if !slices.Equal(d.Labels[:10], tc.first) {
				t.Errorf("first labels = %v, want %v", d.Labels[:10], tc.first)
			}
			var counts [10]int
			for _, l := range d.Labels {
				counts[l]++
			}
			if counts != tc.classCount {
				t.Errorf("class counts = %v, want %v", counts, tc.classCount)
			}
			// Every pixel is k/255 for an integer k; checked on the test
			// set only, to keep the race-enabled run short.
			if tc.name == "test" {
				for i, v := range d.X.Data() {
					if k := math.Round(float64(v) * 255); k < 0 || k > 255 || v != float32(k)/255 {
						t.Fatalf("pixel %d = %v is not k/255 for an integer k in [0, 255]", i, v)
					}
				}
			}
			var sum float64
			for _, v := range d.X.Data() {
				sum += float64(v)
			}
			const tol = 5e-4
			if mean := sum / float64(d.X.Len()); math.Abs(mean-tc.meanPixel) > tol {
				t.Errorf("mean pixel = %.5f, want %.4f ± %g", mean, tc.meanPixel, tol)
			}
		})
	}
	t.Run("cached", func(t *testing.T) {
		start := time.Now()
		train2, test2, err := LoadMNIST("")
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
			t.Errorf("cached LoadMNIST took %v, want under 100ms", elapsed)
		}
		if train2.X != train.X || test2.X != test.X || train2 == train {
			t.Errorf("second LoadMNIST did not share the cached tensors in a fresh Dataset")
		}
	})
}

// mnistFiles holds the contents of a small MNIST-like folder.
type mnistFiles map[string][]byte

// smallMNIST returns a valid folder content with nTrain and nTest samples,
// raw (no .gz), pixels i%256 and labels i%10.
func smallMNIST(nTrain, nTest int) mnistFiles {
	images := func(n int) []byte {
		px := make([]byte, n*28*28)
		for i := range px {
			px[i] = byte(i)
		}
		return makeIDX(TypeUint8, []int{n, 28, 28}, px)
	}
	labels := func(n int) []byte {
		l := make([]byte, n)
		for i := range l {
			l[i] = byte(i % 10)
		}
		return makeIDX(TypeUint8, []int{n}, l)
	}
	return mnistFiles{
		MNISTTrainImages: images(nTrain), MNISTTrainLabels: labels(nTrain),
		MNISTTestImages: images(nTest), MNISTTestLabels: labels(nTest),
	}
}

func (m mnistFiles) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range m {
		if b == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadMNISTSmall(t *testing.T) {
	files := smallMNIST(3, 2)
	files[MNISTTrainImages+".gz"] = gz(t, files[MNISTTrainImages]) // .gz is preferred
	files[MNISTTrainImages] = []byte("ignored")
	dir := files.write(t)
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatalf("LoadMNIST: %v", err)
	}
	if !slices.Equal(train.X.Shape(), []int{3, 1, 28, 28}) || !slices.Equal(test.X.Shape(), []int{2, 1, 28, 28}) {
		t.Fatalf("shapes %v, %v; want [3 1 28 28], [2 1 28 28]", train.X.Shape(), test.X.Shape())
	}
	if train.Name != "mnist-train" || test.Name != "mnist-test" {
		t.Errorf("names %q, %q", train.Name, test.Name)
	}
	if !slices.Equal(train.Labels, []int{0, 1, 2}) || !slices.Equal(test.Labels, []int{0, 1}) {
		t.Errorf("labels %v, %v", train.Labels, test.Labels)
	}
	for _, idx := range []int{0, 1, 255, 256, 1000} {
		want := float32(idx%256) / 255
		if got := train.X.Data()[idx]; got != want {
			t.Errorf("pixel %d = %v, want %v", idx, got, want)
		}
	}
	t.Run("MNIST_DIR used for an empty dir", func(t *testing.T) {
		t.Setenv(MNISTDirEnv, dir)
		tr, _, err := LoadMNIST("")
		if err != nil || tr.X != train.X {
			t.Errorf("LoadMNIST(\"\") with MNIST_DIR = %q: %v, want the cached small set", dir, err)
		}
	})
}

func TestLoadMNISTErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(t *testing.T, m mnistFiles)
		wantIs []error
		want   []string // substrings of the message
	}{
		{"wrong magic: labels where images belong", func(t *testing.T, m mnistFiles) {
			m[MNISTTrainImages] = m[MNISTTrainLabels]
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTrainImages + ": offset 0: magic 0x00000801 is not an MNIST image file (want 0x00000803"}},
		{"wrong magic: images where labels belong", func(t *testing.T, m mnistFiles) {
			m[MNISTTestLabels] = m[MNISTTestImages]
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTestLabels + ": offset 0: magic 0x00000803 is not an MNIST label file (want 0x00000801"}},
		{"not IDX at all", func(t *testing.T, m mnistFiles) {
			m[MNISTTrainLabels] = []byte("hello world")
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTrainLabels + ": offset 0: bad magic 0x68656c6c"}},
		{"truncated gzip'd images", func(t *testing.T, m mnistFiles) {
			b := m[MNISTTestImages]
			m[MNISTTestImages] = nil
			m[MNISTTestImages+".gz"] = gz(t, b[:16+1200])
		}, []error{ErrCorrupt, ErrTruncated}, []string{"datasets: " + MNISTTestImages + ".gz: offset 16: truncated data: want 1568 bytes (2x28x28 uint8), got 1200"}},
		{"trailing bytes in labels", func(t *testing.T, m mnistFiles) {
			m[MNISTTrainLabels] = append(m[MNISTTrainLabels], 0)
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTrainLabels + ": offset 11: trailing data"}},
		{"count mismatch", func(t *testing.T, m mnistFiles) {
			m[MNISTTrainLabels] = makeIDX(TypeUint8, []int{4}, []byte{1, 2, 3, 4})
		}, []error{ErrCountMismatch}, []string{MNISTTrainImages + " holds 3 images but " + MNISTTrainLabels + " holds 4 labels"}},
		{"wrong image dimensions", func(t *testing.T, m mnistFiles) {
			m[MNISTTrainImages] = makeIDX(TypeUint8, []int{3, 27, 28}, make([]byte, 3*27*28))
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTrainImages + ": offset 4: image dimensions 3x27x28, want Nx28x28"}},
		{"label out of range", func(t *testing.T, m mnistFiles) {
			m[MNISTTestLabels] = makeIDX(TypeUint8, []int{2}, []byte{3, 10})
		}, []error{ErrCorrupt}, []string{"datasets: " + MNISTTestLabels + ": offset 9: label 10 of sample 1 is outside 0..9"}},
		{"missing file", func(t *testing.T, m mnistFiles) {
			m[MNISTTestLabels] = nil
		}, []error{fs.ErrNotExist}, []string{"has neither " + MNISTTestLabels + ".gz nor " + MNISTTestLabels, "set MNIST_DIR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := smallMNIST(3, 2)
			tc.edit(t, m)
			train, test, err := LoadMNIST(m.write(t))
			if err == nil {
				t.Fatalf("LoadMNIST = %v, %v; want an error", train, test)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadMNISTMissingFolder(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
	}{
		{"no such folder", filepath.Join(tmp, "nope")},
		{"a file, not a folder", file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadMNIST(tc.dir)
			if !errors.Is(err, fs.ErrNotExist) || strings.Count(err.Error(), "\n") != 0 ||
				!strings.Contains(err.Error(), "datasets: MNIST folder "+tc.dir) || !strings.Contains(err.Error(), "set MNIST_DIR") {
				t.Errorf("error = %v, want one line naming %s and MNIST_DIR, matching fs.ErrNotExist", err, tc.dir)
			}
		})
	}
}

func TestLoadMNISTErrorNotCached(t *testing.T) {
	m := smallMNIST(2, 1)
	good := m[MNISTTestLabels]
	m[MNISTTestLabels] = []byte{0, 0}
	dir := m.write(t)
	if _, _, err := LoadMNIST(dir); !errors.Is(err, ErrTruncated) {
		t.Fatalf("LoadMNIST on a truncated label file: %v, want ErrTruncated", err)
	}
	if err := os.WriteFile(filepath.Join(dir, MNISTTestLabels), good, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, test, err := LoadMNIST(dir); err != nil || test.Len() != 1 {
		t.Fatalf("LoadMNIST after the fix: %v, want 1 test sample", err)
	}
}
