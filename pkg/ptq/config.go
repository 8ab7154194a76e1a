package ptq

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ptqspec/ptqspec/pkg/quant"
)

// Default calibration convergence: every activation scale moves less than
// 1% for 3 consecutive batches.
const (
	DefaultTolerance = 0.01
	DefaultPatience  = 3
)

// Config says how Quantize, Traverse, Prepare, AnalyzeSensitivity and
// QuantizeWithBudget quantize a model statically. The zero Config, and a
// nil *Config, mean the defaults: per-channel symmetric int8 weights
// (quant.WeightDefault), per-tensor affine int8 activations
// (quant.ActivationDefault), MinMax calibration converged when every scale
// moves less than 1% for 3 consecutive batches, without early stop, and
// BatchNorm2D and ReLU fused into the layer before them. Set only what
// differs. QuantizeDynamic, which has no activation qparams, takes a
// DynamicConfig instead.
type Config struct {
	// Weights is the spec of every quantized layer's weights; nil means
	// quant.WeightDefault.
	Weights *quant.Spec
	// Activations is the spec of every activation between int8 layers;
	// nil means quant.ActivationDefault. It must be per-tensor.
	Activations *quant.Spec
	// Method is the calibration method of activation observers; the zero
	// Method means quant.MethodMinMax.
	Method quant.Method
	// Calibration controls batching, convergence and early stop.
	Calibration CalibrationOptions
	// Overrides change the above for some layers, or keep them FP32.
	Overrides []Override
	// NoFusion disables folding BatchNorm2D and ReLU into the preceding
	// Conv2D or Linear.
	NoFusion bool
	// Holdout is the evaluation set Quantize measures the report's SQNR
	// figures on (Report.OutputSQNR and every layer's SQNR): samples
	// calibration never saw, of the model's input shape. Every sample is
	// used; Labels are not read. nil measures on the first 256
	// calibration samples instead, as Quantize always did, and the report
	// says so (Report.SQNRData). Only Quantize reads Holdout: Traverse,
	// Prepare, AnalyzeSensitivity and QuantizeWithBudget ignore it.
	Holdout *Data
}

// DynamicConfig says how QuantizeDynamic quantizes a model. The zero
// DynamicConfig, and a nil *DynamicConfig, mean per-channel symmetric int8
// weights (quant.WeightDefault) on every Linear layer, Conv2D layers kept
// FP32.
type DynamicConfig struct {
	// Weights is the spec of every quantized layer's weights; nil means
	// quant.WeightDefault.
	Weights *quant.Spec
	// Overrides keep layers FP32 (KeepFP32) or change their Weights.
	// Their Activations and Method are not read: dynamic quantization
	// has no activation qparams and no calibration.
	Overrides []Override
	// Conv2D quantizes Conv2D layers too, as Linear layers are: int8
	// weights, the FP32 input quantized per call, the output dequantized
	// to FP32. A BatchNorm2D after such a Conv2D is not folded: it runs in
	// FP32.
	Conv2D bool
}

// CalibrationOptions control how calibration consumes data and when it is
// considered converged. The zero value means every batch,
// DefaultTolerance, DefaultPatience and no early stop.
//
// Calibration is converged after a batch when that batch and the
// Patience-1 before it each moved every activation scale by at most
// Tolerance, relative to its value; a later batch moving one by more
// loses convergence until Patience calm batches regain it. Converged in
// the results means converged at the end of calibration (see the package
// documentation, Convergence).
type CalibrationOptions struct {
	// MaxBatches stops calibration after this many batches; 0 means all.
	MaxBatches int
	// Tolerance is the largest relative change of any activation scale
	// between consecutive batches that still counts as calm, and the one
	// above which a converged calibration loses convergence; 0 means
	// DefaultTolerance.
	Tolerance float64
	// Patience is how many consecutive calm batches make calibration
	// converged, first and again after a loss; 0 means DefaultPatience.
	Patience int
	// EarlyStop ends calibration right after the first batch at which it
	// converged, so the batches that could have lost it are not read.
	EarlyStop bool
}

// withDefaults returns o with its zero fields set to their defaults.
func (o CalibrationOptions) withDefaults() CalibrationOptions {
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.Patience == 0 {
		o.Patience = DefaultPatience
	}
	return o
}

// WithDefaults returns a copy of the configuration with every field left
// to its default set to that default: what a quantizer reads. A nil c
// gives the default configuration. Overrides are copied, not resolved.
func (c *Config) WithDefaults() Config {
	var r Config
	if c != nil {
		r = *c
		r.Overrides = slices.Clone(c.Overrides)
	}
	if r.Weights == nil {
		w := quant.WeightDefault
		r.Weights = &w
	} else {
		w := *r.Weights
		r.Weights = &w
	}
	if r.Activations == nil {
		a := quant.ActivationDefault
		r.Activations = &a
	} else {
		a := *r.Activations
		r.Activations = &a
	}
	if r.Method == 0 {
		r.Method = quant.MethodMinMax
	}
	r.Calibration = r.Calibration.withDefaults()
	return r
}

// static returns the configuration static quantization runs for a dynamic
// one: its weights and overrides, no fusion.
func (c *DynamicConfig) static() Config {
	var r Config
	if c != nil {
		r.Weights, r.Overrides = c.Weights, c.Overrides
	}
	r.NoFusion = true
	return r.WithDefaults()
}

