package ptq

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ptqspec/ptqspec/internal/workpool"
	"github.com/ptqspec/ptqspec/pkg/nn"
	"github.com/ptqspec/ptqspec/pkg/quant/qnn"
	"github.com/ptqspec/ptqspec/pkg/tensor"
)

// How a statically quantized model runs fast.
//
// A model whose every step is an int8 kernel (Linear, Conv2D, Add), an
// int8 pass-through (ReLU, pooling, Flatten, Dropout, Identity) or a node
// fused into the one before it is compiled, once, into a program: a list
// of instructions that read and write numbered int8 slots, with the FP32
// input quantized by the first kernels that read it and the last slot
// dequantized into the output. A Conv2D whose output (after its fused
// BatchNorm2D and ReLU) only a MaxPool2D reads runs fused with it
// (qnn.Conv2D.ForwardMaxPoolInto). Where the CPU has AVX-512 VNNI, the
// stride-1 convolutions keep their activations channels-last from one
// kernel to the next and read their windows in place
// (qnn.NHWCConv2D, see program.channelsLast); the others gather their
// windows channels-last against weights packed once in that order
// (qnn.PreparedConv2D).
//
// Each goroutine running the program uses an execState of its own: the
// slots' storage and the kernels' Scratch, which grow to the batch once
// and are then reused, so that Forward allocates nothing in steady state
// but its result (and ForwardInto not even that). States are recycled
// through a sync.Pool owned by the model.
//
// Every output sample depends on its input sample only (the qparams are
// fixed), so a batch is cut into contiguous parts run on separate
// goroutines (internal/workpool) when it holds at least splitWork
// multiply-adds per part; each kernel then runs on one goroutine. Results
// do not depend on the number of parts. The calling goroutine runs a part
// itself and spins briefly for the others (workpool.Team): one fork and
// one join per Forward, with no wake-up of a sleeping thread at the join
// in the common case; the model's workpool.Team keeps the helper goroutine
// spinning for a short while after each Forward, so that batches run back
// to back find it running rather than waking an idle core (10-30 us on
// this VM, half of an MLP batch). Models with FP32 or dynamically
// quantized steps (whose per-call qparams depend on the whole batch) run
// step by step as before (Model.run).

// splitWork is the number of multiply-adds a part of a batch must hold
// for it to go to a goroutine of its own: starting and joining one costs
// a few microseconds, this is some tens.
const splitWork = 1 << 20

// instrOp is what one instruction of a program does.
type instrOp uint8

const (
	insQuantize instrOp = iota // quantize the FP32 input into a slot
	insLinear
	insConv
	insConvMaxPool // Conv2D then MaxPool2D, fused
	insMaxPool
	insAvgPool
	insGlobalAvgPool
	insReLU
	insFlatten
	insAdd
	insToNCHW // a channels-last slot copied to NCHW for a reader that needs it
)

// instr is one instruction: op reads slots in and writes slot out.
type instr struct {
	op     instrOp
	step   *step // the node, for error messages (the pool's for insConvMaxPool)
	in     []int
	out    int
	linear *qnn.Linear
	conv   *qnn.PreparedConv2D
	// nhwc, when set, runs insConv or insConvMaxPool channels-last instead
	// of conv; view says that its input slot is NCHW with one channel,
	// which it reads as [N, H, W, 1] (the same codes).
	nhwc      *qnn.NHWCConv2D
	view      bool
	k, stride int     // pooling window
	act       qnn.Act // insQuantize: the qparams; insAdd: the output's
	shape     []int   // insQuantize: the per-sample shape of the input as read
}

// program is a static model compiled for Forward.
type program struct {
	instrs []instr
	slots  int
	out    int // the slot of the model's output
	// outShape is the per-sample output shape, macs the multiply-adds of
	// one sample.
	outShape []int
	macs     int
}

// execState is the working memory of one goroutine running a program.
type execState struct {
	slots   []qnn.Tensor
	scratch qnn.Scratch
	ins     []*qnn.Tensor
	ratio   []float64
	shape   []int
	view    qnn.Tensor // an NCHW one-channel slot seen as NHWC
}

