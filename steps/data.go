package steps

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/datasets"
)

func init() { addSteps("data", registerDataSteps) }

// dataState is the data domain's part of a scenario.
type dataState struct {
	train, test *datasets.Dataset // the data set the scenario works on
	copyPath    string            // a damaged copy of an IDX file
	folder      string            // an MNIST folder made by the scenario
}

func registerDataSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the MNIST data set$`, theMNISTDataSet)
	sc.Step(`^the training set holds ([\d,]+) images and the test set ([\d,]+) images$`, theSetsHold)
	sc.Step(`^every image is (\d+(?:x\d+)*) pixels with values from (\d+) to (\d+)$`, everyImageIs)
	sc.Step(`^every label is a digit from 0 to 9, each digit at least ([\d,]+) times in the training set and at least ([\d,]+) times in the test set$`, everyLabelIsADigit)

	sc.Step(`^a copy of the MNIST file "([^"]+)"$`, aCopyOfTheMNISTFile)
	sc.Step(`^the copy is damaged by a wrong magic number$`, damageMagic)
	sc.Step(`^the copy is damaged by truncation to ([\d,]+) bytes$`, damageTruncate)
	sc.Step(`^the copy is damaged by a header announcing ([\d,]+) items$`, damageCount)
	sc.Step(`^the copy is damaged by one byte appended after the data$`, damageAppend)
	sc.Step(`^the copy is read$`, theCopyIsRead)
	sc.Step(`^reading is refused with an error naming "([^"]+)" and byte offset ([\d,]+)$`, refusedAtOffset)

	sc.Step(`^an MNIST folder whose test label file holds ([\d,]+) labels for the ([\d,]+) test images$`, aFolderWithMismatchedCounts)
	sc.Step(`^the MNIST data set is loaded from that folder$`, mnistIsLoadedFromFolder)
	sc.Step(`^loading is refused with an error naming "([^"]+)" with ([\d,]+) images and "([^"]+)" with ([\d,]+) labels$`, refusedNamingCounts)

	sc.Step(`^([\d,]+) samples of (\d+) Gaussian blobs in (\d+) dimensions with spread ([\d.]+) and seed (\d+), the last ([\d,]+) held out$`, blobSamples)
}

// parseCount reads a count written with thousands separators, "60,000".
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		return 0, fmt.Errorf("steps: %q is not a count", s)
	}
	return n, nil
}

func theMNISTDataSet(ctx context.Context) error {
	train, test, err := datasets.LoadMNIST("")
	if err != nil {
		return err
	}
	ds := domainState[dataState](ctx)
	ds.train, ds.test = train, test
	return nil
}

func theSetsHold(ctx context.Context, trainN, testN string) error {
	ds := domainState[dataState](ctx)
	for _, c := range []struct {
		name string
		set  *datasets.Dataset
		want string
	}{{"training", ds.train, trainN}, {"test", ds.test, testN}} {
		want, err := parseCount(c.want)
		if err != nil {
			return err
		}
		if c.set.Len() != want || len(c.set.Labels) != want {
			return fmt.Errorf("the %s set holds %d images and %d labels, want %d", c.name, c.set.Len(), len(c.set.Labels), want)
		}
	}
	return nil
}

func everyImageIs(ctx context.Context, shape string, lo, hi int) error {
	want, err := parseShape(shape)
	if err != nil {
		return err
	}
	ds := domainState[dataState](ctx)
	for _, set := range []*datasets.Dataset{ds.train, ds.test} {
		if got := set.X.Shape()[1:]; formatShape(got) != formatShape(want) {
			return fmt.Errorf("%s: images are %s, want %s", set.Name, formatShape(got), shape)
		}
		for i, v := range set.X.Data() {
			if !(v >= float32(lo) && v <= float32(hi)) {
				return fmt.Errorf("%s: image %d holds %g, outside [%d, %d]", set.Name, i/set.X.RowLen(), v, lo, hi)
			}
		}
	}
	return nil
}

