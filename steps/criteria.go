package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/cucumber/godog"
)

// CriteriaSchema names the version of the criterion records the Then steps
// attach to a run. Any change to the fields below that a reader could
// notice (a field removed, renamed or given another meaning) gets a new
// version.
//
// Every Then step that compares a measured number with a threshold written
// in the feature text records one criterion per threshold through check.
// After the step, the records travel as godog attachments of that step, so
// a cucumber JSON report (-godog.format=cucumber:FILE) carries them under
// the step's "embeddings", one embedding per criterion, media type
// CriteriaMediaType, name "criterion", data the base64 of one JSON object:
//
//	schema           string  always "ptqspec.criteria/v1"
//	feature          string  the feature file, as godog names it ("../features/calibration.feature")
//	scenario         string  the scenario's name (an outline's row keeps the outline's name)
//	step             string  the step's text after Examples substitution, without its keyword
//	measured         string  what was measured ("output SQNR on the held-out set")
//	unit             string  "dB", "%", "points", "batches", ... ("" for a pure number)
//	direction        string  "at least", "at most", "less than", "greater than" or "within"
//	threshold        number  the threshold as written in the step
//	value            number  the measured value, in unit
//	margin           number  room left before the threshold, in unit: value - threshold for
//	                         "at least"/"greater than", threshold - value otherwise ("within"
//	                         measures a distance); negative when the criterion fails
//	ideal            number  the measure's perfect value: 1 for a cosine similarity; omitted when 0
//	                         (100 for a share in % that should be all)
//	format_limit     bool    the threshold is a limit of a number format (the int8 code range), which
//	                         a value reaches without being near failure; omitted when false
//	relative_margin  number  margin / |threshold - ideal|, the share of the allowed distance
//	                         from perfect left unused; omitted when the threshold is the ideal
//	                         or a format limit
//	pass             bool    whether the criterion holds
//
// A step whose text holds several thresholds records one criterion for
// each; a step about many items ("every layer ...") records the worst item
// and names it in measured.
const CriteriaSchema = "ptqspec.criteria/v1"

// CriteriaMediaType is the media type of a criterion attachment.
const CriteriaMediaType = "application/vnd.ptqspec.criterion+json"

// Directions a criterion compares in, as the steps write them.
const (
	atLeast     = "at least"
	atMost      = "at most"
	lessThan    = "less than"
	greaterThan = "greater than"
	within      = "within"
)

// criterion is one comparison of a measured number with a threshold of the
// feature text. slack widens the comparison of "at least", "at most" and
// "within" by an absolute amount for values computed in floating point
// (an accuracy of 1 point that arrives as 0.9999999999); it is not part of
// the record.
type criterion struct {
	measured  string
	unit      string
	direction string
	threshold float64
	value     float64
	slack     float64
	// ideal is the measure's perfect value (1 for a cosine similarity),
	// from which the threshold allows some distance; 0 for most.
	ideal float64
	// formatLimit marks a threshold that is a limit of a number format
	// (a zero point within [-128, 127]): reaching it is not being close
	// to failing, so it gets no relative margin.
	formatLimit bool
}

// passes reports whether the measured value meets the threshold. A NaN
// value never does.
func (c criterion) passes() bool {
	v, t := c.value, c.threshold
	switch c.direction {
	case atLeast:
		return v >= t-c.slack
	case greaterThan:
		return v > t
	case atMost, within:
		return v <= t+c.slack
	case lessThan:
		return v < t
	}
	return false
}

// margin returns the room left before the threshold, negative on failure.
func (c criterion) margin() float64 {
	if c.direction == atLeast || c.direction == greaterThan {
		return c.value - c.threshold
	}
	return c.threshold - c.value
}

// criterionRecord is the JSON form of a criterion, see CriteriaSchema.
type criterionRecord struct {
	Schema         string   `json:"schema"`
	Feature        string   `json:"feature"`
	Scenario       string   `json:"scenario"`
	Step           string   `json:"step"`
	Measured       string   `json:"measured"`
	Unit           string   `json:"unit"`
	Direction      string   `json:"direction"`
	Threshold      float64  `json:"threshold"`
	Ideal          float64  `json:"ideal,omitempty"`
	FormatLimit    bool     `json:"format_limit,omitempty"`
	Value          jsonNum  `json:"value"`
	Margin         jsonNum  `json:"margin"`
	RelativeMargin *jsonNum `json:"relative_margin,omitempty"`
	Pass           bool     `json:"pass"`
}

