package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Dataset is a set of samples stacked along the first dimension of X, with
// optional integer labels.
type Dataset struct {
	Name    string         // a label for errors and reports, such as "mnist-test"
	X       *tensor.Tensor // the samples, shape [N, ...]
	Labels  []int          // one class per sample, or nil when unlabelled
	Classes int            // the number of classes labels come from; 0 when unlabelled
}

// Len returns the number of samples, X's first dimension (0 for a data set
// without samples).
func (d *Dataset) Len() int {
	if d == nil || d.X == nil || d.X.Dims() == 0 {
		return 0
	}
	return d.X.Dim(0)
}

// Validate checks the invariants of a data set: X is present with at least
// one dimension, Labels is nil or holds one label per sample, and every
// label lies in [0, Classes). It returns a *ConfigError naming the field.
func (d *Dataset) Validate() error {
	switch {
	case d == nil:
		return &ConfigError{Func: "Dataset", Field: "dataset", Value: "nil", Want: "a data set"}
	case d.X == nil:
		return &ConfigError{Func: fmt.Sprintf("Dataset %q", d.Name), Field: "X", Value: "nil", Want: "a tensor of shape [N, ...]"}
	case d.X.Dims() == 0:
		return &ConfigError{Func: fmt.Sprintf("Dataset %q", d.Name), Field: "X", Value: "a scalar", Want: "a tensor of shape [N, ...]"}
	case d.Labels == nil:
		return nil
	case len(d.Labels) != d.Len():
		return &ConfigError{Func: fmt.Sprintf("Dataset %q", d.Name), Field: "len(Labels)", Value: len(d.Labels),
			Want: fmt.Sprintf("%d, one per sample of X %v", d.Len(), d.X.Shape())}
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return &ConfigError{Func: fmt.Sprintf("Dataset %q", d.Name), Field: fmt.Sprintf("Labels[%d]", i), Value: l,
				Want: fmt.Sprintf("a class in [0, %d)", d.Classes)}
		}
	}
	return nil
}

// Subset returns samples [start, end) as a view: X and Labels share storage
// with d. Its name is d's name followed by [start:end].
func (d *Dataset) Subset(start, end int) (*Dataset, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if start < 0 || end > d.Len() || start > end {
		return nil, &ConfigError{Func: fmt.Sprintf("Dataset %q: Subset", d.Name), Field: "[start, end)",
			Value: fmt.Sprintf("[%d, %d)", start, end), Want: fmt.Sprintf("0 <= start <= end <= %d", d.Len())}
	}
	x, err := d.X.Slice(start, end)
	if err != nil {
		return nil, err
	}
	s := &Dataset{Name: fmt.Sprintf("%s[%d:%d]", d.Name, start, end), X: x, Classes: d.Classes}
	if d.Labels != nil {
		s.Labels = d.Labels[start:end:end]
	}
	return s, nil
}

// Shuffled returns a copy of d with its samples in a seeded random order:
// the same seed gives the same order on every run and platform. Labels move
// with their samples. A data set without samples (or without X) gives an
// empty copy.
func (d *Dataset) Shuffled(seed uint64) *Dataset {
	out := &Dataset{Name: fmt.Sprintf("%s(shuffled %d)", d.Name, seed), Classes: d.Classes}
	if d.X == nil || d.X.Dims() == 0 {
		return out
	}
	n, row := d.Len(), d.X.RowLen()
	perm := newRand(seed).Perm(n)
	src := d.X.Data()
	data := make([]float32, len(src))
	for i, p := range perm {
		copy(data[i*row:(i+1)*row], src[p*row:(p+1)*row])
	}
	out.X = tensor.MustFromData(data, d.X.Shape()...)
	if d.Labels != nil && len(d.Labels) == n {
		out.Labels = make([]int, n)
		for i, p := range perm {
			out.Labels[i] = d.Labels[p]
		}
	}
	return out
}

// Clone returns a deep copy of d.
func (d *Dataset) Clone() *Dataset {
	c := &Dataset{Name: d.Name, Labels: slices.Clone(d.Labels), Classes: d.Classes}
	if d.X != nil {
		c.X = d.X.Clone()
	}
	return c
}

// streamPCG is the fixed second word of every PCG seeded here, so a single
// uint64 seed picks the whole generator state.
const streamPCG = 0x9e3779b97f4a7c15

// newRand returns the package's generator for a seed: PCG from math/rand/v2
// with state (seed, streamPCG).
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, streamPCG))
}
