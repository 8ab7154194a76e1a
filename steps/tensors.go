package steps

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

func init() { addSteps("tensors", registerTensorSteps) }

// tensorState is the tensors domain's part of a scenario.
type tensorState struct {
	batches map[string]*tensor.Tensor // named batches, by name
	current *tensor.Tensor            // "it": the tensor the last step made
}

func registerTensorSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a tensor of shape (\d+(?:x\d+)*) holding the numbers 1 to (\d+)$`, aTensorHoldingOneTo)
	sc.Step(`^it is reshaped to (\d+(?:x\d+)*)$`, itIsReshapedTo)
	sc.Step(`^its shape is (\d+(?:x\d+)*)$`, itsShapeIs)
	sc.Step(`^its elements are still the numbers 1 to (\d+) in order$`, itsElementsAreOneTo)
	sc.Step(`^a batch "([^"]+)" of (\d+) images of (\d+x\d+) pixels$`, aBatchOfImages)
	sc.Step(`^batches "([^"]+)" and "([^"]+)" are concatenated$`, batchesAreConcatenated)
	sc.Step(`^the result is a batch of (\d+) images of (\d+x\d+) pixels$`, theResultIsABatchOf)
	sc.Step(`^its images are those of "([^"]+)" followed by those of "([^"]+)"$`, itsImagesAreThoseOf)
	sc.Step(`^it is refused with an error naming the shapes (\d+(?:x\d+)*) and (\d+(?:x\d+)*)$`, refusedNamingShapes)
}

func aTensorHoldingOneTo(ctx context.Context, shape string, n int) error {
	dims, err := parseShape(shape)
	if err != nil {
		return err
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i + 1)
	}
	t, err := tensor.FromData(data, dims...)
	if err != nil {
		return fmt.Errorf("a tensor of shape %s cannot hold %d numbers: %w", shape, n, err)
	}
	domainState[tensorState](ctx).current = t
	return nil
}

func itIsReshapedTo(ctx context.Context, shape string) error {
	dims, err := parseShape(shape)
	if err != nil {
		return err
	}
	ts := domainState[tensorState](ctx)
	if ts.current == nil {
		return fmt.Errorf("no tensor to reshape")
	}
	r, err := ts.current.Reshape(dims...)
	stateFrom(ctx).setErr(err)
	if err == nil {
		ts.current = r
	}
	return nil
}

func itsShapeIs(ctx context.Context, shape string) error {
	want, err := parseShape(shape)
	if err != nil {
		return err
	}
	if err := stateFrom(ctx).lastErr(); err != nil {
		return fmt.Errorf("the last action was refused: %w", err)
	}
	got := domainState[tensorState](ctx).current.Shape()
	if !slices.Equal(got, want) {
		return fmt.Errorf("shape is %s, want %s", formatShape(got), shape)
	}
	return nil
}

func itsElementsAreOneTo(ctx context.Context, n int) error {
	got := domainState[tensorState](ctx).current.Data()
	if len(got) != n {
		return fmt.Errorf("tensor holds %d elements, want %d", len(got), n)
	}
	for i, v := range got {
		if v != float32(i+1) {
			return fmt.Errorf("element %d is %g, want %d", i, v, i+1)
		}
	}
	return nil
}

// batchSeed derives a batch's content seed from its name, so two batches
// hold different pixels and the same batch the same pixels in every run.
func batchSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return seeded(h.Sum64())
}

func aBatchOfImages(ctx context.Context, name string, n int, size string) error {
	hw, err := parseShape(size)
	if err != nil {
		return err
	}
	t := tensor.New(append([]int{n}, hw...)...)
	rng := rand.New(rand.NewPCG(batchSeed(name), 1))
	for i := range t.Data() {
		t.Data()[i] = rng.Float32()
	}
	ts := domainState[tensorState](ctx)
	if ts.batches == nil {
		ts.batches = map[string]*tensor.Tensor{}
	}
	ts.batches[name] = t
	return nil
}

func namedBatch(ctx context.Context, name string) (*tensor.Tensor, error) {
	t, ok := domainState[tensorState](ctx).batches[name]
	if !ok {
		return nil, fmt.Errorf("no batch named %q in this scenario", name)
	}
	return t, nil
}

// namedBatches returns the batches named a and b.
func namedBatches(ctx context.Context, a, b string) (*tensor.Tensor, *tensor.Tensor, error) {
	ta, err := namedBatch(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	tb, err := namedBatch(ctx, b)
	return ta, tb, err
}

func batchesAreConcatenated(ctx context.Context, a, b string) error {
	ta, tb, err := namedBatches(ctx, a, b)
	if err != nil {
		return err
	}
	c, err := tensor.Concat(ta, tb)
	stateFrom(ctx).setErr(err)
	domainState[tensorState](ctx).current = c
	return nil
}

func theResultIsABatchOf(ctx context.Context, n int, size string) error {
	hw, err := parseShape(size)
	if err != nil {
		return err
	}
	return itsShapeIs(ctx, formatShape(append([]int{n}, hw...)))
}

func itsImagesAreThoseOf(ctx context.Context, a, b string) error {
	ta, tb, err := namedBatches(ctx, a, b)
	if err != nil {
		return err
	}
	got := domainState[tensorState](ctx).current.Data()
	want := slices.Concat(ta.Data(), tb.Data())
	if len(got) != len(want) {
		return fmt.Errorf("result holds %d pixels, batches %q and %q hold %d", len(got), a, b, len(want))
	}
	row := ta.RowLen()
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("image %d, pixel %d is %g, want %g", i/row+1, i%row, got[i], want[i])
		}
	}
	return nil
}

func refusedNamingShapes(ctx context.Context, first, second string) error {
	err := stateFrom(ctx).lastErr()
	if err == nil {
		return errNotRefused
	}
	msg := err.Error()
	for _, s := range []string{first, second} {
		dims, perr := parseShape(s)
		if perr != nil {
			return perr
		}
		// The library writes shapes as Go slices, [2 28 28].
		if !strings.Contains(msg, fmt.Sprint(dims)) {
			return fmt.Errorf("error %q does not name the shape %s (as %v)", msg, s, dims)
		}
	}
	return nil
}
