// Package steps holds the godog step definitions that make the Gherkin
// features under ../features executable.
//
// # Overview
//
// The features are the acceptance criteria of ptqspec: every threshold a
// reviewer judges is written in a .feature file and checked here. Two
// runners execute the same suite:
//
//	go test ./steps                              # from the repository root
//	go test ./steps -godog.tags=@fast -godog.random
//	godog run --strict --tags=@fast              # godog CLI, from the root
//
// go test runs suite_test.go, which binds godog's options to the flags
// -godog.tags, -godog.format, -godog.random, -godog.concurrency,
// -godog.strict (default true) and -godog.paths, with default tags
// "~@slow" and concurrency equal to the number of CPUs. Each scenario runs
// as a subtest of TestFeatures. The godog CLI finds the exported
// InitializeTestSuite and InitializeScenario of this package through the
// root-level godog_test.go.
//
// # Organisation
//
// Step definitions are grouped by domain concept, one file each
// (tensors.go, models.go, data.go, quantization.go, calibration.go,
// reports.go), not by feature file. Each file declares
//
//	func init() { addSteps("models", registerModelSteps) }
//	func registerModelSteps(sc *godog.ScenarioContext) { sc.Step(`^...$`, ...) }
//
// and InitializeScenario calls every registered function, in the order of
// their domain names, for each scenario.
//
// # Invariants
//
//   - Scenarios share nothing through package variables: all scenario state
//     lives in a *scenarioState carried by the context.Context that godog
//     threads through the steps (stateFrom, domainState). Scenarios may
//     therefore run concurrently and in random order.
//   - A run fails when undefined, pending or ambiguous steps are met
//     (strict mode) and when its tag filter selects no scenario at all
//     (see ErrNoScenarios): godog's tag syntax is "@a && ~@b", and a
//     Cucumber-style "not @slow" silently matches nothing.
//   - Expensive fixtures (trained models) are cached on disk, never in
//     memory across scenarios.
package steps