// executor is what a Model keeps for its fast path: the program, compiled
// on first use (nil when the model cannot run on it), and the pool of
// states.
type executor struct {
	once   sync.Once
	prog   *program
	states sync.Pool // of *execState
	// team keeps the goroutine that runs the second part of a batch
	// spinning between back-to-back Forwards (workpool.Team).
	team workpool.Team
}

// errNonFinite says that the input held NaN or ±Inf: the caller reruns
// the checks of the step-by-step path, which name the sample.
var errNonFinite = errors.New("ptq: non-finite input")

// program returns the model's compiled program, or nil.
func (m *Model) program() *program {
	m.exec.once.Do(func() { m.exec.prog = compile(m) })
	return m.exec.prog
}

// compile builds the program of m, or returns nil when a step has no
// int8 instruction.
func compile(m *Model) *program {
	if m.mode != ModeStatic {
		return nil
	}
	p := &program{}
	slot := map[string]int{} // int8 value of each node
	// views are the nodes whose value is the FP32 input itself (through
	// FP32 Flatten, Dropout or Identity steps), with its per-sample shape.
	views := map[string][]int{m.input: m.inputShape}
	type quantKey struct { // the codes depend on these fields of qnn.Act only
		view           string
		scale          float32
		zero, min, max int32
	}
	quantized := map[quantKey]int{} // a view, quantized with these qparams
	newSlot := func() int { p.slots++; return p.slots - 1 }
	input := func(name string, act qnn.Act) (int, bool) {
		shape, isView := views[name]
		if !isView {
			s, ok := slot[name]
			return s, ok
		}
		key := quantKey{name, act.Scale, act.Zero, act.Min, act.Max}
		if s, ok := quantized[key]; ok {
			return s, true
		}
		s := newSlot()
		quantized[key] = s
		p.instrs = append(p.instrs, instr{op: insQuantize, out: s, act: act, shape: shape})
		return s, true
	}
	for _, s := range m.steps {
		in := make([]int, len(s.inputs))
		ok := true
		ins := instr{step: s, in: in}
		switch s.op {
		case opFused:
			if slot[s.name], ok = slot[s.inputs[0]]; !ok {
				return nil
			}
			continue
		case opLinear, opConv2D:
			var act qnn.Act
			switch k := s.kernel.(type) {
			case *qnn.Linear:
				ins.op, ins.linear, act = insLinear, k, k.InAct
				p.macs += k.In * k.Out
			case *qnn.Conv2D:
				ins.op, ins.conv, act = insConv, k.Prepare(), k.InAct
				p.macs += convMACs(k, s.shape)
			default:
				return nil
			}
			in[0], ok = input(s.inputs[0], act)
		case opAdd:
			ins.op, ins.act = insAdd, s.addOut
			for i, name := range s.inputs {
				var okI bool
				in[i], okI = input(name, s.addIn[i])
				ok = ok && okI
			}
		case opInt8:
			switch l := s.fp32.(type) {
			case *nn.Dropout, *nn.Identity:
				if slot[s.name], ok = slot[s.inputs[0]]; !ok {
					return nil
				}
				continue
			case *nn.ReLU:
				ins.op = insReLU
			case *nn.MaxPool2D:
				ins.op, ins.k, ins.stride = insMaxPool, l.K, l.Stride
			case *nn.AvgPool2D:
				ins.op, ins.k, ins.stride = insAvgPool, l.K, l.Stride
			case *nn.GlobalAvgPool:
				ins.op = insGlobalAvgPool
			case *nn.Flatten:
				ins.op = insFlatten
			default:
				return nil
			}
			in[0], ok = slot[s.inputs[0]]
		case opFP32:
			// Only a reshape of the FP32 input itself: the kernels after
			// it quantize it.
			shape, isView := views[s.inputs[0]]
			if !isView || len(s.inputs) != 1 {
				return nil
			}
			switch s.fp32.(type) {
			case *nn.Flatten:
				views[s.name] = []int{numel(shape)}
			case *nn.Dropout, *nn.Identity:
				views[s.name] = shape
			default:
				return nil
			}
			continue
		default:
			return nil
		}
		if !ok {
			return nil
		}
		ins.out = newSlot()
		slot[s.name] = ins.out
		p.instrs = append(p.instrs, ins)
	}
	var ok bool
	if p.out, ok = slot[m.output]; !ok || len(quantized) == 0 {
		return nil
	}
	for _, s := range m.steps {
		if s.name == m.output {
			p.outShape = s.shape
		}
	}
	p.fuseConvMaxPool()
	p.channelsLast()
	return p
}

