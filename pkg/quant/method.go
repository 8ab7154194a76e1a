package quant

import (
	"fmt"
	"strconv"
	"strings"
)

// Method is a calibration method: how an observer turns the batches it
// sees into a range (NewObserver builds one by Method). It is a closed set:
// the constants below are its only valid values, listed once by Methods,
// and its text form is the name below, which configuration files, flags
// and JSON use. The zero Method is "no method given": it marshals to the
// empty string, and NewObserver refuses it; callers with a default (ptq's
// configuration) substitute theirs.
type Method uint8

// The calibration methods, in the order Methods lists them.
const (
	// MethodMinMax ("minmax") keeps the running min and max, per channel for
	// a per-channel spec: PyTorch's MinMaxObserver and
	// PerChannelMinMaxObserver.
	MethodMinMax Method = iota + 1
	// MethodMovingAverage ("moving_average") starts from the first batch's
	// range, then moves min and max by 0.01 of each batch's difference:
	// PyTorch's MovingAverageMinMaxObserver.
	MethodMovingAverage
	// MethodPercentile ("percentile") clips to the 99.99th percentile of a
	// histogram of |x|: ONNX Runtime's percentile calibrator.
	MethodPercentile
	// MethodEntropy ("entropy") picks the threshold of minimum KL
	// divergence: TensorRT's and ONNX Runtime's entropy calibrator.
	MethodEntropy
	// MethodMSE ("mse") picks the range of minimum expected quantization
	// error on a histogram, as PyTorch's HistogramObserver searches.
	MethodMSE
)

// methodNames is the one list of methods: index = Method, value = name.
var methodNames = [...]string{
	MethodMinMax:        "minmax",
	MethodMovingAverage: "moving_average",
	MethodPercentile:    "percentile",
	MethodEntropy:       "entropy",
	MethodMSE:           "mse",
}

// Methods returns every calibration method, in a stable order (that of the
// constants). The slice is the caller's.
func Methods() []Method {
	ms := make([]Method, 0, len(methodNames)-1)
	for m := MethodMinMax; int(m) < len(methodNames); m++ {
		ms = append(ms, m)
	}
	return ms
}

// Valid reports whether m is one of the Method constants (not the zero
// Method).
func (m Method) Valid() bool { return m > 0 && int(m) < len(methodNames) }

// String returns the method's name ("minmax", ...), "" for the zero Method
// and "Method(N)" for a value outside the set.
func (m Method) String() string {
	switch {
	case m == 0:
		return ""
	case m.Valid():
		return methodNames[m]
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText returns the method's name; the zero Method marshals to the
// empty text. A value outside the set is an error wrapping
// ErrUnknownMethod.
func (m Method) MarshalText() ([]byte, error) {
	if m != 0 && !m.Valid() {
		return nil, fmt.Errorf("quant: marshal %v: %w", m, ErrUnknownMethod)
	}
	return []byte(m.String()), nil
}

// UnmarshalText sets m from a method's name; the empty text gives the zero
// Method. Any other text is an error wrapping ErrUnknownMethod that lists
// the known names, and leaves m unchanged.
func (m *Method) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*m = 0
		return nil
	}
	p, err := ParseMethod(string(text))
	if err != nil {
		return err
	}
	*m = p
	return nil
}

// ParseMethod returns the method named name. An unknown name, including
// the empty one, is an error wrapping ErrUnknownMethod that lists the
// known names.
func ParseMethod(name string) (Method, error) {
	for m := MethodMinMax; int(m) < len(methodNames); m++ {
		if methodNames[m] == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("quant: calibration method %q (known: %s): %w", name, methodList(), ErrUnknownMethod)
}

// methodList returns the known names, comma-separated, for messages.
func methodList() string { return strings.Join(methodNames[1:], ", ") }