func everyLabelIsADigit(ctx context.Context, minTrain, minTest string) error {
	ds := domainState[dataState](ctx)
	for _, c := range []struct {
		set *datasets.Dataset
		min string
	}{{ds.train, minTrain}, {ds.test, minTest}} {
		least, err := parseCount(c.min)
		if err != nil {
			return err
		}
		var counts [10]int
		for i, y := range c.set.Labels {
			if y < 0 || y > 9 {
				return fmt.Errorf("%s: label %d of image %d is not a digit", c.set.Name, y, i)
			}
			counts[y]++
		}
		rare := 0
		for d, n := range counts {
			if n < counts[rare] {
				rare = d
			}
		}
		cr := criterion{measured: fmt.Sprintf("%s: images of the rarest digit (%d)", c.set.Name, rare), unit: "images", direction: atLeast, threshold: float64(least), value: float64(counts[rare])}
		if err := check(ctx, cr, func() error {
			return fmt.Errorf("%s: digit %d appears %d times, want at least %d (counts %v)", c.set.Name, rare, counts[rare], least, counts)
		}); err != nil {
			return err
		}
	}
	return nil
}

// readMNISTIDX decodes an MNIST file of the MNIST folder.
func readMNISTIDX(base string) (*datasets.IDX, error) {
	dir, err := datasets.MNISTDir()
	if err != nil {
		return nil, err
	}
	x, err := datasets.ReadIDXFile(filepath.Join(dir, base+".gz"))
	if errors.Is(err, os.ErrNotExist) {
		x, err = datasets.ReadIDXFile(filepath.Join(dir, base))
	}
	return x, err
}

// readMNISTFile returns the raw (decompressed) bytes of an MNIST file,
// keeping only its first n items if n > 0; then it decompresses no more
// than it keeps.
func readMNISTFile(base string, n int) ([]byte, error) {
	if n > 0 {
		return readMNISTPrefix(base, n)
	}
	x, err := readMNISTIDX(base)
	if err != nil {
		return nil, err
	}
	return encodeIDX(x), nil
}

// readMNISTPrefix returns the first n items of the gzip'd MNIST file base
// as a raw IDX file of n items.
func readMNISTPrefix(base string, n int) ([]byte, error) {
	dir, err := datasets.MNISTDir()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, base+".gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s.gz: %w", base, err)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(zr, head); err != nil {
		return nil, fmt.Errorf("%s.gz: header: %w", base, err)
	}
	head = append(head, make([]byte, 4*int(head[3]))...)
	if _, err := io.ReadFull(zr, head[4:]); err != nil {
		return nil, fmt.Errorf("%s.gz: dimensions: %w", base, err)
	}
	if head[2] != datasets.TypeUint8 || head[3] == 0 || int(binary.BigEndian.Uint32(head[4:8])) < n {
		return nil, fmt.Errorf("%s.gz: not a uint8 IDX file of at least %d items", base, n)
	}
	item := 1
	for i := 1; i < int(head[3]); i++ {
		item *= int(binary.BigEndian.Uint32(head[4+4*i:]))
	}
	binary.BigEndian.PutUint32(head[4:8], uint32(n))
	out := append(head, make([]byte, n*item)...)
	if _, err := io.ReadFull(zr, out[len(head):]); err != nil {
		return nil, fmt.Errorf("%s.gz: first %d items: %w", base, n, err)
	}
	return out, nil
}

// encodeIDX writes x in the raw IDX format.
func encodeIDX(x *datasets.IDX) []byte {
	out := []byte{0, 0, x.Type, byte(len(x.Dims))}
	for _, d := range x.Dims {
		out = binary.BigEndian.AppendUint32(out, uint32(d))
	}
	return append(out, x.Data...)
}

func aCopyOfTheMNISTFile(ctx context.Context, base string) error {
	raw, err := readMNISTFile(base, 0)
	if err != nil {
		return err
	}
	dir, err := stateFrom(ctx).scratchDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, base)
	domainState[dataState](ctx).copyPath = path
	return os.WriteFile(path, raw, 0o644)
}

