package datasets

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// rowsDataset returns n samples of shape [2] whose row i is (i, -i), with
// label i%classes.
func rowsDataset(n, classes int) *Dataset {
	data := make([]float32, 0, 2*n)
	labels := make([]int, n)
	for i := range n {
		data = append(data, float32(i), -float32(i))
		labels[i] = i % classes
	}
	return &Dataset{Name: "rows", X: tensor.MustFromData(data, n, 2), Labels: labels, Classes: classes}
}

func TestDatasetValidate(t *testing.T) {
	tests := []struct {
		name string
		d    *Dataset
		want string // "" for valid
	}{
		{"valid labelled", rowsDataset(4, 2), ""},
		{"valid unlabelled", &Dataset{Name: "u", X: tensor.New(3, 5)}, ""},
		{"valid empty", &Dataset{Name: "e", X: tensor.New(0, 5)}, ""},
		{"nil data set", nil, "datasets: Dataset: dataset = nil, want a data set"},
		{"nil X", &Dataset{Name: "n"}, `datasets: Dataset "n": X = nil, want a tensor of shape [N, ...]`},
		{"scalar X", &Dataset{Name: "s", X: tensor.New()}, `datasets: Dataset "s": X = a scalar, want a tensor of shape [N, ...]`},
		{"label count", &Dataset{Name: "c", X: tensor.New(3, 2), Labels: []int{0, 1}, Classes: 2},
			`datasets: Dataset "c": len(Labels) = 2, want 3, one per sample of X [3 2]`},
		{"label out of range", &Dataset{Name: "r", X: tensor.New(2, 2), Labels: []int{0, 2}, Classes: 2},
			`datasets: Dataset "r": Labels[1] = 2, want a class in [0, 2)`},
		{"negative label", &Dataset{Name: "r", X: tensor.New(1, 2), Labels: []int{-1}, Classes: 2},
			`datasets: Dataset "r": Labels[0] = -1, want a class in [0, 2)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate = %v, want %q matching ErrInvalidConfig", err, tc.want)
			}
		})
	}
}

func TestDatasetLen(t *testing.T) {
	tests := []struct {
		name string
		d    *Dataset
		want int
	}{
		{"nil", nil, 0},
		{"no X", &Dataset{}, 0},
		{"scalar", &Dataset{X: tensor.New()}, 0},
		{"rows", rowsDataset(7, 3), 7},
	}
	for _, tc := range tests {
		if got := tc.d.Len(); got != tc.want {
			t.Errorf("%s: Len = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDatasetSubset(t *testing.T) {
	d := rowsDataset(10, 3)
	tests := []struct {
		name       string
		start, end int
		wantLabels []int
		wantErr    string
	}{
		{"middle", 2, 5, []int{2, 0, 1}, ""},
		{"all", 0, 10, []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, ""},
		{"empty", 4, 4, []int{}, ""},
		{"negative start", -1, 3, nil, `datasets: Dataset "rows": Subset: [start, end) = [-1, 3), want 0 <= start <= end <= 10`},
		{"end past the data", 5, 11, nil, `datasets: Dataset "rows": Subset: [start, end) = [5, 11), want 0 <= start <= end <= 10`},
		{"start after end", 6, 5, nil, `datasets: Dataset "rows": Subset: [start, end) = [6, 5), want 0 <= start <= end <= 10`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.Subset(tc.start, tc.end)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("Subset error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != tc.end-tc.start || !slices.Equal(s.Labels, tc.wantLabels) || s.Classes != 3 {
				t.Fatalf("Subset = %d samples, labels %v, %d classes", s.Len(), s.Labels, s.Classes)
			}
			for i := range s.Len() {
				if got := s.X.At(i, 0); got != float32(tc.start+i) {
					t.Errorf("row %d = %v, want %v", i, got, tc.start+i)
				}
			}
		})
	}
	t.Run("is a view", func(t *testing.T) {
		s, err := d.Subset(3, 6)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "rows[3:6]" {
			t.Errorf("Name = %q, want rows[3:6]", s.Name)
		}
		s.X.Set(100, 0, 1)
		if got := d.X.At(3, 1); got != 100 {
			t.Errorf("write through the subset: parent row 3 = %v, want 100", got)
		}
		s.X.Set(-3, 0, 1)
		if s.Labels = append(s.Labels, 2); d.Labels[6] != 0 {
			t.Errorf("append to the subset's labels overwrote the parent's")
		}
	})
	t.Run("invalid data set", func(t *testing.T) {
		if _, err := (&Dataset{Name: "x"}).Subset(0, 0); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Subset of a data set without X: %v, want ErrInvalidConfig", err)
		}
	})
}

func TestDatasetShuffled(t *testing.T) {
	d := rowsDataset(50, 5)
	orig := d.Clone()
	a, b, c := d.Shuffled(7), d.Shuffled(7), d.Shuffled(8)
	if !slices.Equal(a.X.Data(), b.X.Data()) || !slices.Equal(a.Labels, b.Labels) {
		t.Errorf("same seed gave different orders")
	}
	if slices.Equal(a.X.Data(), c.X.Data()) {
		t.Errorf("seeds 7 and 8 gave the same order")
	}
	if slices.Equal(a.X.Data(), d.X.Data()) {
		t.Errorf("Shuffled(7) kept the original order")
	}
	if !slices.Equal(d.X.Data(), orig.X.Data()) || !slices.Equal(d.Labels, orig.Labels) {
		t.Errorf("Shuffled changed its receiver")
	}
	seen := make([]bool, 50)
	for i := range a.Len() {
		k := int(a.X.At(i, 0))
		if a.X.At(i, 1) != -float32(k) || a.Labels[i] != k%5 || seen[k] {
			t.Fatalf("row %d = (%v, %v) label %d: not an intact, unique original row", i, a.X.At(i, 0), a.X.At(i, 1), a.Labels[i])
		}
		seen[k] = true
	}
	if a.Classes != 5 || !strings.HasPrefix(a.Name, "rows") {
		t.Errorf("Classes %d, Name %q", a.Classes, a.Name)
	}
	a.X.Set(1000, 0, 0)
	if slices.Contains(d.X.Data(), 1000) {
		t.Errorf("Shuffled shares storage with its receiver")
	}
	t.Run("unlabelled", func(t *testing.T) {
		u := (&Dataset{X: tensor.MustFromData([]float32{1, 2, 3}, 3)}).Shuffled(1)
		if u.Labels != nil || u.Len() != 3 {
			t.Errorf("unlabelled shuffle: labels %v, len %d", u.Labels, u.Len())
		}
	})
	t.Run("no X", func(t *testing.T) {
		if e := (&Dataset{Name: "e"}).Shuffled(1); e.Len() != 0 {
			t.Errorf("Shuffled of a data set without X has %d samples", e.Len())
		}
	})
}

func TestDatasetClone(t *testing.T) {
	d := rowsDataset(3, 2)
	c := d.Clone()
	c.X.Set(9, 0, 0)
	c.Labels[0] = 1
	if d.X.At(0, 0) != 0 || d.Labels[0] != 0 {
		t.Errorf("Clone shares storage")
	}
	if e := (&Dataset{Name: "e"}).Clone(); e.X != nil || e.Name != "e" {
		t.Errorf("Clone of a data set without X = %+v", e)
	}
}
