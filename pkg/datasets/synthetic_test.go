package datasets

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// moments returns the mean and population standard deviation of xs.
func moments(xs []float32) (mean, std float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

func TestBlobsConfigErrors(t *testing.T) {
	ok := BlobsConfig{Samples: 10, Features: 2, Classes: 2, Spread: 1, Seed: 1}
	tests := []struct {
		name string
		edit func(c *BlobsConfig)
		want string
	}{
		{"zero samples", func(c *BlobsConfig) { c.Samples = 0 }, "datasets: Blobs: Samples = 0, want > 0"},
		{"negative features", func(c *BlobsConfig) { c.Features = -3 }, "datasets: Blobs: Features = -3, want > 0"},
		{"zero classes", func(c *BlobsConfig) { c.Classes = 0 }, "datasets: Blobs: Classes = 0, want > 0"},
		{"negative spread", func(c *BlobsConfig) { c.Spread = -0.5 }, "datasets: Blobs: Spread = -0.5, want a finite value >= 0"},
		{"NaN spread", func(c *BlobsConfig) { c.Spread = math.NaN() }, "datasets: Blobs: Spread = NaN, want a finite value >= 0"},
		{"infinite spread", func(c *BlobsConfig) { c.Spread = math.Inf(1) }, "datasets: Blobs: Spread = +Inf, want a finite value >= 0"},
		{"too large", func(c *BlobsConfig) { c.Samples, c.Features = 1<<20, 1<<11 },
			"datasets: Blobs: Samples*Features = 1048576*2048, want at most 1073741824 elements"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			d, err := Blobs(cfg)
			var ce *ConfigError
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &ce) {
				t.Errorf("Blobs = %v, %v; want %q", d, err, tc.want)
			}
		})
	}
}

