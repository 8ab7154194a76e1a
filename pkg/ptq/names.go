package ptq

import (
	"fmt"
	"strings"
)

// This file holds the closed sets of ptq (Role, Mode, Metric) and their
// text forms, each listed once: String, MarshalText, UnmarshalText and
// Parse read the same table. JSON reports and model files hold the names.

// roleNames, modeNames and metricNames map each value to its name.
var (
	roleNames   = []string{Quantized: "int8", Transparent: "int8-transparent", Fused: "fused", FP32: "fp32"}
	modeNames   = []string{ModeStatic: "static", ModeDynamic: "dynamic", ModeFP32: "fp32"}
	metricNames = []string{MetricAccuracy: "accuracy", MetricSQNR: "output_sqnr_db"}
)

// nameOf returns the name of value v of the set typ, "" for an unnamed
// zero value and typ(v) outside the set.
func nameOf(v int, names []string, typ string) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// marshalName is MarshalText for value v of the set typ: an error
// wrapping ErrUnknownValue outside the set; the unnamed zero value
// marshals to the empty text.
func marshalName(v int, names []string, typ string) ([]byte, error) {
	s := nameOf(v, names, typ)
	if v != 0 && (v < 0 || v >= len(names) || names[v] == "") {
		return nil, fmt.Errorf("ptq: marshal %s: %w", s, ErrUnknownValue)
	}
	return []byte(s), nil
}

// lookupName returns the value named s in the set typ, or an error wrapping
// ErrUnknownValue that lists the names.
func lookupName(s string, names []string, typ string) (int, error) {
	var known []string
	for i, n := range names {
		if n == "" {
			continue
		}
		if n == s {
			return i, nil
		}
		known = append(known, n)
	}
	return 0, fmt.Errorf("ptq: %s %q (known: %s): %w", strings.ToLower(typ), s, strings.Join(known, ", "), ErrUnknownValue)
}

// Role is what quantization does with one node.
type Role int

const (
	// Quantized nodes run an int8 kernel: Linear, Conv2D and the residual
	// Add. Their outputs get qparams from calibration.
	Quantized Role = iota
	// Transparent nodes run on int8 data as they are and keep their input's
	// qparams: ReLU, MaxPool2D, AvgPool2D, GlobalAvgPool, Flatten, Dropout,
	// Identity. Fed FP32 data they run in FP32.
	Transparent
	// Fused nodes are folded into the layer before them: BatchNorm2D into a
	// Conv2D's weights, ReLU into a Conv2D's or Linear's output clamp.
	Fused
	// FP32 nodes stay in float: Softmax, LogSoftmax, BatchNorm2D that cannot
	// be folded, layers of unknown kinds and layers kept by the user.
	FP32
)

// String returns "int8", "int8-transparent", "fused" or "fp32".
func (r Role) String() string { return nameOf(int(r), roleNames, "Role") }

// MarshalText returns the role's name.
func (r Role) MarshalText() ([]byte, error) { return marshalName(int(r), roleNames, "Role") }

// UnmarshalText sets r from a role's name, or returns an error wrapping
// ErrUnknownValue and leaves r unchanged.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err == nil {
		*r = v
	}
	return err
}

// ParseRole returns the role named s ("int8", "int8-transparent", "fused"
// or "fp32").
func ParseRole(s string) (Role, error) {
	v, err := lookupName(s, roleNames, "Role")
	return Role(v), err
}

// Mode is how a Model computes.
type Mode uint8

const (
	// ModeStatic models pass int8 tensors between int8 kernels, with
	// activation qparams from calibration.
	ModeStatic Mode = iota + 1
	// ModeDynamic models have int8 weights and quantize their FP32
	// inputs per call; every layer boundary is FP32.
	ModeDynamic
	// ModeFP32 models had nothing to quantize and compute what the FP32
	// model does.
	ModeFP32
)

// String returns "static", "dynamic" or "fp32"; "" for the zero Mode.
func (m Mode) String() string { return nameOf(int(m), modeNames, "Mode") }

// MarshalText returns the mode's name; the zero Mode marshals to "".
func (m Mode) MarshalText() ([]byte, error) { return marshalName(int(m), modeNames, "Mode") }

// UnmarshalText sets m from a mode's name ("" gives the zero Mode), or
// returns an error wrapping ErrUnknownValue and leaves m unchanged.
func (m *Mode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = 0
		return nil
	}
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// ParseMode returns the mode named s ("static", "dynamic" or "fp32").
func ParseMode(s string) (Mode, error) {
	v, err := lookupName(s, modeNames, "Mode")
	return Mode(v), err
}

// Metric is what a sensitivity analysis or a budgeted fallback scores a
// model by.
type Metric uint8

const (
	// MetricAccuracy ("accuracy") is top-1 accuracy on labelled data, a
	// fraction in [0, 1].
	MetricAccuracy Metric = iota + 1
	// MetricSQNR ("output_sqnr_db") is the model output's SQNR in dB
	// against the FP32 model, for data without labels.
	MetricSQNR
)

// String returns "accuracy" or "output_sqnr_db"; "" for the zero Metric.
func (m Metric) String() string { return nameOf(int(m), metricNames, "Metric") }

// MarshalText returns the metric's name; the zero Metric marshals to "".
func (m Metric) MarshalText() ([]byte, error) { return marshalName(int(m), metricNames, "Metric") }

// UnmarshalText sets m from a metric's name ("" gives the zero Metric), or
// returns an error wrapping ErrUnknownValue and leaves m unchanged.
func (m *Metric) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = 0
		return nil
	}
	v, err := ParseMetric(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// ParseMetric returns the metric named s ("accuracy" or "output_sqnr_db").
func ParseMetric(s string) (Metric, error) {
	v, err := lookupName(s, metricNames, "Metric")
	return Metric(v), err
}