// jsonNum is a float64 that writes NaN and infinities as JSON null and
// ±1e308, which encoding/json refuses to write as numbers.
type jsonNum float64

// MarshalJSON writes n as a JSON number (null for NaN).
func (n jsonNum) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte("1e308"), nil
	case math.IsInf(f, -1):
		return []byte("-1e308"), nil
	}
	return json.Marshal(f)
}

// criteriaState holds the criteria of the step that is running and what
// names them: the scenario's feature file and name.
type criteriaState struct {
	mu       sync.Mutex
	feature  string
	scenario string
	pending  []criterion
}

// check records c for the running step and returns nil when it passes;
// otherwise it returns fail(), the step's own message. Every Then step that
// compares a number with a threshold of the feature text goes through it:
//
//	return check(ctx, criterion{measured: "output SQNR on the held-out set", unit: "dB",
//		direction: atLeast, threshold: minDB, value: v}, func() error {
//		return fmt.Errorf("... %.2f dB, want at least %g dB", v, minDB)
//	})
func check(ctx context.Context, c criterion, fail func() error) error {
	return checkAll(ctx, fail, c)
}

// checkAll records every criterion of cs and returns nil when all pass;
// otherwise it returns fail(). It serves steps with several thresholds
// ("below 3 dB, and ... at least 30 dB").
func checkAll(ctx context.Context, fail func() error, cs ...criterion) error {
	st := domainState[criteriaState](ctx)
	st.mu.Lock()
	st.pending = append(st.pending, cs...)
	st.mu.Unlock()
	ok := true
	for _, c := range cs {
		ok = ok && c.passes()
	}
	if ok {
		return nil
	}
	return fail()
}

func init() { addSteps("criteria", registerCriteria) }

// registerCriteria names each scenario's criteria and, after every step,
// turns the criteria the step recorded into attachments of that step.
func registerCriteria(sc *godog.ScenarioContext) {
	sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
		cs := domainState[criteriaState](ctx)
		cs.mu.Lock()
		cs.feature, cs.scenario = s.Uri, s.Name
		cs.mu.Unlock()
		return ctx, nil
	})
	sc.StepContext().After(func(ctx context.Context, st *godog.Step, _ godog.StepResultStatus, err error) (context.Context, error) {
		if _, ok := ctx.Value(stateKey{}).(*scenarioState); !ok {
			return ctx, err
		}
		atts, aerr := criteriaAttachments(ctx, st.Text)
		if aerr != nil {
			return ctx, aerr
		}
		return godog.Attach(ctx, atts...), err
	})
}

// criteriaAttachments returns the criteria recorded since the last call as
// attachments, the step's text filled in, and forgets them.
func criteriaAttachments(ctx context.Context, step string) ([]godog.Attachment, error) {
	cs := domainState[criteriaState](ctx)
	cs.mu.Lock()
	pending := cs.pending
	cs.pending = nil
	feature, scenario := cs.feature, cs.scenario
	cs.mu.Unlock()
	atts := make([]godog.Attachment, 0, len(pending))
	for _, c := range pending {
		body, err := json.Marshal(c.record(feature, scenario, step))
		if err != nil {
			return nil, fmt.Errorf("steps: criterion %q of step %q: %w", c.measured, step, err)
		}
		atts = append(atts, godog.Attachment{Body: body, FileName: "criterion", MediaType: CriteriaMediaType})
	}
	return atts, nil
}

// record returns the JSON record of c.
func (c criterion) record(feature, scenario, step string) criterionRecord {
	r := criterionRecord{
		Schema: CriteriaSchema, Feature: feature, Scenario: scenario, Step: step,
		Measured: c.measured, Unit: c.unit, Direction: c.direction,
		Threshold: c.threshold, Ideal: c.ideal, FormatLimit: c.formatLimit, Value: jsonNum(c.value), Margin: jsonNum(c.margin()), Pass: c.passes(),
	}
	if c.threshold != c.ideal && !c.formatLimit {
		rel := jsonNum(c.margin() / math.Abs(c.threshold-c.ideal))
		r.RelativeMargin = &rel
	}
	return r
}
