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
// Step definitions are grouped by domain concept, one file each, not by
// feature file:
//
//	tensors.go      tensors, reshapes, batches
//	data.go         MNIST files, IDX corruption, synthetic data
//	models.go       training, MNIST accuracy, save and load
//	ptqmodels.go    models described as layer tables for quantization
//	traversal.go    the traversal plan: roles, fusions, boundaries
//	calibration.go  observers, statistics, convergence, early stop
//	quantization.go static quantization, traces, accuracy against FP32
//	dynamic.go      dynamic quantization
//	config.go       schemes, granularity, calibration methods, golden qparams
//	methods.go      calibration methods compared on a whole model, data with outliers
//	onnx.go         ONNX operator examples
//	reports.go      the quantization report
//	sensitivity.go  per-layer sensitivity and its report files
//	fallback.go     per-layer FP32 fallback and the accuracy budget
//	e2e.go          end-to-end PTQ on MNIST
//	criteria.go     the criterion recorder every numeric Then step calls
//
// Each file declares
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
//   - Every Then step that compares a measured number with a threshold of
//     the feature text calls check (criteria.go), which records the
//     criterion (schema CriteriaSchema) as an attachment of the step in
//     the cucumber report; TestFeatures fails when a threshold of a Then
//     step it ran has no criterion, or a criterion no threshold.
//   - Trained MNIST models are cached on disk (internal/modelcache), keyed
//     by everything that shaped them. Small synthetic fixtures that take
//     a moment to train are built once per process, and every scenario
//     works on its own clone, so no scenario sees another's changes.
package steps
