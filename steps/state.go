package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
)

// scenarioState is the world of one scenario: everything a step leaves for
// the steps after it. It is created by the Before hook of InitializeScenario
// and travels in the scenario's context.Context, never in a package
// variable, so scenarios can run concurrently.
type scenarioState struct {
	// name is the scenario's name, for messages.
	name string

	mu sync.Mutex
	// domains holds one value per domain state type, see domainState.
	domains map[reflect.Type]any
	// err is the error of the last action a When step performed; Then
	// steps about refusals read it.
	err error
	// scratch is the scenario's temporary directory, made on first use
	// and removed when the scenario ends.
	scratch string
}

// stateKey is the context key of the *scenarioState.
type stateKey struct{}

// withState returns ctx carrying a fresh state for the scenario name.
func withState(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, stateKey{}, &scenarioState{name: name, domains: map[reflect.Type]any{}})
}

// stateFrom returns the scenario's state. It panics if ctx did not come
// through the Before hook of InitializeScenario, which is a harness bug,
// not a scenario failure; godog reports the panic on the step.
func stateFrom(ctx context.Context) *scenarioState {
	st, ok := ctx.Value(stateKey{}).(*scenarioState)
	if !ok {
		panic("steps: context carries no scenario state; was InitializeScenario used?")
	}
	return st
}

// domainState returns the scenario's value of type T, a zero T made on
// first use. Each domain file keeps its own state type (for example
// modelState in models.go) without touching scenarioState:
//
//	ms := domainState[modelState](ctx)
//	ms.model = g
func domainState[T any](ctx context.Context) *T {
	st := stateFrom(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	key := reflect.TypeFor[T]()
	if v, ok := st.domains[key]; ok {
		return v.(*T)
	}
	v := new(T)
	st.domains[key] = v
	return v
}

// setErr records the outcome of the action a When step performed.
func (s *scenarioState) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// lastErr returns the error recorded by setErr.
func (s *scenarioState) lastErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// errNotRefused is what a Then step about a refusal reports when the
// action it checks succeeded.
var errNotRefused = errors.New("the action succeeded, but the scenario expects it to be refused")

// scratchDir returns the scenario's own temporary directory, creating it on
// first use. It is removed when the scenario ends.
func (s *scenarioState) scratchDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scratch != "" {
		return s.scratch, nil
	}
	dir, err := os.MkdirTemp("", "ptqspec-scenario-")
	if err != nil {
		return "", fmt.Errorf("steps: scratch directory for scenario %q: %w", s.name, err)
	}
	s.scratch = dir
	return dir, nil
}

// cleanup releases what the scenario created on disk.
func (s *scenarioState) cleanup() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scratch == "" {
		return nil
	}
	err := os.RemoveAll(s.scratch)
	s.scratch = ""
	return err
}
