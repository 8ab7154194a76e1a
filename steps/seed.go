package steps

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cucumber/godog"
)

// SeedEnv is the environment variable that sets the seed offset of a run
// when the -ptqspec.seed flag is not given (the godog CLI, make targets).
const SeedEnv = "PTQSPEC_SEED"

// SeedMediaType is the media type of the attachment that names the seed
// offset of a run on the first step of every scenario in a cucumber report.
const SeedMediaType = "text/x-ptqspec-seed"

// seedOffset shifts every seed the scenarios draw random models, data and
// weights from (see seeded). 0, the default, keeps the seeds written in
// the features and in the step definitions. It is set once, before the
// run, by the -ptqspec.seed flag (suite_test.go) or by PTQSPEC_SEED, and
// only read afterwards.
var seedOffset = envSeed()

// seedStride spreads offsets over the 64-bit seed space: the odd constant
// of Fibonacci hashing, so offsets 1, 2, 3 give seeds far apart from each
// other and from every seed written in the features.
const seedStride = 0x9E3779B97F4A7C15

// seeded returns the seed a scenario uses for the base seed written in a
// feature or a step definition: base itself under offset 0, and for any
// other offset a different seed of the same stream family. Every random
// model, data set and weight of the synthetic scenarios goes through it;
// the trained MNIST models of the @slow scenarios (cached on disk by seed)
// do not.
func seeded(base uint64) uint64 { return seededBy(base, seedOffset) }

// seededBy is seeded with an explicit offset.
func seededBy(base, offset uint64) uint64 { return base + offset*seedStride }

// envSeed reads PTQSPEC_SEED. A value that is not an unsigned integer
// stops the run: a seed sweep that silently ran the default seed would
// pass while checking nothing new.
func envSeed() uint64 {
	v := strings.TrimSpace(os.Getenv(SeedEnv))
	if v == "" {
		return 0
	}
	n, err := parseSeed(v)
	if err != nil {
		panic(err)
	}
	return n
}

// parseSeed reads a seed offset, a decimal unsigned integer.
func parseSeed(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("steps: %s=%q: the seed offset is an unsigned decimal integer", SeedEnv, s)
	}
	return n, nil
}

// seedFlag is the flag.Value of -ptqspec.seed.
type seedFlag struct{ p *uint64 }

func (f seedFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatUint(*f.p, 10)
}

func (f seedFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("the seed offset is an unsigned decimal integer, not %q", s)
	}
	*f.p = n
	return nil
}

func init() { addSteps("seed", registerSeed) }

// seedState remembers whether the scenario's seed was attached yet.
type seedState struct{ attached bool }

// registerSeed attaches the run's seed offset to the first step of every
// scenario, so a cucumber report says which seeds its numbers come from.
func registerSeed(sc *godog.ScenarioContext) {
	sc.StepContext().After(func(ctx context.Context, _ *godog.Step, _ godog.StepResultStatus, err error) (context.Context, error) {
		if _, ok := ctx.Value(stateKey{}).(*scenarioState); !ok {
			return ctx, err
		}
		s := domainState[seedState](ctx)
		if s.attached {
			return ctx, err
		}
		s.attached = true
		return godog.Attach(ctx, godog.Attachment{
			Body:      []byte(fmt.Sprintf("ptqspec seed offset %d", seedOffset)),
			FileName:  "seed",
			MediaType: SeedMediaType,
		}), err
	})
}