// convMACs is the number of multiply-adds of one sample through k, whose
// per-sample output shape is shape [C, OH, OW].
func convMACs(k *qnn.Conv2D, shape []int) int {
	if len(shape) != 3 {
		return 0
	}
	return shape[1] * shape[2] * k.OutC * k.InC * k.KH * k.KW
}

// fuseConvMaxPool merges each Conv2D whose output slot only a MaxPool2D
// reads, and which is not the model's output, with that MaxPool2D.
func (p *program) fuseConvMaxPool() {
	readers := make([]int, p.slots)
	for _, ins := range p.instrs {
		for _, s := range ins.in {
			readers[s]++
		}
	}
	kept := p.instrs[:0]
	for i := 0; i < len(p.instrs); i++ {
		ins := p.instrs[i]
		if ins.op == insConv && ins.out != p.out && readers[ins.out] == 1 {
			for j := i + 1; j < len(p.instrs); j++ {
				pool := p.instrs[j]
				if pool.op == insMaxPool && pool.in[0] == ins.out {
					ins.op, ins.k, ins.stride, ins.out = insConvMaxPool, pool.k, pool.stride, pool.out
					ins.step = pool.step
					p.instrs = append(p.instrs[:j], p.instrs[j+1:]...)
					break
				}
			}
		}
		kept = append(kept, ins)
	}
	p.instrs = kept
}

// channelsLast keeps activations channels-last (NHWC) between the
// convolutions that run so (qnn.NHWCConv2D: stride 1, a multiple of 16
// output channels, VNNI), so that no layer copies its input to another
// order: such a convolution writes an NHWC slot, reads an NHWC slot or an
// NCHW one of one channel (the same codes), ReLU keeps its input's
// layout, and a Flatten of an NHWC slot that only Linear kernels read
// stays a view, the Linears taking their weight columns permuted to
// match (qnn.Linear.PermuteNHWC). Any other reader of an NHWC slot, and
// the model's output, get an NCHW copy (insToNCHW) made once. Every code
// is the one the NCHW kernels compute.
func (p *program) channelsLast() {
	readers := make([][]int, p.slots)
	for i, ins := range p.instrs {
		for _, s := range ins.in {
			readers[s] = append(readers[s], i)
		}
	}
	nhwc := make([]bool, p.slots)
	shape := make([][]int, p.slots)   // per-sample NCHW shape of an NHWC slot
	permuted := map[int]*qnn.Linear{} // instruction -> its Linear for an NHWC flattening
	toNCHW := map[int]int{}           // NHWC slot -> its NCHW copy
	var kept []instr
	nchw := func(s int, step *step) int {
		if !nhwc[s] {
			return s
		}
		if c, ok := toNCHW[s]; ok {
			return c
		}
		c := p.slots
		p.slots++
		toNCHW[s] = c
		kept = append(kept, instr{op: insToNCHW, step: step, in: []int{s}, out: c})
		return c
	}
	for i, ins := range p.instrs {
		switch ins.op {
		case insConv, insConvMaxPool:
			in := ins.in[0]
			l := ins.conv.Conv2D()
			if d := l.PrepareNHWC(); d != nil && len(ins.step.shape) == 3 && (nhwc[in] || l.InC == 1) {
				ins.nhwc, ins.view = d, !nhwc[in]
				nhwc[ins.out], shape[ins.out] = true, ins.step.shape
				break
			}
			ins.in = []int{nchw(in, ins.step)}
		case insReLU:
			nhwc[ins.out], shape[ins.out] = nhwc[ins.in[0]], shape[ins.in[0]]
		case insFlatten:
			in := ins.in[0]
			if !nhwc[in] {
				break
			}
			linears := map[int]*qnn.Linear{}
			for _, r := range readers[ins.out] {
				if p.instrs[r].op != insLinear {
					linears = nil
					break
				}
				sh := shape[in]
				pl, err := p.instrs[r].linear.PermuteNHWC(sh[0], sh[1], sh[2])
				if err != nil {
					linears = nil
					break
				}
				linears[r] = pl
			}
			if linears == nil || ins.out == p.out {
				ins.in = []int{nchw(in, ins.step)}
				break
			}
			for r, pl := range linears {
				permuted[r] = pl
			}
		case insLinear:
			if pl, ok := permuted[i]; ok {
				ins.linear = pl
				break
			}
			ins.in = []int{nchw(ins.in[0], ins.step)}
		default:
			in := make([]int, len(ins.in))
			for j, s := range ins.in {
				in[j] = nchw(s, ins.step)
			}
			ins.in = in
		}
		kept = append(kept, ins)
	}
	p.out = nchw(p.out, kept[len(kept)-1].step)
	p.instrs = kept
}

