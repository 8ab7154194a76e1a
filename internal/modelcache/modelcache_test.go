package modelcache

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// fakeTrainer builds an untrained small MLP instead of training on MNIST
// and counts its calls.
type fakeTrainer struct{ calls atomic.Int64 }

func (f *fakeTrainer) train(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error) {
	f.calls.Add(1)
	g, err := models.MLP(seed, 4)
	if err != nil {
		return nil, TrainInfo{}, err
	}
	return g, TrainInfo{Model: name, Seed: seed, Epochs: epochs, FormatVersion: FormatVersion, TestAccuracy: 0.5}, nil
}

// probe returns g's outputs on a fixed input.
func probe(t *testing.T, g *nn.Graph) []float32 {
	t.Helper()
	x := tensor.New(2, 1, 28, 28)
	for i := range x.Data() {
		x.Data()[i] = float32(i%97) / 97
	}
	y, err := g.Forward(x, nn.Eval)
	if err != nil {
		t.Fatal(err)
	}
	return y.Data()
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestKey(t *testing.T) {
	base, err := Key("mlp", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^mlp-s1-e3-v2-[0-9a-f]{8}$`).MatchString(base) {
		t.Fatalf("Key = %q, want mlp-s1-e3-v2-<8 hex digits>", base)
	}
	cases := []struct {
		name    string
		model   string
		seed    uint64
		epochs  int
		want    string // a regular expression
		wantErr bool
	}{
		{"same request", "mlp", 1, 3, "^" + base + "$", false},
		{"other seed", "mlp", 2, 3, `^mlp-s2-e3-v2-[0-9a-f]{8}$`, false},
		{"other epochs", "mlp", 1, 1, `^mlp-s1-e1-v2-[0-9a-f]{8}$`, false},
		{"cnn", "cnn", 1 << 40, 3, `^cnn-s1099511627776-e3-v2-[0-9a-f]{8}$`, false},
		{"unknown model", "vgg", 1, 3, "", true},
		{"zero epochs", "mlp", 1, 0, "", true},
	}
	fingerprints := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Key(c.model, c.seed, c.epochs)
			if c.wantErr {
				if !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("Key error = %v, want ErrInvalidRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(c.want).MatchString(got) {
				t.Fatalf("Key = %q, want %s", got, c.want)
			}
			fingerprints[c.name] = got[len(got)-8:]
		})
	}
	if fingerprints["other seed"] == fingerprints["same request"] {
		t.Error("another seed's initial weights gave the same fingerprint")
	}
}

func TestGetTrainsOnceThenLoads(t *testing.T) {
	var f fakeTrainer
	dir := t.TempDir()
	c := newCache(dir, f.train)
	g1, info1, err := c.Get("mlp", 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if info1.Cached || f.calls.Load() != 1 {
		t.Fatalf("first Get: cached %v after %d trainings, want a fresh training", info1.Cached, f.calls.Load())
	}
	// A second cache on the same folder stands for another process.
	for _, c2 := range []*Cache{c, newCache(dir, f.train)} {
		g2, info2, err := c2.Get("mlp", 5, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !info2.Cached || f.calls.Load() != 1 {
			t.Fatalf("second Get: cached %v after %d trainings, want a load", info2.Cached, f.calls.Load())
		}
		if info2.TestAccuracy != info1.TestAccuracy || filepath.Dir(info2.Path) != dir {
			t.Fatalf("loaded info %+v differs from stored %+v", info2, info1)
		}
		if !sameBits(probe(t, g1), probe(t, g2)) {
			t.Fatal("loaded model's outputs differ from the trained model's")
		}
		if g1 == g2 {
			t.Fatal("Get returned a shared graph")
		}
	}
	// Another seed or epoch count is another entry.
	for _, k := range []struct {
		seed   uint64
		epochs int
	}{{6, 2}, {5, 3}} {
		if _, _, err := c.Get("mlp", k.seed, k.epochs); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("%d trainings, want 3", got)
	}
}

func TestGetReplacesDamagedEntries(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, modelPath string)
	}{
		{"flipped model byte", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing model", func(t *testing.T, p string) { os.Remove(p) }},
		{"missing info", func(t *testing.T, p string) { os.Remove(infoPath(p)) }},
		{"garbled info", func(t *testing.T, p string) { os.WriteFile(infoPath(p), []byte("{"), 0o644) }},
		{"info of another key", func(t *testing.T, p string) {
			os.WriteFile(infoPath(p), []byte(`{"key":"cnn-s5-e2-v1-00000000","model":"cnn","seed":5,"epochs":2}`), 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f fakeTrainer
			c := newCache(t.TempDir(), f.train)
			_, info, err := c.Get("mlp", 5, 2)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, info.Path)
			g, info, err := c.Get("mlp", 5, 2)
			if err != nil {
				t.Fatal(err)
			}
			if info.Cached || f.calls.Load() != 2 {
				t.Fatalf("after damage: cached %v after %d trainings, want a retraining", info.Cached, f.calls.Load())
			}
			_, info, err = c.Get("mlp", 5, 2)
			if err != nil || !info.Cached || g == nil {
				t.Fatalf("after retraining: cached %v, err %v; want the repaired entry", info.Cached, err)
			}
		})
	}
}

func TestGetConcurrentTrainsOnce(t *testing.T) {
	var f fakeTrainer
	c := newCache(t.TempDir(), f.train)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = c.Get("mlp", 1, 1) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("%d trainings for one key, want 1", got)
	}
}

func TestBadRequests(t *testing.T) {
	var f fakeTrainer
	c := newCache(t.TempDir(), f.train)
	cases := []struct {
		name string
		run  func() error
	}{
		{"Get zero epochs", func() error { _, _, err := c.Get("mlp", 1, 0); return err }},
		{"Train zero epochs", func() error { _, _, err := Train("mlp", 1, 0, Options{}); return err }},
		{"Train negative limit", func() error { _, _, err := Train("mlp", 1, 1, Options{Limit: -1}); return err }},
		{"Train unknown model", func() error { _, _, err := Train("vgg", 1, 1, Options{}); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
	if f.calls.Load() != 0 {
		t.Fatal("a bad request reached the trainer")
	}
}

func TestDefaultDir(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "steps", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("// comment\nmodule github.com/ptqspec/ptqspec\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  string
		wd   string
		want string
	}{
		{"env wins", "/somewhere/cache", sub, "/somewhere/cache"},
		{"module root from a subfolder", "", sub, filepath.Join(root, ".cache", "models")},
		{"module root itself", "", root, filepath.Join(root, ".cache", "models")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(DirEnv, c.env)
			t.Chdir(c.wd)
			got, err := DefaultDir()
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("DefaultDir() = %q, want %q", got, c.want)
			}
		})
	}
	t.Run("outside the module", func(t *testing.T) {
		userCache := t.TempDir()
		t.Setenv(DirEnv, "")
		t.Setenv("XDG_CACHE_HOME", userCache)
		t.Chdir(other)
		got, err := DefaultDir()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(userCache, "ptqspec", "models"); got != want {
			t.Fatalf("DefaultDir() = %q, want %q", got, want)
		}
	})
}

// TestTrainOnAFewImages trains the real MLP on 1,000 MNIST images for one
// epoch: a smoke test of the recipe, the data and the evaluation.
func TestTrainOnAFewImages(t *testing.T) {
	var logged []EpochInfo
	g, info, err := Train("mlp", 1, 1, Options{Limit: 1000, Log: func(e EpochInfo) { logged = append(logged, e) }})
	if err != nil {
		t.Fatal(err)
	}
	const minAccuracy = 0.70 // one epoch of 1,000 images; about 0.85 observed
	switch {
	case info.TrainImages != 1000 || info.Epochs != 1 || info.Model != "mlp" || info.FormatVersion != FormatVersion:
		t.Fatalf("info = %+v", info)
	case len(logged) != 1 || len(info.EpochStats) != 1 || logged[0] != info.EpochStats[0]:
		t.Fatalf("logged %v, recorded %v; want one epoch each", logged, info.EpochStats)
	case info.Params != g.NumParams() || info.TrainSeconds <= 0 || info.ImagesPerSecond <= 0:
		t.Fatalf("info = %+v", info)
	case info.TestAccuracy < minAccuracy:
		t.Fatalf("test accuracy %.4f, want >= %.2f", info.TestAccuracy, minAccuracy)
	}
}
