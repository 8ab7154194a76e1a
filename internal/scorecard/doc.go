// Package scorecard turns one run of the acceptance features into a page a
// reviewer reads: every criterion a Then step checked, with its measured
// value, threshold and margin; every scenario's status and time against
// its budget; the criteria nearest their thresholds; and which
// requirement of features/README.md each scenario covers.
//
// # Overview
//
// The input is the cucumber JSON report of a godog run
// (-godog.format=cucumber:FILE). The suite's Then steps attach one
// criterion record (schema CriteriaSchema, "ptqspec.criteria/v1") to the
// step for each threshold of the feature text they compare a measured
// number with; ReadCucumber decodes the report and its records. Build
// joins them with the feature files themselves (LoadFeatures: the tags of
// Rules, which cucumber JSON drops, the thresholds written in the text)
// and the requirements listed in features/README.md (ParseRequirements),
// and WriteFiles renders the Card as acceptance.html, acceptance.md and
// acceptance_margins.svg:
//
//	feats, _ := scorecard.ReadCucumberFile("reports/cucumber.json")
//	text, _ := scorecard.LoadFeatures("features")
//	reqs, _ := scorecard.ParseRequirementsFile("features/README.md")
//	card := scorecard.Build(feats, text, reqs, run)
//	paths, err := scorecard.WriteFiles("reports", card)
//
// A RunInfo (schema "ptqspec.run/v1") written beside the cucumber report
// by the suite gives the header its run date, commit, Go version, CPU,
// tag filter and seeds.
//
// # Thresholds
//
// A threshold of the feature text is a number that follows "at least",
// "at most", "less than", "more than", "greater than", "below", "above",
// "within" or "exceeds" (or exceed) in a Then step (an outcome step, And
// and But included), after Examples values are substituted; "one" counts
// as 1, "within [a, b]" gives a and b, and "within N standard deviations"
// picks data rather than stating a threshold. Build matches each one with
// the criterion its step recorded (same feature file, scenario line and
// step text, equal threshold); Card.Thresholds counts both sides and lists
// the thresholds of steps that ran without recording them, those of steps
// the run skipped, and the records no threshold explains.
//
// # Budgets
//
// Each scenario's duration (the sum of its steps' durations) is compared
// with its budget: the smallest @budget-D tag it carries (D a Go duration
// such as 90s or 20m), else 2 s for @fast, else none. Scenarios over their
// budget are flagged.
//
// # Invariants
//
//   - Failed scenarios come before passed ones within a feature, and
//     features with a failure before the others.
//   - Card.Thresholds.InText == Card.Thresholds.Matched exactly when every
//     threshold of the selected scenarios was recorded.
package scorecard