// run executes the program on n samples of x in st, and writes the
// dequantized output to dst. It returns errNonFinite when the input holds
// NaN or ±Inf.
func (p *program) run(st *execState, x []float32, n int, dst []float32) error {
	if len(st.slots) < p.slots {
		st.slots = make([]qnn.Tensor, p.slots)
	}
	finite := true
	for i := range p.instrs {
		ins := &p.instrs[i]
		y := &st.slots[ins.out]
		var err error
		switch ins.op {
		case insQuantize:
			st.shape = append(append(st.shape[:0], n), ins.shape...)
			finite = ins.act.QuantizeInto(y, x, st.shape) && finite
		case insLinear:
			err = ins.linear.ForwardInto(y, &st.slots[ins.in[0]], &st.scratch)
		case insConv, insConvMaxPool:
			x := &st.slots[ins.in[0]]
			switch {
			case ins.nhwc == nil && ins.op == insConv:
				err = ins.conv.ForwardInto(y, x, &st.scratch)
			case ins.nhwc == nil:
				err = ins.conv.ForwardMaxPoolInto(y, x, ins.k, ins.stride, &st.scratch)
			default:
				if ins.view {
					qnn.ReshapeInto(&st.view, x, x.Shape[0], x.Shape[2], x.Shape[3], 1)
					x = &st.view
				}
				if ins.op == insConv {
					err = ins.nhwc.ForwardInto(y, x, &st.scratch)
				} else {
					err = ins.nhwc.ForwardMaxPoolInto(y, x, ins.k, ins.stride, &st.scratch)
				}
			}
		case insToNCHW:
			err = qnn.NHWCToNCHWInto(y, &st.slots[ins.in[0]])
		case insMaxPool:
			err = qnn.MaxPool2DInto(y, &st.slots[ins.in[0]], ins.k, ins.stride)
		case insAvgPool:
			err = qnn.AvgPool2DInto(y, &st.slots[ins.in[0]], ins.k, ins.stride)
		case insGlobalAvgPool:
			err = qnn.GlobalAvgPoolInto(y, &st.slots[ins.in[0]])
		case insReLU:
			qnn.ReLUInto(y, &st.slots[ins.in[0]])
		case insFlatten:
			x := &st.slots[ins.in[0]]
			qnn.ReshapeInto(y, x, n, len(x.Data)/max(n, 1))
		case insAdd:
			st.ins = st.ins[:0]
			for _, s := range ins.in {
				st.ins = append(st.ins, &st.slots[s])
			}
			st.ratio, err = qnn.AddInto(y, ins.act, st.ins, st.ratio)
		}
		if err != nil {
			return fmt.Errorf("ptq: node %q (%s): %w", ins.step.name, ins.step.kind, err)
		}
	}
	if !finite {
		return errNonFinite
	}
	out := &st.slots[p.out]
	if len(out.Data) != len(dst) {
		return fmt.Errorf("ptq: forward: the output holds %d values, want %d: %w", len(out.Data), len(dst), ErrShape)
	}
	out.Act.Dequantize(dst, out.Data)
	return nil
}

