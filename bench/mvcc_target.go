package bench

import (
	"context"
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcdlab/internal/clock"
	"etcdlab/mvcc"
	"etcdlab/workloads"
)

// mvccTarget runs ops as etcdserverpb requests (DoKV) on the MVCC store,
// without raft, like etcd's `benchmark mvcc`. Every request is validated as
// etcd's API layer validates it before applying.
type mvccTarget struct {
	kv   storeKV
	clk  clock.Clock
	emit func(Event) // the runner's event log (compactions, scheduled defrags)
}

var (
	_ Target       = (*mvccTarget)(nil)
	_ StatsSource  = (*mvccTarget)(nil)
	_ Flusher      = (*mvccTarget)(nil)
	_ Settler      = (*mvccTarget)(nil)
	_ batchLoader  = (*mvccTarget)(nil)
	_ k8sHost      = (*mvccTarget)(nil)
	_ k8sCompactor = (*mvccTarget)(nil)
	_ KV           = storeKV{}
)

func openMVCCTarget(_ context.Context, cfg Config, env LayerEnv) (Target, error) {
	b, err := openBackend(cfg, env)
	if err != nil {
		return nil, err
	}
	mcfg := mvcc.Config{Clock: cfg.Clock}
	if env.Emit != nil {
		mcfg.OnCompacted = func(st mvcc.CompactionStats) { env.Emit(compactionEvent(st)) }
	}
	mcfg.EnsureDefaults()
	s, err := mvcc.Open(b, mcfg)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return &mvccTarget{kv: storeKV{s: s, cfg: mcfg, applied: new(atomic.Uint64)}, clk: cfg.Clock, emit: env.Emit}, nil
}

func (t *mvccTarget) Do(ctx context.Context, op *workloads.Op) error { return DoKV(ctx, t.kv, op) }

func (t *mvccTarget) loadBatch(ctx context.Context, kvs []loadKV) error {
	return loadTxn(ctx, t.kv, kvs)
}

// k8sKV and compact serve the k8s driver (k8sHost, k8sCompactor).
func (t *mvccTarget) k8sKV() KV { return t.kv }

func (t *mvccTarget) compact(_ context.Context, rev int64) error {
	_, err := t.kv.s.Compact(rev)
	return err
}

func (t *mvccTarget) Flush() error { return t.kv.s.Commit() }

func (t *mvccTarget) Settle(ctx context.Context) error {
	return settleEngine(ctx, t.kv.s.Backend().Engine())
}

func (t *mvccTarget) Stats() Stats {
	st := backendStats(t.kv.s.Backend())
	st.Extra["mvcc.rev"] = float64(t.kv.s.Rev())
	return st
}

func (t *mvccTarget) Close() error { return t.kv.s.Close() }

// storeKV presents the store as a KV, validating each request first.
//
// Each write is staged as applied at the next index of a counter, as the
// cluster's apply loop stages each raft entry's index: the store then writes
// the consistent index and term into the meta bucket with every backend
// commit, as it does under a cluster. Without them the engine sees another
// write pattern than in a cluster (pebble: every memtable flush holds only
// new revision keys, which compactions move down without rewriting; with the
// meta keys in every flush, they overlap and are rewritten), and the parity
// check's mvcc reference would miss engine work the cluster pays for.
type storeKV struct {
	s       *mvcc.Store
	cfg     mvcc.Config
	applied *atomic.Uint64
}

// stage stages the next index; term 1 stands for a cluster's first term.
func (k storeKV) stage() { k.s.SetApplyingIndex(k.applied.Add(1), 1) }

func (k storeKV) Put(_ context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := k.cfg.ValidatePut(r); err != nil {
		return nil, err
	}
	k.stage()
	return k.s.Put(r)
}

func (k storeKV) Range(_ context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := k.cfg.ValidateRange(r); err != nil {
		return nil, err
	}
	return k.s.Range(r)
}

func (k storeKV) DeleteRange(_ context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := k.cfg.ValidateDeleteRange(r); err != nil {
		return nil, err
	}
	k.stage()
	return k.s.DeleteRange(r)
}

func (k storeKV) Txn(_ context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := k.cfg.ValidateTxn(r); err != nil {
		return nil, err
	}
	k.stage()
	return k.s.Txn(r)
}
