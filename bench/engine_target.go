package bench

import (
	"context"
	"errors"
	"fmt"

	"etcdlab/engines"
	"etcdlab/engines/backend"
	"etcdlab/internal/clock"
	"etcdlab/workloads"
)

// benchBucket holds the engine layer's keys.
var benchBucket = engines.Bucket{ID: 0x42, Name: "bench"}

// engineTarget runs ops on an engine through the batching layer, the way
// etcd's apply path touches its backend but without MVCC: a get is a read
// txn's Get, a range a read txn's Scan with the op's limit, a put/insert/
// delete one write txn (Lock, UnsafePut/UnsafeDelete, Unlock), and txn-cas
// and rmw a read then a write inside one write txn. Durability is the
// batching layer's: a write is committed (with fsync) within BatchInterval.
type engineTarget struct {
	b    *backend.Backend
	clk  clock.Clock
	emit func(Event) // the runner's event log (scheduled defrags)
}

var (
	_ Target      = (*engineTarget)(nil)
	_ StatsSource = (*engineTarget)(nil)
	_ Settler     = (*engineTarget)(nil)
	_ Flusher     = (*engineTarget)(nil)
	_ batchLoader = (*engineTarget)(nil)
)

func openEngineTarget(_ context.Context, cfg Config, env LayerEnv) (Target, error) {
	b, err := openBackend(cfg, env)
	if err != nil {
		return nil, err
	}
	return &engineTarget{b: b, clk: cfg.Clock, emit: env.Emit}, nil
}

func (t *engineTarget) Do(_ context.Context, op *workloads.Op) error {
	switch op.Kind {
	case workloads.OpGet:
		rt := t.b.ReadTx()
		_, err := rt.Get(benchBucket, op.Key)
		rt.Close()
		if err != nil && !errors.Is(err, engines.ErrNotFound) {
			return err
		}
		return nil
	case workloads.OpRange:
		end := op.End
		if len(end) == 1 && end[0] == 0 {
			end = nil // etcd's "\x00": every key >= Key
		}
		rt := t.b.ReadTx()
		n := 0
		err := rt.Scan(benchBucket, op.Key, end, int(op.Limit), func(k, v []byte) bool { n++; return true })
		rt.Close()
		return err
	case workloads.OpPut, workloads.OpInsert:
		k, v := ownedKV(op.Key, op.Value)
		tx := t.b.BatchTx()
		tx.Lock()
		tx.UnsafePut(benchBucket, k, v)
		tx.Unlock()
		return t.b.Err()
	case workloads.OpDelete:
		k := append([]byte(nil), op.Key...)
		tx := t.b.BatchTx()
		tx.Lock()
		tx.UnsafeDelete(benchBucket, k)
		tx.Unlock()
		return t.b.Err()
	case workloads.OpTxnCAS, workloads.OpRMW:
		k, v := ownedKV(op.Key, op.Value)
		tx := t.b.BatchTx()
		tx.Lock()
		_, err := tx.UnsafeGet(benchBucket, k)
		if err != nil && !errors.Is(err, engines.ErrNotFound) {
			tx.Unlock()
			return err
		}
		tx.UnsafePut(benchBucket, k, v)
		tx.Unlock()
		return t.b.Err()
	}
	return fmt.Errorf("bench: engine layer: unsupported op kind %v", op.Kind)
}

// loadBatch puts kvs in one write transaction of the batching layer (which
// commits it with the pending batch, as it does a client's writes).
func (t *engineTarget) loadBatch(_ context.Context, kvs []loadKV) error {
	tx := t.b.BatchTx()
	tx.Lock()
	for _, e := range kvs {
		k, v := ownedKV(e.key, e.value)
		tx.UnsafePut(benchBucket, k, v)
	}
	tx.Unlock()
	return t.b.Err()
}

// ownedKV copies key and value into one allocation: the backend takes
// ownership of what it is given, and op's buffers are reused.
func ownedKV(key, value []byte) ([]byte, []byte) {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	return buf[:len(key):len(key)], buf[len(key):]
}

func (t *engineTarget) Flush() error { return t.b.ForceCommit() }

func (t *engineTarget) Settle(ctx context.Context) error { return settleEngine(ctx, t.b.Engine()) }

func (t *engineTarget) Stats() Stats { return backendStats(t.b) }

func (t *engineTarget) Close() error { return t.b.Close() }