// inputFits reports whether x is a batch [N, m.inputShape...], without
// allocating.
func (m *Model) inputFits(x *tensor.Tensor) bool {
	if x == nil || x.Dims() != len(m.inputShape)+1 {
		return false
	}
	for i, d := range m.inputShape {
		if x.Dim(i+1) != d {
			return false
		}
	}
	return true
}

// forward is Forward: the compiled program where the model has one, the
// steps one by one otherwise.
func (m *Model) forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if y, done, err := m.forwardDynamicChain(x); done {
		return y, err
	}
	if p := m.program(); p != nil && m.inputFits(x) {
		shape := make([]int, 1+len(p.outShape))
		shape[0] = x.Dim(0)
		copy(shape[1:], p.outShape)
		y := tensor.New(shape...)
		if done, err := m.forwardFast(y, x); done {
			if err != nil {
				return nil, err
			}
			return y, nil
		}
	}
	return m.forwardSteps(x)
}

// forwardSteps runs the steps one by one.
func (m *Model) forwardSteps(x *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := m.run(x, nil)
	if err != nil {
		return nil, err
	}
	return out.float(), nil
}

// forwardFast runs x on the compiled program into dst when the model has
// one, and reports whether it did; when it did not, or the input needs
// the step-by-step path's checks to name what is wrong with it, the
// caller runs that path.
func (m *Model) forwardFast(dst, x *tensor.Tensor) (bool, error) {
	p := m.program()
	if p == nil || !m.inputFits(x) {
		return false, nil
	}
	n := x.Dim(0)
	if dst.Len() != n*numel(p.outShape) {
		return true, fmt.Errorf("ptq: forward: output of shape %v for a batch of %d, want [%d %v]: %w",
			dst.Shape(), n, n, shapeString(p.outShape), ErrShape)
	}
	if n == 0 {
		return true, nil
	}
	in, out := x.Data(), dst.Data()
	inLen, outLen := len(in)/n, len(out)/n
	parts := workpool.Workers(n, 0)
	if p.macs > 0 {
		parts = min(parts, max(1, n*p.macs/splitWork))
	} else {
		parts = 1
	}
	var err error
	if parts == 1 {
		err = m.runPart(p, in, out, n, n)
	} else {
		err = m.exec.team.Split(parts, parts, func(i int) error {
			lo, hi := n*i/parts, n*(i+1)/parts
			return m.runPart(p, in[lo*inLen:hi*inLen], out[lo*outLen:hi*outLen], hi-lo, n)
		})
	}
	if errors.Is(err, errNonFinite) {
		return false, nil // the step-by-step path names the sample
	}
	return true, err
}

// runPart runs the samples of in (n of the batch's total) into out, in a
// state taken from the model's pool.
func (m *Model) runPart(p *program, in, out []float32, n, total int) error {
	st, _ := m.exec.states.Get().(*execState)
	if st == nil {
		st = new(execState)
	}
	err := p.run(st, in, n, out)
	m.exec.states.Put(st)
	return err
}

// numel is the number of elements of a shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ForwardInto runs a batch [N, input shape...] as Forward does and writes
// the FP32 output into dst, which must hold N times the per-sample output
// shape's elements (its shape is not changed). A statically quantized
// model then allocates nothing in steady state when it runs on one
// goroutine (a batch split over several costs a few small allocations to
// start them, whatever its size).
func (m *Model) ForwardInto(dst, x *tensor.Tensor) error {
	if m == nil {
		return errNilModel("forward")
	}
	if dst == nil {
		return fmt.Errorf("ptq: forward: nil output tensor: %w", ErrShape)
	}
	if done, err := m.forwardFast(dst, x); done {
		return err
	}
	y, err := m.forwardSteps(x)
	if err != nil {
		return err
	}
	if y.Len() != dst.Len() {
		return fmt.Errorf("ptq: forward: output of shape %v for a result of shape %v: %w", dst.Shape(), y.Shape(), ErrShape)
	}
	copy(dst.Data(), y.Data())
	return nil
}
