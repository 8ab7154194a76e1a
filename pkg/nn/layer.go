package nn

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// Mode selects training or inference behaviour of a forward pass.
type Mode int

const (
	// Eval is inference: BatchNorm uses running statistics, Dropout is the
	// identity, and no layer state is modified, so concurrent Eval passes over
	// one model are safe.
	Eval Mode = iota
	// Train records what Backward needs and updates running statistics.
	Train
)

// String returns "eval" or "train".
func (m Mode) String() string {
	if m == Train {
		return "train"
	}
	return "eval"
}

// Param is a named tensor owned by a layer. Trainable parameters have a
// gradient of the same shape; buffers (BatchNorm running statistics) have a
// nil Grad.
type Param struct {
	Name  string
	Value *tensor.Tensor
	Grad  *tensor.Tensor
}

// Layer is one operation of a model. Tensors passed to and from a layer carry
// the batch as their first dimension; shapes given to OutputShape do not.
type Layer interface {
	// Kind names the layer type, for example "Linear" or "Conv2D". It is the
	// key under which the type is registered for Load.
	Kind() string
	// OutputShape returns the per-sample output shape for the per-sample
	// shapes of the inputs, or an error saying why they do not fit.
	OutputShape(inputs [][]int) ([]int, error)
	// Forward computes the layer on a batch. In Eval mode it must not modify
	// the layer.
	Forward(inputs []*tensor.Tensor, mode Mode) (*tensor.Tensor, error)
	// Backward takes the gradient of the loss with respect to the output of
	// the last Train-mode Forward, accumulates parameter gradients into
	// Params()[i].Grad, and returns the gradient for each input.
	Backward(gradOut *tensor.Tensor) ([]*tensor.Tensor, error)
	// Params returns the trainable parameters in a fixed order.
	Params() []*Param
	// Clone returns a deep copy sharing no storage with the receiver.
	Clone() Layer
}

// Buffered is implemented by layers holding non-trainable state that must be
// saved with the model, such as BatchNorm's running mean and variance.
type Buffered interface {
	Buffers() []*Param
}

// Serializable is implemented by layers that can be saved: Attrs returns a
// JSON-marshalable value of the layer's hyperparameters (not its tensors).
type Serializable interface {
	Attrs() any
}

// Constructor builds a layer of a registered kind from its JSON attributes.
// Its parameters and buffers are allocated with the right shapes (Load
// fills them), with no gradients: Backward allocates those when it first
// needs them.
//
// limit is the most values the layer's parameters and buffers may hold
// together. A constructor must refuse attributes asking for more with an
// error, before it allocates anything, so that a model file cannot make
// its loader allocate more than the file holds: Load passes the number of
// values the file stores for the node. The built-in constructors also
// refuse sizes whose product overflows, and geometry that tensor.Numel
// refuses (see Conv2D). Code building a layer that is not loaded from a
// file passes tensor.MaxElements().
type Constructor func(attrs json.RawMessage, limit int) (Layer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Constructor{}
)

// Register makes a layer kind loadable. Built-in layers register themselves;
// custom layers register in an init function. Registering a kind twice panics.
func Register(kind string, c Constructor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic(fmt.Sprintf("nn: layer kind %q registered twice", kind))
	}
	registry[kind] = c
}

// Lookup returns the constructor of a registered layer kind.
func Lookup(kind string) (Constructor, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	c, ok := registry[kind]
	return c, ok
}

// Kinds lists the registered layer kinds, sorted.
func Kinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	ks := make([]string, 0, len(registry))
	for k := range registry {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
