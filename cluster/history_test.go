package cluster_test

import (
	"context"
	"errors"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/cluster"
	"etcdlab/cluster/v3rpc"
	"etcdlab/internal/lincheck"
)

// This file is the linearizability test's history recorder: a recorder
// wraps any KV (a Client or a Node) and turns each call into an operation
// of a lincheck.History, whose model (a register per key) porcupine checks.

type history = lincheck.History

func newHistory() *history { return lincheck.NewHistory(0) }

var kvModel = lincheck.Model

// errClass names an error by the sentinel it wraps, for the test's summary.
func errClass(err error) string {
	for _, s := range []error{cluster.ErrNoLeader, cluster.ErrNotLeader, cluster.ErrTooManyRequests, cluster.ErrLeaderChanged, cluster.ErrTimeout, cluster.ErrStopped, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return err.Error()
}

// notProposed reports whether a write's error proves that it never reached
// the raft log: raft dropped the proposal (no leader), or the node refused
// it before proposing. The Client retries only such errors, so when it
// finally returns one, no attempt was proposed either.
func notProposed(err error) bool {
	return errors.Is(err, cluster.ErrNoLeader) || errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrTooManyRequests)
}

// recorder issues single-key operations through kv and records them in h as
// client number client (porcupine's visualization wants small client IDs).
type recorder struct {
	h      *history
	kv     v3rpc.KV
	client int
	name   string
}

// Get reads key linearizably.
func (r *recorder) Get(ctx context.Context, key string) (string, error) {
	in := lincheck.Input{Kind: lincheck.Get, Key: key}
	call := r.h.Now()
	resp, err := r.kv.Range(ctx, &pb.RangeRequest{Key: []byte(key)})
	if err != nil {
		r.h.Drop(in, errClass(err))
		return "", err
	}
	v := ""
	if len(resp.Kvs) > 0 {
		v = string(resp.Kvs[0].Value)
	}
	r.h.Add(r.client, in, call, lincheck.Output{Value: v}, r.name)
	return v, nil
}

// Put writes key = value.
func (r *recorder) Put(ctx context.Context, key, value string) error {
	in := lincheck.Input{Kind: lincheck.Put, Key: key, Value: value}
	call := r.h.Now()
	_, err := r.kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(value)})
	return r.finishWrite(in, call, lincheck.Output{}, err)
}

// Delete deletes key.
func (r *recorder) Delete(ctx context.Context, key string) error {
	in := lincheck.Input{Kind: lincheck.Delete, Key: key}
	call := r.h.Now()
	resp, err := r.kv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte(key)})
	var out lincheck.Output
	if err == nil {
		out.Deleted = resp.Deleted
	}
	return r.finishWrite(in, call, out, err)
}

// CAS puts key = value if key's value is expect ("" : the key is absent).
func (r *recorder) CAS(ctx context.Context, key, expect, value string) (bool, error) {
	in := lincheck.Input{Kind: lincheck.CAS, Key: key, Value: value, Expect: expect}
	cmp := &pb.Compare{Key: []byte(key), Result: pb.Compare_EQUAL, Target: pb.Compare_VALUE, TargetUnion: &pb.Compare_Value{Value: []byte(expect)}}
	if expect == "" {
		cmp = &pb.Compare{Key: []byte(key), Result: pb.Compare_EQUAL, Target: pb.Compare_CREATE, TargetUnion: &pb.Compare_CreateRevision{CreateRevision: 0}}
	}
	req := &pb.TxnRequest{
		Compare: []*pb.Compare{cmp},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte(value)}}}},
	}
	call := r.h.Now()
	resp, err := r.kv.Txn(ctx, req)
	var out lincheck.Output
	if err == nil {
		out.OK = resp.Succeeded
	}
	return out.OK, r.finishWrite(in, call, out, err)
}

func (r *recorder) finishWrite(in lincheck.Input, call int64, out lincheck.Output, err error) error {
	switch {
	case err == nil:
		r.h.Add(r.client, in, call, out, r.name)
	case notProposed(err):
		r.h.Drop(in, errClass(err))
	default:
		r.h.AddUnknown(r.client, in, call, errClass(err), r.name+" ("+errClass(err)+")")
	}
	return err
}
