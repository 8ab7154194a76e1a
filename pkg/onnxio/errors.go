package onnxio

import (
	"errors"
	"fmt"
)

// Sentinel errors of the importer, matched with errors.Is. Every error
// Import returns wraps exactly one of them (an *UnsupportedError matches
// ErrUnsupported).
var (
	// ErrNotONNX reports bytes that do not decode as an ONNX ModelProto with
	// a graph, an IR version and an opset import.
	ErrNotONNX = errors.New("not an ONNX model")
	// ErrUnsupported reports a valid ONNX construct ptqspec cannot import:
	// an operator, an attribute value, a data type, external data.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalidGraph reports a graph that breaks ONNX's own rules: a cycle,
	// a node reading a tensor nothing defines, a tensor defined twice, an
	// operator given the wrong number of inputs or shapes that do not fit.
	ErrInvalidGraph = errors.New("invalid ONNX graph")
	// ErrTensorData reports a tensor whose declared dimensions do not match
	// the data it holds, or whose size overflows.
	ErrTensorData = errors.New("tensor data does not match its declared shape")
	// ErrTooLarge reports a tensor or activation larger than the import
	// limit (see WithMaxElements).
	ErrTooLarge = errors.New("too large")
	// ErrExport reports a graph or model the exporter cannot write.
	ErrExport = errors.New("cannot export")
)

// UnsupportedError reports an ONNX node, attribute, tensor or input that
// the importer does not support. It matches ErrUnsupported with errors.Is.
type UnsupportedError struct {
	Node   string // the node's name (or the tensor's, for an initializer or input)
	OpType string // the node's op_type; "" for a tensor or the graph itself
	Domain string // the operator's domain; "ai.onnx" for the default domain
	Opset  int64  // the opset version imported for Domain
	What   string // what exactly is unsupported
}

// Error implements the error interface:
// `onnxio: node "/Sigmoid" (Sigmoid, domain ai.onnx, opset 13): operator not supported`.
func (e *UnsupportedError) Error() string {
	if e.OpType == "" {
		return fmt.Sprintf("onnxio: %q: unsupported: %s", e.Node, e.What)
	}
	return fmt.Sprintf("onnxio: node %q (%s, domain %s, opset %d): unsupported: %s",
		e.Node, e.OpType, e.Domain, e.Opset, e.What)
}

// Is matches ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// domainName shows the default domain as "ai.onnx".
func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// invalidf returns an error wrapping sentinel, prefixed "onnxio: ".
func invalidf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("onnxio: %w: %s", sentinel, fmt.Sprintf(format, args...))
}