func TestBlobs(t *testing.T) {
	tests := []struct {
		name string
		cfg  BlobsConfig
	}{
		{"3 classes in 4-d", BlobsConfig{Samples: 3000, Features: 4, Classes: 3, Spread: 0.5, Seed: 1}},
		{"uneven classes", BlobsConfig{Samples: 1001, Features: 2, Classes: 10, Spread: 2, Seed: 42}},
		{"zero spread", BlobsConfig{Samples: 20, Features: 3, Classes: 4, Spread: 0, Seed: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Blobs(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			c := tc.cfg
			if !slices.Equal(d.X.Shape(), []int{c.Samples, c.Features}) || d.Classes != c.Classes {
				t.Fatalf("shape %v, %d classes", d.X.Shape(), d.Classes)
			}
			again, _ := Blobs(c)
			if !slices.Equal(d.X.Data(), again.X.Data()) || !slices.Equal(d.Labels, again.Labels) {
				t.Errorf("same config gave different bits")
			}
			c.Seed++
			other, _ := Blobs(c)
			if slices.Equal(d.X.Data(), other.X.Data()) {
				t.Errorf("different seeds gave the same bits")
			}
			// Round-robin labels; per class and feature, the samples have
			// standard deviation Spread and their mean lies in the center box.
			for i, l := range d.Labels {
				if l != i%c.Classes {
					t.Fatalf("label %d = %d, want %d", i, l, i%c.Classes)
				}
			}
			for k := range c.Classes {
				for f := range c.Features {
					var xs []float32
					for i := k; i < c.Samples; i += c.Classes {
						xs = append(xs, d.X.At(i, f))
					}
					mean, std := moments(xs)
					if math.Abs(mean) > BlobsCenterBox+5*c.Spread {
						t.Errorf("class %d feature %d: mean %.3f outside the center box", k, f, mean)
					}
					// Five standard errors of a sample standard deviation.
					if tol := 5 * c.Spread / math.Sqrt(2*float64(len(xs))); c.Spread > 0 && math.Abs(std-c.Spread) > tol {
						t.Errorf("class %d feature %d: std %.4f, want %.4f ± %.4f", k, f, std, c.Spread, tol)
					}
					if c.Spread == 0 && std != 0 {
						t.Errorf("class %d feature %d: std %g with zero spread", k, f, std)
					}
				}
			}
		})
	}
}

func TestDistributions(t *testing.T) {
	tests := []struct {
		name               string
		d                  *Dataset
		again              *Dataset
		shape              []int
		mean, std, tol     float64
		lo, hi             float64 // every element lies in [lo, hi]
		meanAbs, meanAbsTo float64 // mean |x| and its tolerance, if meanAbsTo > 0
	}{
		{name: "RandomImages", d: RandomImages(100, 3, 8, 8, 1), again: RandomImages(100, 3, 8, 8, 1), shape: []int{100, 3, 8, 8},
			mean: 0, std: 1, tol: 0.02, lo: -7, hi: 7},
		{name: "Gaussian", d: Gaussian(500, []int{40}, 3, 0.5, 9), again: Gaussian(500, []int{40}, 3, 0.5, 9), shape: []int{500, 40},
			mean: 3, std: 0.5, tol: 0.01, lo: 3 - 3.5, hi: 3 + 3.5},
		{name: "Uniform", d: Uniform(1000, []int{2, 10}, -2, 6, 4), again: Uniform(1000, []int{2, 10}, -2, 6, 4), shape: []int{1000, 2, 10},
			mean: 2, std: 8 / math.Sqrt(12), tol: 0.05, lo: -2, hi: 6},
		{name: "Laplace", d: Laplace(1000, []int{20}, 0.5, 5), again: Laplace(1000, []int{20}, 0.5, 5), shape: []int{1000, 20},
			mean: 0, std: 0.5 * math.Sqrt2, tol: 0.02, lo: -20, hi: 20, meanAbs: 0.5, meanAbsTo: 0.01},
		{name: "Constant", d: Constant(7, []int{3}, -1.25), again: Constant(7, []int{3}, -1.25), shape: []int{7, 3},
			mean: -1.25, std: 0, tol: 0, lo: -1.25, hi: -1.25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if !slices.Equal(d.X.Shape(), tc.shape) || d.Labels != nil || d.Classes != 0 {
				t.Fatalf("shape %v labels %v classes %d; want %v, unlabelled", d.X.Shape(), d.Labels, d.Classes, tc.shape)
			}
			if !slices.Equal(d.X.Data(), tc.again.X.Data()) {
				t.Errorf("same arguments gave different bits")
			}
			mean, std := moments(d.X.Data())
			if math.Abs(mean-tc.mean) > tc.tol || math.Abs(std-tc.std) > tc.tol {
				t.Errorf("mean %.4f std %.4f, want %.4f and %.4f ± %g", mean, std, tc.mean, tc.std, tc.tol)
			}
			var abs float64
			for _, v := range d.X.Data() {
				if float64(v) < tc.lo || float64(v) > tc.hi {
					t.Fatalf("element %v outside [%g, %g]", v, tc.lo, tc.hi)
				}
				abs += math.Abs(float64(v))
			}
			if abs /= float64(d.X.Len()); tc.meanAbsTo > 0 && math.Abs(abs-tc.meanAbs) > tc.meanAbsTo {
				t.Errorf("mean |x| = %.4f, want %.4f ± %g", abs, tc.meanAbs, tc.meanAbsTo)
			}
		})
	}
	if slices.Equal(Gaussian(10, []int{3}, 0, 1, 1).X.Data(), Gaussian(10, []int{3}, 0, 1, 2).X.Data()) {
		t.Errorf("Gaussian: seeds 1 and 2 gave the same bits")
	}
}

func TestGeneratorPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"RandomImages negative", func() { RandomImages(2, -1, 3, 3, 0) }, "datasets: RandomImages: dimension 1 of [2 -1 3 3] = -1, want >= 0"},
		{"Gaussian negative n", func() { Gaussian(-1, []int{2}, 0, 1, 0) }, "datasets: Gaussian: dimension 0 of [-1 2] = -1, want >= 0"},
		{"Uniform too large", func() { Uniform(1<<16, []int{1 << 16}, 0, 1, 0) }, "datasets: Uniform: shape = [65536 65536], want at most 1073741824 elements"},
		{"Constant negative", func() { Constant(1, []int{-4}, 0) }, "datasets: Constant: dimension 1 of [1 -4] = -4, want >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, ok := recover().(error)
				if !ok || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("panic value %v, want the error %q", err, tc.want)
				}
			}()
			tc.f()
		})
	}
	if d := Gaussian(0, []int{4}, 0, 1, 0); d.Len() != 0 || !slices.Equal(d.X.Shape(), []int{0, 4}) {
		t.Errorf("Gaussian with n = 0: shape %v", d.X.Shape())
	}
}

