package backend

import (
	"fmt"
	"sync"

	"etcdlab/engines/engine"
)

// BatchTx is the backend's single write transaction (etcd's batchTxBuffered).
// Lock it, make Unsafe* calls, Unlock: Unlock ends the write txn, making its
// puts visible to new readers, and commits at once when the txn deleted
// anything or BatchLimit operations are pending.
type BatchTx struct {
	mu sync.Mutex
	b  *Backend

	batch          engine.Batch
	pending        int      // operations in batch since the last commit
	pendingDeletes int      // deletions among them
	buf            *overlay // everything pending, for the writer's own reads
	txPuts         []bucketItem
}

type bucketItem struct {
	bucket byte
	item
}

// Lock starts a write txn.
func (t *BatchTx) Lock() { t.mu.Lock() }

// Unlock ends the write txn.
func (t *BatchTx) Unlock() {
	switch {
	case t.pendingDeletes > 0:
		_ = t.commit("delete")
	case t.pending >= t.b.cfg.BatchLimit:
		_ = t.commit("limit")
	default:
		t.b.publish(t.txPuts)
		t.txPuts = t.txPuts[:0]
	}
	t.mu.Unlock()
}

func (t *BatchTx) bufTree(bkt engine.Bucket) *tree {
	tr := t.buf.trees[bkt.ID]
	if tr == nil {
		tr = newTree()
		t.buf.trees[bkt.ID] = tr
	}
	return tr
}

// UnsafePut sets key to value in bkt. The backend takes ownership of key and
// value: the caller must not modify them afterwards.
func (t *BatchTx) UnsafePut(bkt engine.Bucket, key, value []byte) {
	t.batch.Put(bkt, key, value)
	it := item{key: key, value: value}
	t.bufTree(bkt).ReplaceOrInsert(it)
	t.txPuts = append(t.txPuts, bucketItem{bkt.ID, it})
	t.pending++
}

// UnsafeDelete removes key from bkt.
func (t *BatchTx) UnsafeDelete(bkt engine.Bucket, key []byte) {
	t.batch.Delete(bkt, key)
	t.bufTree(bkt).ReplaceOrInsert(item{key: key, tombstone: true})
	t.pending++
	t.pendingDeletes++
}

// UnsafeDeleteRange removes every key of [start, end) from bkt (nil end: to
// the end of the bucket).
func (t *BatchTx) UnsafeDeleteRange(bkt engine.Bucket, start, end []byte) {
	t.batch.DeleteRange(bkt, start, end)
	r := keyRange{start: append([]byte(nil), start...)}
	if end != nil {
		r.end = append([]byte(nil), end...)
	}
	// Buffered writes inside the range are deleted too; a later put re-adds.
	if tr := t.buf.trees[bkt.ID]; tr != nil {
		var drop []item
		tr.AscendGreaterOrEqual(item{key: r.start}, func(it item) bool {
			if !r.contains(it.key) {
				return false
			}
			drop = append(drop, it)
			return true
		})
		for _, it := range drop {
			tr.Delete(it)
		}
	}
	t.buf.ranges[bkt.ID] = append(t.buf.ranges[bkt.ID], r)
	t.pending++
	t.pendingDeletes++
}

// UnsafeGet reads key from bkt, seeing this txn's and every pending write.
// The value is valid until the lock is released or Commit is called.
func (t *BatchTx) UnsafeGet(bkt engine.Bucket, key []byte) ([]byte, error) {
	return t.buf.get(t.b.view.v, bkt, key)
}

// UnsafeScan scans [start, end) of bkt like ReadTx.Scan, seeing every pending
// write.
func (t *BatchTx) UnsafeScan(bkt engine.Bucket, start, end []byte, limit int, fn func(k, v []byte) bool) error {
	return t.buf.scan(t.b.view.v, bkt, start, end, limit, fn)
}

// Commit commits everything pending now. The lock must be held. Inside a
// write txn this makes the txn's writes so far visible to new readers, as a
// commit inside etcd's batch tx does; callers that need atomic txns (mvcc) do
// not commit in the middle of one.
func (t *BatchTx) Commit() error { return t.commit("force") }

// commit runs the hook, commits the engine batch if anything is pending, and
// refreshes the readers' view. The lock must be held.
func (t *BatchTx) commit(reason string) error {
	b := t.b
	if err := b.Err(); err != nil {
		return err
	}
	if b.hook != nil {
		b.hook(t)
	}
	if t.pending == 0 {
		return nil
	}
	ops := t.pending
	start := b.cfg.Clock.Now()
	err := t.batch.Commit(!b.cfg.NoSync)
	d := b.cfg.Clock.Since(start)
	if err == nil {
		err = b.swapView()
		b.refreshSizes()
	}
	// Everything pending, this txn's puts included, is in the engine now (or
	// the backend has failed): nothing is left to publish at Unlock.
	t.pending, t.pendingDeletes = 0, 0
	t.txPuts = t.txPuts[:0]
	t.buf = &overlay{trees: map[byte]*tree{}, ranges: map[byte][]keyRange{}}
	if err != nil {
		err = fmt.Errorf("backend: commit of %d ops failed, backend stopped: %w", ops, err)
		b.setErr(err)
	} else {
		b.stats.commits.Add(1)
		b.stats.commitNanos.Add(int64(d))
		for {
			m := b.stats.maxCommitNanos.Load()
			if int64(d) <= m || b.stats.maxCommitNanos.CompareAndSwap(m, int64(d)) {
				break
			}
		}
	}
	if b.cfg.OnCommit != nil {
		b.cfg.OnCommit(CommitInfo{Start: start, Duration: d, Ops: ops, Reason: reason, Err: err})
	}
	return err
}
