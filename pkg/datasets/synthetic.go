package datasets

import (
	"fmt"
	"math"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// MaxSyntheticElements is the most elements a synthetic generator makes in
// one data set (2^30, 4 GiB of float32).
const MaxSyntheticElements = 1 << 30

// BlobsCenterBox bounds the class centers of Blobs: every coordinate of a
// center is drawn uniformly from [-BlobsCenterBox, BlobsCenterBox].
const BlobsCenterBox = 10.0

// BlobsConfig configures Blobs.
type BlobsConfig struct {
	Samples  int     // number of samples, > 0
	Features int     // features per sample, > 0
	Classes  int     // number of classes (blobs), > 0
	Spread   float64 // standard deviation of each blob around its center, finite and >= 0
	Seed     uint64  // seed of the PCG generator
}

// Blobs returns labelled Gaussian blobs: X has shape [Samples, Features],
// sample i belongs to class i mod Classes (so every class has
// Samples/Classes samples, give or take one, and any run of Classes
// consecutive samples holds one of each), and is its class center plus
// independent N(0, Spread²) noise in each feature. The centers are drawn
// first, uniformly in [-BlobsCenterBox, BlobsCenterBox] per coordinate. The
// same config gives the same bits. An invalid field is a *ConfigError naming
// it.
func Blobs(cfg BlobsConfig) (*Dataset, error) {
	const fn = "Blobs"
	switch {
	case cfg.Samples <= 0:
		return nil, &ConfigError{Func: fn, Field: "Samples", Value: cfg.Samples, Want: "> 0"}
	case cfg.Features <= 0:
		return nil, &ConfigError{Func: fn, Field: "Features", Value: cfg.Features, Want: "> 0"}
	case cfg.Classes <= 0:
		return nil, &ConfigError{Func: fn, Field: "Classes", Value: cfg.Classes, Want: "> 0"}
	case math.IsNaN(cfg.Spread) || math.IsInf(cfg.Spread, 0) || cfg.Spread < 0:
		return nil, &ConfigError{Func: fn, Field: "Spread", Value: cfg.Spread, Want: "a finite value >= 0"}
	case cfg.Features > MaxSyntheticElements/cfg.Samples || cfg.Features > MaxSyntheticElements/cfg.Classes:
		return nil, &ConfigError{Func: fn, Field: "Samples*Features", Value: fmt.Sprintf("%d*%d", cfg.Samples, cfg.Features),
			Want: fmt.Sprintf("at most %d elements", MaxSyntheticElements)}
	}
	r := newRand(cfg.Seed)
	centers := make([]float64, cfg.Classes*cfg.Features)
	for i := range centers {
		centers[i] = (2*r.Float64() - 1) * BlobsCenterBox
	}
	data := make([]float32, cfg.Samples*cfg.Features)
	labels := make([]int, cfg.Samples)
	for i := range labels {
		c := i % cfg.Classes
		labels[i] = c
		center := centers[c*cfg.Features : (c+1)*cfg.Features]
		row := data[i*cfg.Features : (i+1)*cfg.Features]
		for j := range row {
			row[j] = float32(center[j] + cfg.Spread*r.NormFloat64())
		}
	}
	return &Dataset{
		Name:    fmt.Sprintf("blobs(%d samples, %d features, %d classes, seed %d)", cfg.Samples, cfg.Features, cfg.Classes, cfg.Seed),
		X:       tensor.MustFromData(data, cfg.Samples, cfg.Features),
		Labels:  labels,
		Classes: cfg.Classes,
	}, nil
}

// checkShape returns [n, shape...] and its element count. Negative sizes
// and sizes above MaxSyntheticElements are programming errors: it panics
// with a *ConfigError.
func checkShape(fn string, n int, shape []int) ([]int, int) {
	full := append([]int{n}, shape...)
	total := 1
	for i, d := range full {
		if d < 0 {
			panic(&ConfigError{Func: fn, Field: fmt.Sprintf("dimension %d of %v", i, full), Value: d, Want: ">= 0"})
		}
		if d > 0 && total > MaxSyntheticElements/d {
			panic(&ConfigError{Func: fn, Field: "shape", Value: full, Want: fmt.Sprintf("at most %d elements", MaxSyntheticElements)})
		}
		total *= d
	}
	return full, total
}

// fill returns an unlabelled data set of shape [n, shape...] whose elements
// are drawn in row-major order by next.
func fill(name string, full []int, total int, next func() float64) *Dataset {
	data := make([]float32, total)
	for i := range data {
		data[i] = float32(next())
	}
	return &Dataset{Name: name, X: tensor.MustFromData(data, full...)}
}

// RandomImages returns n unlabelled images of shape [n, c, h, w] whose
// pixels are independent N(0, 1), like normalised image inputs. Labels is
// nil and Classes 0. The same arguments give the same bits. It panics with a
// *ConfigError if a size is negative or the set has more than
// MaxSyntheticElements elements.
func RandomImages(n, c, h, w int, seed uint64) *Dataset {
	full, total := checkShape("RandomImages", n, []int{c, h, w})
	r := newRand(seed)
	return fill(fmt.Sprintf("random-images(%dx%dx%dx%d, seed %d)", n, c, h, w, seed), full, total, r.NormFloat64)
}

// Gaussian returns n unlabelled samples of the given shape, X of shape
// [n, shape...], whose elements are independent N(mean, std²). The same
// arguments give the same bits. It panics with a *ConfigError if a size is
// negative or the set is too large (see RandomImages).
func Gaussian(n int, shape []int, mean, std float64, seed uint64) *Dataset {
	full, total := checkShape("Gaussian", n, shape)
	r := newRand(seed)
	return fill(fmt.Sprintf("gaussian(%v, mean %g, std %g, seed %d)", full, mean, std, seed), full, total,
		func() float64 { return mean + std*r.NormFloat64() })
}

// Uniform returns n unlabelled samples of the given shape whose elements
// are independent and uniform in [lo, hi). The same arguments give the same
// bits. It panics with a *ConfigError if a size is negative or the set is
// too large (see RandomImages).
func Uniform(n int, shape []int, lo, hi float64, seed uint64) *Dataset {
	full, total := checkShape("Uniform", n, shape)
	r := newRand(seed)
	return fill(fmt.Sprintf("uniform(%v, [%g, %g), seed %d)", full, lo, hi, seed), full, total,
		func() float64 { return lo + (hi-lo)*r.Float64() })
}

// Laplace returns n unlabelled samples of the given shape whose elements
// are independent Laplace(0, scale): heavier tailed than a Gaussian, like
// trained weights and many activations. The same arguments give the same
// bits. It panics with a *ConfigError if a size is negative or the set is
// too large (see RandomImages).
func Laplace(n int, shape []int, scale float64, seed uint64) *Dataset {
	full, total := checkShape("Laplace", n, shape)
	r := newRand(seed)
	return fill(fmt.Sprintf("laplace(%v, scale %g, seed %d)", full, scale, seed), full, total,
		func() float64 {
			v := scale * r.ExpFloat64()
			if r.Uint64()&1 == 1 {
				v = -v
			}
			return v
		})
}

// Constant returns n unlabelled samples of the given shape whose every
// element equals value: the degenerate input whose quantization range is
// empty. It panics with a *ConfigError if a size is negative or the set is
// too large (see RandomImages).
func Constant(n int, shape []int, value float32) *Dataset {
	full, total := checkShape("Constant", n, shape)
	d := fill(fmt.Sprintf("constant(%v, %g)", full, value), full, total, func() float64 { return 0 })
	d.X.Fill(value)
	return d
}

// WithOutliers returns a copy of d in which round(fraction × d.X.Len())
// elements, chosen uniformly without replacement by seed, are multiplied by
// scale: a heavy-tailed variant for comparing calibration methods (MinMax
// follows the outliers, percentile, entropy and MSE clip them). Labels are
// copied unchanged. fraction must lie in [0, 1] and scale be finite; an
// invalid argument or data set is a *ConfigError naming it.
func WithOutliers(d *Dataset, fraction, scale float64, seed uint64) (*Dataset, error) {
	const fn = "WithOutliers"
	if err := d.Validate(); err != nil {
		return nil, err
	}
	switch {
	case math.IsNaN(fraction) || fraction < 0 || fraction > 1:
		return nil, &ConfigError{Func: fn, Field: "fraction", Value: fraction, Want: "a value in [0, 1]"}
	case math.IsNaN(scale) || math.IsInf(scale, 0):
		return nil, &ConfigError{Func: fn, Field: "scale", Value: scale, Want: "a finite value"}
	}
	out := d.Clone()
	out.Name = fmt.Sprintf("%s+outliers(%g, x%g, seed %d)", d.Name, fraction, scale, seed)
	data := out.X.Data()
	total := len(data)
	k := int(math.Round(fraction * float64(total)))
	for _, i := range chooseIndices(total, k, seed) {
		data[i] = float32(float64(data[i]) * scale)
	}
	return out, nil
}

// chooseIndices returns k distinct indices in [0, n), ascending, chosen
// uniformly by seed.
func chooseIndices(n, k int, seed uint64) []int {
	r := newRand(seed)
	invert := k > n/2
	pick := k
	if invert {
		pick = n - k
	}
	marked := make([]bool, n)
	for c := 0; c < pick; {
		i := r.IntN(n)
		if !marked[i] {
			marked[i] = true
			c++
		}
	}
	out := make([]int, 0, k)
	for i, m := range marked {
		if m != invert {
			out = append(out, i)
		}
	}
	return out
}

// ScaleChannels returns a copy of d whose channel c (dimension 1 of X) is
// multiplied by scales[c]: inputs whose channels span very different
// ranges, where per-channel quantization beats per-tensor. X must have at
// least two dimensions and len(scales) must equal X.Dim(1); otherwise it
// returns a *ConfigError naming the argument.
func ScaleChannels(d *Dataset, scales []float64) (*Dataset, error) {
	const fn = "ScaleChannels"
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if d.X.Dims() < 2 {
		return nil, &ConfigError{Func: fn, Field: "X shape", Value: d.X.Shape(), Want: "at least 2 dimensions [N, C, ...]"}
	}
	channels := d.X.Dim(1)
	if len(scales) != channels {
		return nil, &ConfigError{Func: fn, Field: "len(scales)", Value: len(scales),
			Want: fmt.Sprintf("%d, the channel count of X %v", channels, d.X.Shape())}
	}
	for c, s := range scales {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, &ConfigError{Func: fn, Field: fmt.Sprintf("scales[%d]", c), Value: s, Want: "a finite value"}
		}
	}
	out := d.Clone()
	out.Name = fmt.Sprintf("%s*channels%v", d.Name, scales)
	inner := d.X.RowLen() / max(channels, 1)
	data := out.X.Data()
	for i := range data {
		data[i] = float32(float64(data[i]) * scales[(i/inner)%channels])
	}
	return out, nil
}