// Override changes the configuration of the nodes it matches. Exactly one of
// Name, Glob and Kind selects the nodes. When several overrides match one
// node, Kind overrides apply first, then Glob, then Name, and within one
// level later overrides win.
type Override struct {
	// Name matches one node by its exact name.
	Name string
	// Glob matches node names with path.Match syntax, for example "conv*".
	Glob string
	// Kind matches every node of a layer kind, for example "Linear".
	Kind string

	// KeepFP32 leaves the matched layers in float.
	KeepFP32 bool
	// Weights, if set, replaces Config.Weights.
	Weights *quant.Spec
	// Activations, if set, replaces Config.Activations for the layers'
	// outputs.
	Activations *quant.Spec
	// Method, if set (not the zero Method), replaces Config.Method.
	Method quant.Method
}

// String renders the selector, for example `glob "conv*"`.
func (o Override) String() string {
	switch {
	case o.Name != "":
		return fmt.Sprintf("name %q", o.Name)
	case o.Glob != "":
		return fmt.Sprintf("glob %q", o.Glob)
	default:
		return fmt.Sprintf("kind %q", o.Kind)
	}
}

func (o Override) level() int {
	switch {
	case o.Kind != "":
		return 0
	case o.Glob != "":
		return 1
	}
	return 2
}

func (o Override) matches(name, kind string) bool {
	switch {
	case o.Name != "":
		return o.Name == name
	case o.Glob != "":
		ok, _ := path.Match(o.Glob, name)
		return ok
	}
	return o.Kind == kind
}

func (o Override) validate() error {
	set := 0
	for _, s := range []string{o.Name, o.Glob, o.Kind} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("ptq: override %+v: set exactly one of Name, Glob and Kind: %w", o, ErrInvalidConfig)
	}
	if o.Glob != "" {
		if _, err := path.Match(o.Glob, ""); err != nil {
			return fmt.Errorf("ptq: override %v: bad pattern: %w", o, ErrInvalidConfig)
		}
	}
	if o.Weights != nil {
		if err := o.Weights.Validate(); err != nil {
			return fmt.Errorf("ptq: override %v: weights: %w", o, err)
		}
	}
	if o.Activations != nil {
		if err := validateActivations(*o.Activations); err != nil {
			return fmt.Errorf("ptq: override %v: %w", o, err)
		}
	}
	if o.Method != 0 && !o.Method.Valid() {
		return fmt.Errorf("ptq: override %v: unknown method %v (known: %s): %w (%w)", o, o.Method, methodNames(), ErrInvalidConfig, quant.ErrUnknownMethod)
	}
	return nil
}

func validateActivations(s quant.Spec) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("activations: %w", err)
	}
	if s.Granularity != quant.PerTensor {
		return fmt.Errorf("activations: %v: activations are quantized per tensor: %w", s, ErrInvalidConfig)
	}
	return nil
}

// Validate reports a configuration no quantizer can honour, wrapping
// ErrInvalidConfig or the quant package's spec errors, or, for a Holdout
// without samples, ErrNoEvaluationData. A nil or zero Config is valid.
func (c *Config) Validate() error {
	r := c.WithDefaults()
	if err := r.Weights.Validate(); err != nil {
		return fmt.Errorf("ptq: weights: %w", err)
	}
	if err := validateActivations(*r.Activations); err != nil {
		return fmt.Errorf("ptq: %w", err)
	}
	if !r.Method.Valid() {
		return fmt.Errorf("ptq: unknown calibration method %v (known: %s): %w (%w)", r.Method, methodNames(), ErrInvalidConfig, quant.ErrUnknownMethod)
	}
	if r.Holdout != nil {
		if err := r.Holdout.check("holdout"); err != nil {
			return err
		}
	}
	if r.Calibration.MaxBatches < 0 || r.Calibration.Tolerance < 0 || r.Calibration.Patience < 0 {
		return fmt.Errorf("ptq: calibration options %+v: negative value: %w", r.Calibration, ErrInvalidConfig)
	}
	for _, o := range r.Overrides {
		if err := o.validate(); err != nil {
			return err
		}
	}
	return nil
}

// methodNames lists the calibration methods' names for messages.
func methodNames() string {
	var names []string
	for _, m := range quant.Methods() {
		names = append(names, m.String())
	}
	return strings.Join(names, ", ")
}

// LayerConfig is the configuration resolved for one node after overrides.
type LayerConfig struct {
	KeepFP32    bool
	Weights     quant.Spec
	Activations quant.Spec
	Method      quant.Method
	// Overrides lists the overrides that applied, in the order applied.
	Overrides []string
}

// resolve applies the matching overrides to one node and marks them used.
// c has its defaults set (WithDefaults).
func (c *Config) resolve(name, kind string, used []bool) LayerConfig {
	lc := LayerConfig{Weights: *c.Weights, Activations: *c.Activations, Method: c.Method}
	for level := range 3 {
		for i, o := range c.Overrides {
			if o.level() != level || !o.matches(name, kind) {
				continue
			}
			used[i] = true
			lc.Overrides = append(lc.Overrides, o.String())
			if o.KeepFP32 {
				lc.KeepFP32 = true
			}
			if o.Weights != nil {
				lc.Weights = *o.Weights
			}
			if o.Activations != nil {
				lc.Activations = *o.Activations
			}
			if o.Method != 0 {
				lc.Method = o.Method
			}
		}
	}
	return lc
}
