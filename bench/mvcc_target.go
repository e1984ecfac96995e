package bench

import (
	"context"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/mvcc"
	"etcdlab/workloads"
)

// mvccTarget runs ops as etcdserverpb requests on the MVCC store, without
// raft, like etcd's `benchmark mvcc`: get and range are Range requests
// (range with the op's limit), put and insert Put, delete a DeleteRange of
// one key, rmw a Range then a Put (two requests, as YCSB's client does), and
// txn-cas a Range that learns the key's mod_revision followed by a Txn that
// puts the value if mod_revision is unchanged and reads the key otherwise
// (Kubernetes' GuaranteedUpdate against a fresh read). Every request is
// validated as etcd's API layer would validate it before applying.
type mvccTarget struct {
	s   *mvcc.Store
	cfg mvcc.Config
}

var (
	_ Target      = (*mvccTarget)(nil)
	_ StatsSource = (*mvccTarget)(nil)
	_ Flusher     = (*mvccTarget)(nil)
)

func openMVCCTarget(_ context.Context, cfg Config, env LayerEnv) (Target, error) {
	b, err := openBackend(cfg, env)
	if err != nil {
		return nil, err
	}
	mcfg := mvcc.Config{Clock: cfg.Clock}
	mcfg.EnsureDefaults()
	s, err := mvcc.Open(b, mcfg)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return &mvccTarget{s: s, cfg: mcfg}, nil
}

func (t *mvccTarget) Do(_ context.Context, op *workloads.Op) error {
	switch op.Kind {
	case workloads.OpGet:
		r := &pb.RangeRequest{Key: op.Key, Serializable: op.Serializable}
		if err := t.cfg.ValidateRange(r); err != nil {
			return err
		}
		_, err := t.s.Range(r)
		return err
	case workloads.OpRange:
		r := &pb.RangeRequest{Key: op.Key, RangeEnd: op.End, Limit: op.Limit, Serializable: op.Serializable}
		if err := t.cfg.ValidateRange(r); err != nil {
			return err
		}
		_, err := t.s.Range(r)
		return err
	case workloads.OpPut, workloads.OpInsert:
		return t.put(op.Key, op.Value)
	case workloads.OpDelete:
		r := &pb.DeleteRangeRequest{Key: op.Key}
		if err := t.cfg.ValidateDeleteRange(r); err != nil {
			return err
		}
		_, err := t.s.DeleteRange(r)
		return err
	case workloads.OpRMW:
		if _, err := t.s.Range(&pb.RangeRequest{Key: op.Key, Serializable: op.Serializable}); err != nil {
			return err
		}
		return t.put(op.Key, op.Value)
	case workloads.OpTxnCAS:
		rr, err := t.s.Range(&pb.RangeRequest{Key: op.Key, Serializable: op.Serializable})
		if err != nil {
			return err
		}
		var modRev int64 // 0 matches an absent key, as in etcd
		if len(rr.Kvs) > 0 {
			modRev = rr.Kvs[0].ModRevision
		}
		r := &pb.TxnRequest{
			Compare: []*pb.Compare{{
				Target:      pb.Compare_MOD,
				Result:      pb.Compare_EQUAL,
				Key:         op.Key,
				TargetUnion: &pb.Compare_ModRevision{ModRevision: modRev},
			}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: op.Key, Value: op.Value}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: op.Key}}}},
		}
		if err := t.cfg.ValidateTxn(r); err != nil {
			return err
		}
		_, err = t.s.Txn(r)
		return err
	}
	return fmt.Errorf("bench: mvcc layer: unsupported op kind %v", op.Kind)
}

func (t *mvccTarget) put(key, value []byte) error {
	r := &pb.PutRequest{Key: key, Value: value}
	if err := t.cfg.ValidatePut(r); err != nil {
		return err
	}
	_, err := t.s.Put(r)
	return err
}

func (t *mvccTarget) Flush() error { return t.s.Commit() }

func (t *mvccTarget) Stats() Stats {
	st := backendStats(t.s.Backend())
	st.Extra["mvcc.rev"] = float64(t.s.Rev())
	return st
}

func (t *mvccTarget) Close() error { return t.s.Close() }
