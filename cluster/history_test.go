package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// This file is the linearizability test's history recorder and model: a
// recorder wraps any KV (a Client or a Node) and turns each call into a
// porcupine.Operation; kvModel is a register per key, so porcupine checks
// every key's sub-history on its own.

// opKind is the kind of a recorded operation.
type opKind uint8

const (
	opGet    opKind = iota // linearizable Range of one key
	opPut                  // Put
	opDelete               // DeleteRange of one key
	opCAS                  // Txn: if value == expect (or absent when expect == "") then put
)

// kvInput is an operation's input. Values written are unique and never
// empty, so "" stands for an absent key.
type kvInput struct {
	op     opKind
	key    string
	value  string // put, cas: the value written
	expect string // cas: the value compared with
}

// kvOutput is an operation's output.
type kvOutput struct {
	// unknown: a write that failed with an error that does not prove it was
	// never proposed (timeout, crash, cancelled wait). It may or may not
	// have taken effect, at any time after its call: the recorder gives it
	// an infinite return time and the model accepts it either way.
	unknown bool
	value   string // get: the value read ("" when absent)
	ok      bool   // cas: the comparison held and the put ran
	deleted int64  // delete: keys deleted
}

// history is a concurrent-safe list of completed operations. Time is a
// logical clock: one atomic counter read before each call and after each
// return, so if one operation returned before another was called (in real
// time) its return stamp is smaller than the other's call stamp, which is
// all porcupine needs.
type history struct {
	clock atomic.Int64

	mu                                   sync.Mutex
	ops                                  []porcupine.Operation
	reads, writes, unknown, droppedReads int
	droppedWrites                        int
	errs                                 map[string]int
}

func newHistory() *history { return &history{errs: make(map[string]int)} }

func (h *history) now() int64 { return h.clock.Add(1) }

func (h *history) add(client int, in kvInput, call int64, out kvOutput, ret int64, meta string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case out.unknown:
		h.unknown++
	case in.op == opGet:
		h.reads++
	default:
		h.writes++
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret, Metadata: meta})
}

// drop notes an operation left out of the history: a failed read (it had no
// effect) or a write that surely was never proposed.
func (h *history) drop(in kvInput, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in.op == opGet {
		h.droppedReads++
	} else {
		h.droppedWrites++
	}
	h.errs[errClass(err)]++
}

func (h *history) noteUnknown(err error) {
	h.mu.Lock()
	h.errs[errClass(err)]++
	h.mu.Unlock()
}

// errClass names an error by the sentinel it wraps, for the test's summary.
func errClass(err error) string {
	for _, s := range []error{ErrNoLeader, ErrNotLeader, ErrTooManyRequests, ErrLeaderChanged, ErrTimeout, ErrStopped, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return err.Error()
}

// Operations returns a copy of the recorded operations.
func (h *history) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// Summary describes the history for the test log.
func (h *history) Summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.errs))
	for k := range h.errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs string
	for _, k := range keys {
		errs += fmt.Sprintf(" [%s]×%d", k, h.errs[k])
	}
	return fmt.Sprintf("%d ops (%d reads, %d writes acknowledged, %d writes of unknown outcome); left out: %d failed reads, %d unproposed writes; errors:%s",
		len(h.ops), h.reads, h.writes, h.unknown, h.droppedReads, h.droppedWrites, errs)
}

// notProposed reports whether a write's error proves that it never reached
// the raft log: raft dropped the proposal (no leader), or the node refused
// it before proposing. The Client retries only such errors, so when it
// finally returns one, no attempt was proposed either.
func notProposed(err error) bool {
	return errors.Is(err, ErrNoLeader) || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrTooManyRequests)
}

// recorder issues single-key operations through kv and records them in h as
// client number client (porcupine's visualization wants small client IDs).
type recorder struct {
	h      *history
	kv     KV
	client int
	name   string
}

