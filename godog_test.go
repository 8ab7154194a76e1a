package ptqspec_test

// This file lets the godog CLI run the acceptance suite from the
// repository root:
//
//	godog run --strict --tags=@fast
//
// godog v0.16.0's CLI compiles the test package of the current directory
// and calls every function of its _test.go files that takes a
// *godog.TestSuiteContext or a *godog.ScenarioContext; it reads the
// features from ./features. The step definitions live in package steps,
// where go test ./steps runs the same suite.

import (
	"github.com/cucumber/godog"

	"github.com/ptqspec/ptqspec/steps"
)

// InitializeTestSuite makes the CLI run fail when its tag filter selects
// no scenario.
func InitializeTestSuite(ctx *godog.TestSuiteContext) { steps.InitializeTestSuite(ctx) }

// InitializeScenario registers every step definition of package steps.
func InitializeScenario(sc *godog.ScenarioContext) { steps.InitializeScenario(sc) }