// editCopy rewrites the scenario's copied file with edit.
func editCopy(ctx context.Context, edit func([]byte) ([]byte, error)) error {
	path := domainState[dataState](ctx).copyPath
	if path == "" {
		return errors.New("no copied file in this scenario")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if raw, err = edit(raw); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func damageMagic(ctx context.Context) error {
	return editCopy(ctx, func(b []byte) ([]byte, error) {
		b[0] = 0x1d
		return b, nil
	})
}

func damageTruncate(ctx context.Context, size string) error {
	n, err := parseCount(size)
	if err != nil {
		return err
	}
	return editCopy(ctx, func(b []byte) ([]byte, error) {
		if n >= len(b) {
			return nil, fmt.Errorf("the copy holds %d bytes, cannot truncate it to %d", len(b), n)
		}
		return b[:n], nil
	})
}

func damageCount(ctx context.Context, count string) error {
	n, err := parseCount(count)
	if err != nil {
		return err
	}
	return editCopy(ctx, func(b []byte) ([]byte, error) {
		if len(b) < 8 || n < 0 || n > math.MaxUint32 {
			return nil, fmt.Errorf("cannot write count %d into a %d-byte file", n, len(b))
		}
		binary.BigEndian.PutUint32(b[4:8], uint32(n))
		return b, nil
	})
}

func damageAppend(ctx context.Context) error {
	return editCopy(ctx, func(b []byte) ([]byte, error) { return append(b, 7), nil })
}

func theCopyIsRead(ctx context.Context) error {
	_, err := datasets.ReadIDXFile(domainState[dataState](ctx).copyPath)
	stateFrom(ctx).setErr(err)
	return nil
}

func refusedAtOffset(ctx context.Context, file, offset string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	want, perr := parseCount(offset)
	if perr != nil {
		return perr
	}
	var fe *datasets.FormatError
	if !errors.As(err, &fe) {
		return fmt.Errorf("error %q carries no file and offset", err)
	}
	msg := err.Error()
	switch {
	case fe.File != file || !strings.Contains(msg, file):
		return fmt.Errorf("error %q names file %q, want %q", msg, fe.File, file)
	case fe.Offset != int64(want) || !strings.Contains(msg, fmt.Sprintf("offset %d", want)):
		return fmt.Errorf("error %q names offset %d, want %d", msg, fe.Offset, want)
	}
	return nil
}

func aFolderWithMismatchedCounts(ctx context.Context, labelCount, imageCount string) error {
	labels, err := parseCount(labelCount)
	if err != nil {
		return err
	}
	images, err := parseCount(imageCount)
	if err != nil {
		return err
	}
	dir, err := stateFrom(ctx).scratchDir()
	if err != nil {
		return err
	}
	folder := filepath.Join(dir, "mnist")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	// The test pair under scrutiny is whole; the training pair, which must
	// merely be well formed, keeps its first 100 images to load quickly.
	files := []struct {
		base string
		n    int
	}{{datasets.MNISTTrainImages, 100}, {datasets.MNISTTrainLabels, 100}, {datasets.MNISTTestImages, 0}, {datasets.MNISTTestLabels, labels}}
	for _, f := range files {
		raw, err := readMNISTFile(f.base, f.n)
		if err != nil {
			return err
		}
		if f.base == datasets.MNISTTestImages && int(binary.BigEndian.Uint32(raw[4:8])) != images {
			return fmt.Errorf("the MNIST test set holds %d images, the scenario says %d", binary.BigEndian.Uint32(raw[4:8]), images)
		}
		if err := os.WriteFile(filepath.Join(folder, f.base), raw, 0o644); err != nil {
			return err
		}
	}
	domainState[dataState](ctx).folder = folder
	return nil
}

func mnistIsLoadedFromFolder(ctx context.Context) error {
	_, _, err := datasets.LoadMNIST(domainState[dataState](ctx).folder)
	stateFrom(ctx).setErr(err)
	return nil
}

func refusedNamingCounts(ctx context.Context, imageFile, images, labelFile, labels string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	msg := err.Error()
	for _, s := range []string{imageFile, labelFile} {
		if !strings.Contains(msg, s) {
			return fmt.Errorf("error %q does not name %q", msg, s)
		}
	}
	for _, s := range []string{images, labels} {
		n, perr := parseCount(s)
		if perr != nil {
			return perr
		}
		if !strings.Contains(msg, strconv.Itoa(n)) {
			return fmt.Errorf("error %q does not give the count %s", msg, s)
		}
	}
	if !errors.Is(err, datasets.ErrCountMismatch) {
		return fmt.Errorf("error %q is not a count mismatch", msg)
	}
	return nil
}

func blobSamples(ctx context.Context, samples string, classes, features int, spread float64, seed uint64, heldOut string) error {
	n, err := parseCount(samples)
	if err != nil {
		return err
	}
	h, err := parseCount(heldOut)
	if err != nil {
		return err
	}
	if h <= 0 || h >= n {
		return fmt.Errorf("cannot hold out %d of %d samples", h, n)
	}
	all, err := datasets.Blobs(datasets.BlobsConfig{Samples: n, Features: features, Classes: classes, Spread: spread, Seed: seeded(seed)})
	if err != nil {
		return err
	}
	ds := domainState[dataState](ctx)
	if ds.train, err = all.Subset(0, n-h); err != nil {
		return err
	}
	ds.test, err = all.Subset(n-h, n)
	return err
}
