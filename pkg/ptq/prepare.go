package ptq

import (
	"fmt"

	"github.com/ptqspec/ptqspec/pkg/nn"
)

// Prepared is a model ready for calibration: its plan and the observers on
// every activation the plan needs.
type Prepared struct {
	*Calibrator
	Plan  *Plan
	graph *nn.Graph
	cfg   Config // with its defaults set
}

// Prepare traverses g and attaches observers. A nil cfg means the defaults
// (see Config). g is cloned: later changes to it do not affect the
// preparation, and it is never modified.
func Prepare(g *nn.Graph, cfg *Config) (*Prepared, error) {
	if g == nil {
		return nil, fmt.Errorf("ptq: prepare: %w", ErrNilModel)
	}
	c := cfg.WithDefaults()
	g = g.Clone()
	p, err := Traverse(g, &c)
	if err != nil {
		return nil, err
	}
	if err := checkWeights(g, p); err != nil {
		return nil, err
	}
	cal, err := NewCalibrator(g, p, c.Calibration)
	if err != nil {
		return nil, err
	}
	return &Prepared{Calibrator: cal, Plan: p, graph: g, cfg: c}, nil
}
