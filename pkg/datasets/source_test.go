package datasets

import (
	"errors"
	"slices"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// collect runs one pass and returns batch sizes, indices, first-column
// values and the error, if any.
func collect(s Source) (sizes, indices []int, firsts [][]float32, labels [][]int, err error) {
	for b, e := range s.Batches() {
		if e != nil {
			return sizes, indices, firsts, labels, e
		}
		sizes = append(sizes, b.X.Dim(0))
		indices = append(indices, b.Index)
		col := make([]float32, b.X.Dim(0))
		for i := range col {
			col[i] = b.X.Data()[i*b.X.RowLen()]
		}
		firsts = append(firsts, col)
		labels = append(labels, b.Labels)
	}
	return sizes, indices, firsts, labels, nil
}

func TestDatasetSource(t *testing.T) {
	tests := []struct {
		name      string
		n, size   int
		wantSizes []int
	}{
		{"exact", 6, 3, []int{3, 3}},
		{"short last batch", 7, 3, []int{3, 3, 1}},
		{"one batch larger than the data", 4, 10, []int{4}},
		{"batch size one", 3, 1, []int{1, 1, 1}},
		{"empty", 0, 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := rowsDataset(tc.n, 3)
			s := d.Source(tc.size)
			if s.Len() != tc.n {
				t.Errorf("Len = %d, want %d", s.Len(), tc.n)
			}
			for pass := range 2 { // each call restarts
				sizes, indices, firsts, labels, err := collect(s)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(sizes, tc.wantSizes) {
					t.Fatalf("pass %d: sizes %v, want %v", pass, sizes, tc.wantSizes)
				}
				k := 0
				for i := range sizes {
					if indices[i] != i {
						t.Errorf("batch %d has Index %d", i, indices[i])
					}
					for j, v := range firsts[i] {
						if v != float32(k) || labels[i][j] != k%3 {
							t.Errorf("batch %d sample %d = %v label %d, want %d label %d", i, j, v, labels[i][j], k, k%3)
						}
						k++
					}
				}
			}
		})
	}
	t.Run("early break then restart", func(t *testing.T) {
		s := rowsDataset(10, 2).Source(2)
		for b, err := range s.Batches() {
			if err != nil || b.Index != 0 {
				t.Fatalf("first batch: %+v, %v", b, err)
			}
			break
		}
		sizes, _, _, _, err := collect(s)
		if err != nil || len(sizes) != 5 {
			t.Errorf("after a break: %d batches, %v; want 5", len(sizes), err)
		}
	})
	t.Run("unlabelled", func(t *testing.T) {
		_, _, _, labels, err := collect((&Dataset{X: tensor.New(5, 2)}).Source(2))
		if err != nil || len(labels) != 3 || labels[0] != nil {
			t.Errorf("labels %v, %v; want 3 nil label slices", labels, err)
		}
	})
	t.Run("batches are views", func(t *testing.T) {
		d := rowsDataset(4, 2)
		for b := range d.Source(2).Batches() {
			b.X.Set(-1, 0, 0)
		}
		if d.X.At(0, 0) != -1 || d.X.At(2, 0) != -1 {
			t.Errorf("writes through batches did not reach the data set")
		}
	})
	errTests := []struct {
		name string
		s    Source
		want string
	}{
		{"zero batch size", rowsDataset(3, 3).Source(0), `datasets: Dataset "rows": Source: batchSize = 0, want >= 1`},
		{"negative batch size", rowsDataset(3, 3).Source(-2), `datasets: Dataset "rows": Source: batchSize = -2, want >= 1`},
		{"invalid data set", (&Dataset{Name: "bad", X: tensor.New(2, 1), Labels: []int{0}, Classes: 1}).Source(1),
			`datasets: Dataset "bad": len(Labels) = 1, want 2, one per sample of X [2 1]`},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			var got error
			for _, err := range tc.s.Batches() {
				n++
				got = err
			}
			if n != 1 || got == nil || got.Error() != tc.want || !errors.Is(got, ErrInvalidConfig) {
				t.Errorf("%d yields, last error %v; want one error %q", n, got, tc.want)
			}
		})
	}
}

func TestTensorSource(t *testing.T) {
	a := tensor.MustFromData([]float32{1, 2, 3, 4}, 2, 2)
	b := tensor.MustFromData([]float32{5, 6}, 1, 2)
	tests := []struct {
		name      string
		batches   []*tensor.Tensor
		wantLen   int
		wantSizes []int
		wantErr   string
	}{
		{"two batches", []*tensor.Tensor{a, b}, 3, []int{2, 1}, ""},
		{"none", nil, 0, nil, ""},
		{"nil batch", []*tensor.Tensor{a, nil}, 2, []int{2},
			"datasets: TensorSource: batch 1 = nil, want a tensor of shape [B, ...]"},
		{"scalar batch", []*tensor.Tensor{tensor.New()}, 0, nil,
			"datasets: TensorSource: batch 0 = a scalar, want a tensor of shape [B, ...]"},
		{"trailing shape differs", []*tensor.Tensor{a, tensor.New(2, 3)}, 4, []int{2},
			"datasets: TensorSource: batch 1 shape = [2 3], want [B 2] like batch 0 of shape [2 2]"},
		{"rank differs", []*tensor.Tensor{a, tensor.New(2, 2, 1)}, 4, []int{2},
			"datasets: TensorSource: batch 1 shape = [2 2 1], want [B 2] like batch 0 of shape [2 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := TensorSource(tc.batches...)
			if s.Len() != tc.wantLen {
				t.Errorf("Len = %d, want %d", s.Len(), tc.wantLen)
			}
			sizes, indices, _, labels, err := collect(s)
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.wantSizes)
			}
			for i := range indices {
				if indices[i] != i || labels[i] != nil {
					t.Errorf("batch %d: Index %d, labels %v", i, indices[i], labels[i])
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrInvalidConfig)):
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	t.Run("argument slice is copied", func(t *testing.T) {
		in := []*tensor.Tensor{a, b}
		s := TensorSource(in...)
		in[1] = nil
		if sizes, _, _, _, err := collect(s); err != nil || len(sizes) != 2 {
			t.Errorf("after changing the caller's slice: %v, %v", sizes, err)
		}
	})
}
