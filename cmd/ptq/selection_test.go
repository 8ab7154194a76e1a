package main

import (
	"strings"
	"testing"

	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// TestSelectionImagesAreHeldOut shows that the images layers are chosen
// on are the last training images, disjoint from the calibration images
// (the first ones), and that an overlap is refused.
func TestSelectionImagesAreHeldOut(t *testing.T) {
	const total = 100
	x := make([]float32, total)
	for i := range x {
		x[i] = float32(i) // sample i holds i: its index
	}
	train := &datasets.Dataset{Name: "train", X: tensor.MustFromData(x, total, 1), Labels: make([]int, total), Classes: 10}
	cases := []struct {
		name      string
		n, calib  int
		wantFirst int // index of the first selection image; -1: none
		wantErr   string
	}{
		{"the last 30, after 50 calibration images", 30, 50, 70, ""},
		{"exactly the rest", 40, 60, 60, ""},
		{"none", 0, 50, -1, ""},
		{"one image too many", 41, 60, 0, "-sens-eval 41 and -calib 60 together exceed the 100 MNIST training images"},
		{"negative", -1, 60, 0, "-sens-eval is -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel, err := selectionImages(train, c.n, c.calib)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.wantFirst < 0 {
				if sel != nil {
					t.Fatalf("got %d selection images, want none", sel.Len())
				}
				return
			}
			if sel.Len() != c.n {
				t.Fatalf("%d selection images, want %d", sel.Len(), c.n)
			}
			for i, v := range sel.X.Data() {
				if idx := int(v); idx != c.wantFirst+i || idx < c.calib {
					t.Fatalf("selection image %d is training image %d, want %d, after the %d calibration images", i, idx, c.wantFirst+i, c.calib)
				}
			}
			if want := selectionName(c.n, total); sel.Name != want {
				t.Errorf("name %q, want %q", sel.Name, want)
			}
		})
	}
}

func TestSelectionName(t *testing.T) {
	for _, c := range []struct {
		n, total int
		want     string
	}{
		{2000, 60000, "MNIST training images 58,000 to 59,999 (the last 2,000 of 60,000, held out from calibration)"},
		{1, 10, "MNIST training images 9 to 9 (the last 1 of 10, held out from calibration)"},
	} {
		if got := selectionName(c.n, c.total); got != c.want {
			t.Errorf("selectionName(%d, %d) = %q, want %q", c.n, c.total, got, c.want)
		}
	}
}
