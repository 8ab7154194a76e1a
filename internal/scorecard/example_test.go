package scorecard_test

import (
	"fmt"
	"log"

	"github.com/ptqspec/ptqspec/internal/scorecard"
)

// Build the scorecard of a cucumber report of the features and look at
// its counts; WriteFiles would render it.
func ExampleBuild() {
	feats, err := scorecard.ReadCucumberFile("testdata/cucumber.json")
	if err != nil {
		log.Fatal(err)
	}
	text, err := scorecard.LoadFeatures("testdata/features")
	if err != nil {
		log.Fatal(err)
	}
	card := scorecard.Build(feats, text, nil, scorecard.RunInfo{})
	fmt.Printf("%d of %d scenarios passed\n", card.Passed, card.Total)
	fmt.Printf("%d thresholds in the text, %d checked\n", card.Thresholds.InText, card.Thresholds.Matched)
	r := card.Tightest[0]
	fmt.Printf("tightest: %s, %s %s %s, measured %.2f\n", r.Scenario, r.Measured, r.Direction, r.Literal, *r.Value)
	// Output:
	// 19 of 20 scenarios passed
	// 7 thresholds in the text, 6 checked
	// tightest: A plain Conv2D classifier, output SQNR on the held-out set at least 60, measured 37.04
}