// Get reads key linearizably.
func (r *recorder) Get(ctx context.Context, key string) (string, error) {
	in := kvInput{op: opGet, key: key}
	call := r.h.now()
	resp, err := r.kv.Range(ctx, &pb.RangeRequest{Key: []byte(key)})
	ret := r.h.now()
	if err != nil {
		r.h.drop(in, err)
		return "", err
	}
	v := ""
	if len(resp.Kvs) > 0 {
		v = string(resp.Kvs[0].Value)
	}
	r.h.add(r.client, in, call, kvOutput{value: v}, ret, r.name)
	return v, nil
}

// Put writes key = value.
func (r *recorder) Put(ctx context.Context, key, value string) error {
	in := kvInput{op: opPut, key: key, value: value}
	call := r.h.now()
	_, err := r.kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(value)})
	return r.finishWrite(in, call, kvOutput{}, err)
}

// Delete deletes key.
func (r *recorder) Delete(ctx context.Context, key string) error {
	in := kvInput{op: opDelete, key: key}
	call := r.h.now()
	resp, err := r.kv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte(key)})
	var out kvOutput
	if err == nil {
		out.deleted = resp.Deleted
	}
	return r.finishWrite(in, call, out, err)
}

// CAS puts key = value if key's value is expect ("" : the key is absent).
func (r *recorder) CAS(ctx context.Context, key, expect, value string) (bool, error) {
	in := kvInput{op: opCAS, key: key, value: value, expect: expect}
	cmp := &pb.Compare{Key: []byte(key), Result: pb.Compare_EQUAL, Target: pb.Compare_VALUE, TargetUnion: &pb.Compare_Value{Value: []byte(expect)}}
	if expect == "" {
		cmp = &pb.Compare{Key: []byte(key), Result: pb.Compare_EQUAL, Target: pb.Compare_CREATE, TargetUnion: &pb.Compare_CreateRevision{CreateRevision: 0}}
	}
	req := &pb.TxnRequest{
		Compare: []*pb.Compare{cmp},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte(value)}}}},
	}
	call := r.h.now()
	resp, err := r.kv.Txn(ctx, req)
	var out kvOutput
	if err == nil {
		out.ok = resp.Succeeded
	}
	return out.ok, r.finishWrite(in, call, out, err)
}

func (r *recorder) finishWrite(in kvInput, call int64, out kvOutput, err error) error {
	ret := r.h.now()
	switch {
	case err == nil:
		r.h.add(r.client, in, call, out, ret, r.name)
	case notProposed(err):
		r.h.drop(in, err)
	default:
		r.h.noteUnknown(err)
		r.h.add(r.client, in, call, kvOutput{unknown: true}, math.MaxInt64, r.name+" ("+errClass(err)+")")
	}
	return err
}

// kvModel is a register per key: the state of a partition is the key's
// value ("" when absent).
var kvModel = porcupine.Model{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string][]porcupine.Operation)
		var keys []string
		for _, op := range ops {
			k := op.Input.(kvInput).key
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
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.op {
		case opGet:
			return out.value == s, s
		case opPut:
			return true, in.value
		case opDelete:
			if out.unknown {
				return true, ""
			}
			return (out.deleted > 0) == (s != ""), ""
		case opCAS:
			match := s == in.expect
			if out.unknown {
				// Had it not run, linearizing it last (its return is
				// infinite) changes nothing observable either.
				if match {
					return true, in.value
				}
				return true, s
			}
			if out.ok {
				return match, in.value
			}
			return !match, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		var s string
		switch in.op {
		case opGet:
			return fmt.Sprintf("get(%s) -> %q", in.key, out.value)
		case opPut:
			s = fmt.Sprintf("put(%s, %q)", in.key, in.value)
		case opDelete:
			s = fmt.Sprintf("delete(%s) -> %d", in.key, out.deleted)
		case opCAS:
			s = fmt.Sprintf("cas(%s, %q -> %q)", in.key, in.expect, in.value)
			if !out.unknown {
				s += fmt.Sprintf(" -> %v", out.ok)
			}
		}
		if out.unknown {
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
