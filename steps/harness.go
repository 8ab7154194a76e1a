package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cucumber/godog"
)

// ErrNoScenarios reports a run whose tag filter selected no scenario. Such a
// run would otherwise pass while checking nothing.
var ErrNoScenarios = errors.New("steps: the run selected no scenarios")

// domain is one group of step definitions, registered by its file's init.
type domain struct {
	name     string
	register func(*godog.ScenarioContext)
}

var (
	domainsMu sync.Mutex
	domains   []domain
)

// addSteps registers the step definitions of one domain (models, data,
// quantization, ...). Each domain file calls it from its init function:
//
//	func init() { addSteps("models", registerModelSteps) }
//
// It panics on a duplicate name, a programming error found by any run.
func addSteps(name string, register func(*godog.ScenarioContext)) {
	domainsMu.Lock()
	defer domainsMu.Unlock()
	for _, d := range domains {
		if d.name == name {
			panic(fmt.Sprintf("steps: domain %q registered twice", name))
		}
	}
	domains = append(domains, domain{name, register})
	slices.SortFunc(domains, func(a, b domain) int { return strings.Compare(a.name, b.name) })
}

// Harness wires the step definitions into one godog run and counts the
// scenarios the run starts. Use one Harness per run.
type Harness struct {
	started atomic.Int64
}

// InitializeScenario installs a fresh scenario state in the context before
// each scenario, removes the scenario's scratch files after it, and
// registers every domain's steps.
func (h *Harness) InitializeScenario(sc *godog.ScenarioContext) {
	sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
		h.started.Add(1)
		return withState(ctx, s.Name), nil
	})
	sc.After(func(ctx context.Context, _ *godog.Scenario, _ error) (context.Context, error) {
		// The returned error is the hook's own; godog keeps the step's.
		if st, ok := ctx.Value(stateKey{}).(*scenarioState); ok {
			return ctx, st.cleanup()
		}
		return ctx, nil
	})
	domainsMu.Lock()
	ds := slices.Clone(domains)
	domainsMu.Unlock()
	for _, d := range ds {
		d.register(sc)
	}
}

// Started returns the number of scenarios the run has started so far.
func (h *Harness) Started() int64 { return h.started.Load() }

// Check returns an error wrapping ErrNoScenarios when the run started no
// scenario; tags is the filter the run used, quoted in the message.
func (h *Harness) Check(tags string) error {
	if h.Started() > 0 {
		return nil
	}
	return noScenariosError(tags)
}

// noScenariosError explains an empty selection, with godog's tag syntax.
func noScenariosError(tags string) error {
	return fmt.Errorf("%w with tag filter %q: godog's tag syntax is "+
		`"@a && ~@b" (a and not b), "@a,@b" (a or b), "~@a" (not a); `+
		`the Cucumber words "not", "and", "or" are read as tag names and select nothing`,
		ErrNoScenarios, tags)
}

// cli is the harness of a run started by the godog CLI, which knows only
// the package-level InitializeTestSuite and InitializeScenario.
var cli Harness

// InitializeTestSuite is the suite hook the godog CLI calls (through the
// repository root's godog_test.go). After the run it exits with status 1
// and a message on stderr when no scenario ran, since the CLI offers no
// other way to fail a run that checked nothing.
func InitializeTestSuite(ctx *godog.TestSuiteContext) {
	ctx.AfterSuite(func() {
		if err := cli.Check(cliTags(os.Args[1:])); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	})
}

// InitializeScenario is the scenario hook the godog CLI calls; see
// Harness.InitializeScenario.
func InitializeScenario(sc *godog.ScenarioContext) { cli.InitializeScenario(sc) }

// cliTags returns the value of the godog CLI's --tags (or -t) flag in args,
// for messages only.
func cliTags(args []string) string {
	for i, a := range args {
		for _, name := range []string{"--tags", "-tags", "-t"} {
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return ""
}

// parseShape reads a shape written as in the features, "28x28" or
// "2x1x28x28", or a single size "10".
func parseShape(s string) ([]int, error) {
	parts := strings.Split(strings.TrimSpace(s), "x")
	shape := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("steps: shape %q: dimension %q is not a size", s, p)
		}
		shape[i] = n
	}
	return shape, nil
}

// formatShape writes a shape as the features do, "2x28x28".
func formatShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}
