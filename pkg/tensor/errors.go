package tensor

import "fmt"

// ShapeError reports an operation applied to tensors of incompatible shapes.
type ShapeError struct {
	Op   string // the operation, for example "reshape"
	Got  []int  // the shape that was supplied
	Want []int  // the shape that was expected, if any
	Msg  string // extra detail, if any
}

// Error implements the error interface.
func (e *ShapeError) Error() string {
	s := fmt.Sprintf("tensor: %s: shape %v", e.Op, e.Got)
	if e.Want != nil {
		s += fmt.Sprintf(" does not match %v", e.Want)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}
