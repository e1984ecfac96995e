package lincheck

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is the kind of a recorded operation.
type Kind uint8

// Operation kinds.
const (
	Get    Kind = iota // linearizable read of one key
	Put                // write one key
	Delete             // delete one key
	CAS                // if value == Expect (absent when "") then put Value
)

// Input is an operation's input. Values written are never empty, so ""
// stands for an absent key.
type Input struct {
	Kind   Kind
	Key    string
	Value  string // put, cas: the value written
	Expect string // cas: the value compared with
}

// Output is an operation's output.
type Output struct {
	// Unknown: a write that failed with an error that does not prove it was
	// never applied. It may or may not have taken effect, at any time after
	// its call: it is recorded with an infinite return time and the model
	// accepts it either way.
	Unknown bool
	Value   string // get: the value read ("" when absent)
	OK      bool   // cas: the comparison held and the put ran
	Deleted int64  // delete: keys deleted
}

// Verdicts of Check.
const (
	VerdictOK      = "ok"      // linearizable
	VerdictIllegal = "illegal" // not linearizable: consistency was broken
	VerdictUnknown = "unknown" // the check ran out of time
)

// Check runs porcupine over ops with the timeout (0: none) and returns the
// verdict and the information porcupine's visualization needs.
func Check(ops []porcupine.Operation, timeout time.Duration) (string, porcupine.LinearizationInfo) {
	res, info := porcupine.CheckOperationsVerbose(Model, ops, timeout)
	switch res {
	case porcupine.Ok:
		return VerdictOK, info
	case porcupine.Illegal:
		return VerdictIllegal, info
	}
	return VerdictUnknown, info
}

// Stats counts what a History recorded and left out.
type Stats struct {
	// Reads and Writes are the acknowledged operations recorded; Unknown
	// the writes of unknown outcome.
	Reads, Writes, Unknown int
	// DroppedReads are failed reads; DroppedWrites writes whose error
	// proves they never took effect. Neither is in the history.
	DroppedReads, DroppedWrites int
	// Refused counts calls not recorded because the history was full.
	Refused int
	// Errors counts the errors by class.
	Errors map[string]int
}

// History is a concurrent-safe list of operations with a logical clock.
type History struct {
	clock atomic.Int64

	mu     sync.Mutex
	ops    []porcupine.Operation
	maxOps int
	cut    int64 // call stamp of the first refused call; 0: none
	st     Stats
}

// NewHistory returns an empty history that records at most maxOps
// operations (0: no limit).
func NewHistory(maxOps int) *History {
	return &History{maxOps: maxOps, st: Stats{Errors: map[string]int{}}}
}

// Now returns the next stamp of the logical clock.
func (h *History) Now() int64 { return h.clock.Add(1) }

// Begin stamps a call and reports whether it will be recorded: false once
// the history is full (the caller then runs the operation unrecorded).
func (h *History) Begin() (call int64, ok bool) {
	call = h.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxOps > 0 && len(h.ops) >= h.maxOps {
		if h.cut == 0 {
			h.cut = call
		}
		h.st.Refused++
		return call, false
	}
	return call, true
}

// Add records a completed operation called at call; it returns now.
func (h *History) Add(client int, in Input, call int64, out Output, meta string) {
	ret := h.Now()
	h.add(client, in, call, out, ret, meta)
}

// AddUnknown records a write whose outcome is unknown; class names its error.
func (h *History) AddUnknown(client int, in Input, call int64, class, meta string) {
	h.mu.Lock()
	h.st.Errors[class]++
	h.mu.Unlock()
	h.add(client, in, call, Output{Unknown: true}, math.MaxInt64, meta)
}

func (h *History) add(client int, in Input, call int64, out Output, ret int64, meta string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case out.Unknown:
		h.st.Unknown++
	case in.Kind == Get:
		h.st.Reads++
	default:
		h.st.Writes++
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret, Metadata: meta})
}

// Drop notes an operation left out of the history: a failed read (it had
// no effect) or a write that surely never took effect; class names its
// error.
func (h *History) Drop(in Input, class string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in.Kind == Get {
		h.st.DroppedReads++
	} else {
		h.st.DroppedWrites++
	}
	h.st.Errors[class]++
}

// Stats returns the counts so far.
func (h *History) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.st
	s.Errors = make(map[string]int, len(h.st.Errors))
	for k, v := range h.st.Errors {
		s.Errors[k] = v
	}
	return s
}

// Truncated reports whether the history refused calls because it was full.
func (h *History) Truncated() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cut != 0
}

// Operations returns a copy of the recorded operations. When the history
// was full, operations that returned after the first refused call are
// rewritten so the history stays sound without the refused ones: a read
// among them could have seen a refused write, so it is left out; a write
// among them becomes one of unknown outcome (every write a remaining read
// could have seen is still in the history, since a remaining read returned
// before any refused call began).
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cut == 0 {
		return append([]porcupine.Operation(nil), h.ops...)
	}
	out := make([]porcupine.Operation, 0, len(h.ops))
	for _, op := range h.ops {
		if op.Return > h.cut {
			if op.Input.(Input).Kind == Get {
				continue
			}
			op.Output, op.Return = Output{Unknown: true}, math.MaxInt64
		}
		out = append(out, op)
	}
	return out
}

// Summary describes the history in one line.
func (h *History) Summary() string {
	s := h.Stats()
	keys := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs string
	for _, k := range keys {
		errs += fmt.Sprintf(" [%s]×%d", k, s.Errors[k])
	}
	return fmt.Sprintf("%d ops (%d reads, %d writes acknowledged, %d writes of unknown outcome); left out: %d failed reads, %d unapplied writes, %d calls past the cap; errors:%s",
		s.Reads+s.Writes+s.Unknown, s.Reads, s.Writes, s.Unknown, s.DroppedReads, s.DroppedWrites, s.Refused, errs)
}

// Model is a register per key: the state of a partition is the key's value
// ("" when absent).
var Model = porcupine.Model{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string][]porcupine.Operation)
		var keys []string
		for _, op := range ops {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(Input), output.(Output)
		switch in.Kind {
		case Get:
			return out.Value == s, s
		case Put:
			return true, in.Value
		case Delete:
			if out.Unknown {
				return true, ""
			}
			return (out.Deleted > 0) == (s != ""), ""
		case CAS:
			match := s == in.Expect
			if out.Unknown {
				// Had it not run, linearizing it last (its return is
				// infinite) changes nothing observable either.
				if match {
					return true, in.Value
				}
				return true, s
			}
			if out.OK {
				return match, in.Value
			}
			return !match, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		var s string
		switch in.Kind {
		case Get:
			return fmt.Sprintf("get(%s) -> %q", in.Key, out.Value)
		case Put:
			s = fmt.Sprintf("put(%s, %q)", in.Key, in.Value)
		case Delete:
			s = fmt.Sprintf("delete(%s) -> %d", in.Key, out.Deleted)
		case CAS:
			s = fmt.Sprintf("cas(%s, %q -> %q)", in.Key, in.Expect, in.Value)
			if !out.Unknown {
				s += fmt.Sprintf(" -> %v", out.OK)
			}
		}
		if out.Unknown {
			return s + " (outcome unknown)"
		}
		return s
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state.(string)) },
	DescribeOperationMetadata: func(info any) string {
		s, _ := info.(string)
		return s
	},
}
