package scorecard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// CriteriaSchema is the schema of the criterion records this package
// reads, as the acceptance suite writes them.
const CriteriaSchema = "ptqspec.criteria/v1"

// CriteriaMediaType is the media type of a criterion attachment.
const CriteriaMediaType = "application/vnd.ptqspec.criterion+json"

// Criterion is one record of schema CriteriaSchema: a measured number
// compared with a threshold of the feature text by one Then step.
type Criterion struct {
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
	Value          *float64 `json:"value"`
	Margin         *float64 `json:"margin"`
	RelativeMargin *float64 `json:"relative_margin,omitempty"`
	Pass           bool     `json:"pass"`
}

// CukeFeature is one feature of a cucumber JSON report.
type CukeFeature struct {
	URI      string        `json:"uri"`
	Name     string        `json:"name"`
	Tags     []CukeTag     `json:"tags"`
	Elements []CukeElement `json:"elements"`
}

// CukeTag is a tag in a cucumber JSON report.
type CukeTag struct {
	Name string `json:"name"`
}

// CukeElement is one scenario (an outline's Examples row) of a cucumber
// JSON report. Line is the scenario's line, or its Examples row's.
type CukeElement struct {
	Name  string     `json:"name"`
	Line  int        `json:"line"`
	Type  string     `json:"type"`
	Tags  []CukeTag  `json:"tags"`
	Steps []CukeStep `json:"steps"`
}

// CukeStep is one step of a cucumber JSON report with its result and the
// criteria it recorded.
type CukeStep struct {
	Keyword    string          `json:"keyword"`
	Name       string          `json:"name"`
	Line       int             `json:"line"`
	Result     CukeResult      `json:"result"`
	Embeddings []CukeEmbedding `json:"embeddings"`
	// Criteria are the decoded criterion embeddings.
	Criteria []Criterion `json:"-"`
}

// CukeResult is a step's status, error and duration in nanoseconds.
type CukeResult struct {
	Status   string `json:"status"`
	Error    string `json:"error_message"`
	Duration int64  `json:"duration"`
}

// CukeEmbedding is an attachment of a step, its data in base64.
type CukeEmbedding struct {
	Name     string `json:"name"`
	MimeType string `json:"mime_type"`
	Data     string `json:"data"`
}

// ReadCucumber decodes a cucumber JSON report and the criterion records
// attached to its steps. A record of another schema, or one that does not
// decode, is an error naming the feature, scenario and step.
func ReadCucumber(r io.Reader) ([]CukeFeature, error) {
	var feats []CukeFeature
	if err := json.NewDecoder(r).Decode(&feats); err != nil {
		return nil, fmt.Errorf("scorecard: cucumber JSON: %w", err)
	}
	for fi := range feats {
		f := &feats[fi]
		for ei := range f.Elements {
			e := &f.Elements[ei]
			for si := range e.Steps {
				s := &e.Steps[si]
				for _, em := range s.Embeddings {
					if em.MimeType != CriteriaMediaType {
						continue
					}
					c, err := decodeCriterion(em.Data)
					if err != nil {
						return nil, fmt.Errorf("scorecard: %s: scenario %q (line %d), step %q: %w", f.URI, e.Name, e.Line, s.Name, err)
					}
					s.Criteria = append(s.Criteria, c)
				}
			}
		}
	}
	return feats, nil
}

// ReadCucumberFile reads the cucumber JSON report at path.
func ReadCucumberFile(path string) ([]CukeFeature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scorecard: %w", err)
	}
	defer f.Close()
	feats, err := ReadCucumber(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return feats, nil
}

// decodeCriterion decodes one base64 criterion record and checks its
// schema.
func decodeCriterion(data string) (Criterion, error) {
	var c Criterion
	body, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return c, fmt.Errorf("criterion attachment: %w", err)
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, fmt.Errorf("criterion record: %w", err)
	}
	if c.Schema != CriteriaSchema {
		return c, fmt.Errorf("criterion record of schema %q, want %q", c.Schema, CriteriaSchema)
	}
	return c, nil
}