func TestWithOutliers(t *testing.T) {
	base := Uniform(100, []int{10}, 1, 2, 3) // no element is 0, so every chosen one changes
	tests := []struct {
		name     string
		fraction float64
		scale    float64
		want     int // changed elements
	}{
		{"none", 0, 50, 0},
		{"one percent", 0.01, 50, 10},
		{"rounded count", 0.00149, 50, 1},
		{"most", 0.9, -3, 900},
		{"all", 1, 10, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := WithOutliers(base, tc.fraction, tc.scale, 11)
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for i, v := range d.X.Data() {
				o := base.X.Data()[i]
				switch v {
				case o:
				case float32(float64(o) * tc.scale):
					changed++
				default:
					t.Fatalf("element %d = %v, neither %v nor %v × %g", i, v, o, o, tc.scale)
				}
			}
			if changed != tc.want {
				t.Errorf("%d elements changed, want %d", changed, tc.want)
			}
			again, _ := WithOutliers(base, tc.fraction, tc.scale, 11)
			if !slices.Equal(d.X.Data(), again.X.Data()) {
				t.Errorf("same seed gave different bits")
			}
			if !strings.HasPrefix(d.Name, base.Name) {
				t.Errorf("Name %q does not start with %q", d.Name, base.Name)
			}
		})
	}
	t.Run("labels copied, receiver untouched", func(t *testing.T) {
		d := rowsDataset(20, 4)
		orig := d.Clone()
		o, err := WithOutliers(d, 0.5, 100, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(o.Labels, d.Labels) || o.Classes != 4 || !slices.Equal(d.X.Data(), orig.X.Data()) {
			t.Errorf("labels %v classes %d; receiver changed: %v", o.Labels, o.Classes, !slices.Equal(d.X.Data(), orig.X.Data()))
		}
		o.Labels[0] = 3
		if d.Labels[0] != 0 {
			t.Errorf("labels shared with the receiver")
		}
	})
	errTests := []struct {
		name     string
		d        *Dataset
		fraction float64
		scale    float64
		want     string
	}{
		{"negative fraction", base, -0.1, 2, "datasets: WithOutliers: fraction = -0.1, want a value in [0, 1]"},
		{"fraction above one", base, 1.5, 2, "datasets: WithOutliers: fraction = 1.5, want a value in [0, 1]"},
		{"NaN fraction", base, math.NaN(), 2, "datasets: WithOutliers: fraction = NaN, want a value in [0, 1]"},
		{"infinite scale", base, 0.1, math.Inf(-1), "datasets: WithOutliers: scale = -Inf, want a finite value"},
		{"no X", &Dataset{Name: "e"}, 0.1, 2, `datasets: Dataset "e": X = nil, want a tensor of shape [N, ...]`},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := WithOutliers(tc.d, tc.fraction, tc.scale, 1); err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestScaleChannels(t *testing.T) {
	d := Constant(2, []int{3, 2, 2}, 1)
	d.Labels, d.Classes = []int{0, 1}, 2
	s, err := ScaleChannels(d, []float64{0.01, 1, 10})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 2 {
		for c, want := range []float32{0.01, 1, 10} {
			for h := range 2 {
				for w := range 2 {
					if got := s.X.At(n, c, h, w); got != want {
						t.Fatalf("X[%d,%d,%d,%d] = %v, want %v", n, c, h, w, got, want)
					}
				}
			}
		}
	}
	if d.X.At(0, 2, 0, 0) != 1 || !slices.Equal(s.Labels, []int{0, 1}) {
		t.Errorf("receiver changed or labels lost")
	}
	flat := tensor.MustFromData([]float32{1, 2, 3, 4}, 2, 2)
	errTests := []struct {
		name   string
		d      *Dataset
		scales []float64
		want   string
	}{
		{"rank 1", &Dataset{X: tensor.New(4)}, []float64{1}, "datasets: ScaleChannels: X shape = [4], want at least 2 dimensions [N, C, ...]"},
		{"wrong count", &Dataset{X: flat}, []float64{1, 2, 3}, "datasets: ScaleChannels: len(scales) = 3, want 2, the channel count of X [2 2]"},
		{"NaN scale", &Dataset{X: flat}, []float64{1, math.NaN()}, "datasets: ScaleChannels: scales[1] = NaN, want a finite value"},
		{"nil data set", nil, []float64{1}, "datasets: Dataset: dataset = nil, want a data set"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ScaleChannels(tc.d, tc.scales); err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
