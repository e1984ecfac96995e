package bbolt

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"etcdlab/engines/engine"
)

type opKind uint8

const (
	opPut opKind = iota
	opDelete
	opDeleteRange
)

// op is one recorded write; its key, value and range end are offsets into
// the batch's arena (which may move as it grows).
type op struct {
	kind   opKind
	endNil bool // DeleteRange to the end of the bucket
	bucket engine.Bucket
	k0, k1 int // key, or range start
	v0, v1 int // value, or range end
}

// batch is a write batch. Like etcd's batchTx it writes each operation into
// an open bbolt read-write transaction as it is made (the engine's live
// transaction, see liveTx), so bbolt's B+tree work is done by the goroutine
// that writes and Commit only commits. It also records every operation in
// an arena: when the live transaction is taken from it (Reclaim, Close, or
// the commit of another batch needs bbolt's one writer) or was held by
// another batch, Commit replays the record in a fresh transaction instead.
type batch struct {
	e       *Engine
	ops     []op
	arena   []byte
	logical int64 // len(key)+len(value) of the puts
	closed  bool

	// Guarded by e.live.mu: whether this batch holds the live transaction,
	// the bucket handles open in it, and the first error applying to it.
	live     bool
	handles  []bucketHandle
	applyErr error
}

type bucketHandle struct {
	name string
	bk   *bolt.Bucket
}

// liveTx is the engine's one open write transaction, held by at most one
// batch from its first operation to its Commit (etcd keeps one open between
// commits the same way). blocked > 0 stops batches from opening it while
// Reclaim or Close wait for the gate, so that no live transaction (holding
// a read side of the gate) can appear while they wait.
type liveTx struct {
	mu      sync.Mutex
	owner   *batch
	tx      *bolt.Tx
	blocked int
	// commits counts batches committed from their live transaction; taken
	// those whose live transaction was taken before Commit (replayed then).
	// Figures for Stats.
	commits, taken atomic.Int64
}

// maxKeptArena bounds the buffer a batch keeps for reuse after Commit.
const maxKeptArena = 16 << 20

func (b *batch) add(kind opKind, bk engine.Bucket, key, val []byte, endNil bool) {
	if b.closed {
		return // Commit reports ErrClosed
	}
	o := op{kind: kind, bucket: bk, endNil: endNil}
	o.k0 = len(b.arena)
	b.arena = append(b.arena, key...)
	o.k1 = len(b.arena)
	o.v0 = o.k1
	b.arena = append(b.arena, val...)
	o.v1 = len(b.arena)
	b.ops = append(b.ops, o)

	e := b.e
	e.live.mu.Lock()
	defer e.live.mu.Unlock()
	switch {
	case b.live:
		if b.applyErr == nil {
			b.applyErr = b.applyOp(e.live.tx, &b.ops[len(b.ops)-1], e.opts.SeqFillPercent)
		}
	case e.live.owner == nil && e.live.blocked == 0:
		b.beginLiveLocked()
	}
}

// beginLiveLocked makes b the holder of a new live transaction and applies
// what b recorded so far to it. If the engine is busy (Reclaim or Close
// waiting) or unusable, b stays a recording batch. The caller holds e.live.mu.
func (b *batch) beginLiveLocked() {
	e := b.e
	// The read side of the gate is held for the transaction's life, as a
	// view holds it: Reclaim and Close take the transaction away first.
	if !e.gate.TryRLock() {
		return
	}
	if e.usable() != nil {
		e.gate.RUnlock()
		return
	}
	// No commit runs now (commits hold e.live.mu), so bbolt's writer lock
	// is free and Begin does not wait.
	tx, err := e.db.Begin(true)
	if err != nil {
		e.gate.RUnlock()
		return // the replay at Commit reports it
	}
	e.live.owner, e.live.tx = b, tx
	b.live, b.handles, b.applyErr = true, b.handles[:0], nil
	for i := range b.ops {
		if b.applyErr = b.applyOp(tx, &b.ops[i], e.opts.SeqFillPercent); b.applyErr != nil {
			break
		}
	}
}

// takeLiveLocked rolls the live transaction back and leaves its batch to
// replay its record at Commit. The caller holds e.live.mu.
func (e *Engine) takeLiveLocked() {
	if e.live.owner != nil {
		e.releaseLiveLocked()
		e.live.taken.Add(1)
	}
}

// releaseLiveLocked rolls back the live transaction, which must be open, and
// detaches it from its batch. The caller holds e.live.mu.
func (e *Engine) releaseLiveLocked() {
	b := e.live.owner
	_ = e.live.tx.Rollback()
	e.live.owner, e.live.tx = nil, nil
	b.live, b.handles, b.applyErr = false, b.handles[:0], nil
	e.gate.RUnlock() // the read side the transaction held
}

// blockLive takes the live transaction away and keeps new ones from
// opening until unblockLive: Reclaim and Close call it before they wait for
// the gate.
func (e *Engine) blockLive() {
	e.live.mu.Lock()
	e.live.blocked++
	e.takeLiveLocked()
	e.live.mu.Unlock()
}

func (e *Engine) unblockLive() {
	e.live.mu.Lock()
	e.live.blocked--
	e.live.mu.Unlock()
}

// Put implements engine.Batch.
func (b *batch) Put(bk engine.Bucket, key, value []byte) {
	b.add(opPut, bk, key, value, false)
	b.logical += int64(len(key) + len(value))
}

// Delete implements engine.Batch.
func (b *batch) Delete(bk engine.Bucket, key []byte) { b.add(opDelete, bk, key, nil, false) }

// DeleteRange implements engine.Batch.
func (b *batch) DeleteRange(bk engine.Bucket, start, end []byte) {
	b.add(opDeleteRange, bk, start, end, end == nil)
}

// Len implements engine.Batch.
func (b *batch) Len() int { return len(b.ops) }

// Close implements engine.Batch: the live transaction, if b holds it, is
// rolled back.
func (b *batch) Close() {
	b.e.live.mu.Lock()
	if b.live {
		b.e.releaseLiveLocked() // discarded, not taken
	}
	b.e.live.mu.Unlock()
	b.reset()
	b.closed = true
	b.arena = nil
}

func (b *batch) reset() {
	b.ops = b.ops[:0]
	b.logical = 0
	if cap(b.arena) > maxKeptArena {
		b.arena = nil
	} else {
		b.arena = b.arena[:0]
	}
}

// Commit implements engine.Batch. An empty batch commits nothing (as etcd
// skips a commit with no pending writes) but, with sync, still makes earlier
// unsynced commits durable.
func (b *batch) Commit(sync bool) error {
	if b.closed {
		return fmt.Errorf("%w: bbolt batch", engine.ErrClosed)
	}
	defer b.reset()
	return b.e.commit(b, sync)
}

// applyError marks errors from applying the ops (bad keys and the like), as
// opposed to errors from bbolt's commit itself.
type applyError struct{ err error }

func (a applyError) Error() string { return a.err.Error() }
func (a applyError) Unwrap() error { return a.err }

func (e *Engine) commit(b *batch, sync bool) error {
	e.gate.RLock()
	defer e.gate.RUnlock()
	if err := e.usable(); err != nil {
		return err
	}
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	// Held through the commit: no batch opens a live transaction meanwhile,
	// and a recording batch's commit has bbolt's one writer to itself.
	e.live.mu.Lock()
	defer e.live.mu.Unlock()
	var live *bolt.Tx
	if b.live {
		live = e.live.tx
		e.live.owner, e.live.tx = nil, nil
		b.live = false
		defer e.gate.RUnlock() // the read side the transaction held
	} else {
		e.takeLiveLocked() // another batch's: bbolt has one writer
	}
	db := e.db
	if len(b.ops) == 0 {
		if sync && e.unsynced && !e.opts.NoSync {
			return e.fsyncLocked()
		}
		return nil
	}
	// bbolt reads NoSync during Commit; commits are serialized by commitMu.
	noSync := e.opts.NoSync || !sync
	db.NoSync = noSync
	var (
		ts  bolt.TxStats
		err error
	)
	if live != nil {
		if b.applyErr != nil {
			_ = live.Rollback()
			err = applyError{b.applyErr}
		} else {
			live.OnCommit(func() { ts = live.Stats() })
			if err = live.Commit(); err == nil {
				e.live.commits.Add(1)
			}
		}
		b.handles, b.applyErr = b.handles[:0], nil
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			tx.OnCommit(func() { ts = tx.Stats() })
			b.handles = b.handles[:0]
			for i := range b.ops {
				if err := b.applyOp(tx, &b.ops[i], e.opts.SeqFillPercent); err != nil {
					return applyError{err}
				}
			}
			return nil
		})
		b.handles = b.handles[:0]
	}
	db.NoSync = e.opts.NoSync
	// The high-water mark as of this commit, read as etcd's backend does at
	// the start of its next transaction (a closed tx no longer has it).
	hwm := e.hwm.Load()
	if rtx, rerr := db.Begin(false); rerr == nil {
		hwm = rtx.Size()
		_ = rtx.Rollback()
		e.hwm.Store(hwm)
	}
	// bbolt grows the file only when the high-water mark plus a page passes
	// its size, so the file is looked at only then, not at every commit.
	if hwm+int64(e.pageSize) > e.fileSize.Load() && e.observeGrowth() && !e.opts.NoSync {
		e.fsyncs.Add(1) // bbolt's truncate+fsync when the file grows
		e.growSyncs.Add(1)
	}
	if err != nil {
		var ae applyError
		if errors.As(err, &ae) {
			return ae.err
		}
		return fmt.Errorf("bbolt: commit to %s: %w", e.path, err)
	}
	e.commits.Add(1)
	if sync {
		e.syncedCommits.Add(1)
	}
	if !noSync {
		e.fsyncs.Add(2) // data pages, then the meta page
		e.unsynced = false
	} else {
		e.unsynced = true
	}
	e.logicalBytes.Add(b.logical)
	// Copy-on-write: all pages written are the ones allocated, plus the meta.
	e.bytesWritten.Add(ts.GetPageAlloc() + int64(e.pageSize))
	e.addTxStats(&ts)
	return nil
}

// Sync implements engine.Engine: an fdatasync of the file when a commit since
// the last one skipped it (Commit(false), or any commit under no-sync: the
// knob skips the per-commit fsyncs, not this barrier); otherwise nothing,
// every commit having synced.
func (e *Engine) Sync() error {
	e.gate.RLock()
	defer e.gate.RUnlock()
	if err := e.usable(); err != nil {
		return err
	}
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	if !e.unsynced {
		return nil
	}
	return e.fsyncLocked()
}

// fsyncLocked fdatasyncs the file, making every commit so far durable. The
// caller holds commitMu.
func (e *Engine) fsyncLocked() error {
	if err := e.db.Sync(); err != nil {
		return fmt.Errorf("bbolt: fsync %s: %w", e.path, err)
	}
	e.fsyncs.Add(1)
	e.unsynced = false
	return nil
}

// applyOp applies one recorded op inside tx, opening the buckets it needs
// through b.handles (valid for tx only).
func (b *batch) applyOp(tx *bolt.Tx, o *op, seqFill float64) error {
	key := b.arena[o.k0:o.k1]
	switch o.kind {
	case opPut:
		h, err := b.bucket(tx, o.bucket, true)
		if err != nil {
			return err
		}
		if o.bucket.Sequential {
			h.FillPercent = seqFill // used when the tx spills at commit
		}
		val := b.arena[o.v0:o.v1]
		if err := h.Put(key, val); err != nil {
			return fmt.Errorf("bbolt: put of key %s (%d bytes, value %d bytes) in bucket %s: %w",
				keyString(key), len(key), len(val), o.bucket.Name, err)
		}
	case opDelete:
		h, err := b.bucket(tx, o.bucket, false)
		if err != nil || h == nil {
			return err // h == nil: absent bucket, nothing to delete
		}
		if err := h.Delete(key); err != nil {
			return fmt.Errorf("bbolt: delete of key %s in bucket %s: %w", keyString(key), o.bucket.Name, err)
		}
	case opDeleteRange:
		h, err := b.bucket(tx, o.bucket, false)
		if err != nil || h == nil {
			return err
		}
		var end []byte
		if !o.endNil {
			end = b.arena[o.v0:o.v1]
		}
		if err := deleteRange(h, key, end); err != nil {
			return fmt.Errorf("bbolt: delete range [%s, %s) in bucket %s: %w",
				keyString(key), keyString(end), o.bucket.Name, err)
		}
	}
	return nil
}

// bucket returns the handle of bk in tx, creating the bucket if create; nil
// (and no error) for an absent bucket when not. A batch touches few buckets:
// a slice beats a map.
func (b *batch) bucket(tx *bolt.Tx, bk engine.Bucket, create bool) (*bolt.Bucket, error) {
	for _, h := range b.handles {
		if h.name == bk.Name {
			return h.bk, nil
		}
	}
	if bk.Name == "" {
		return nil, fmt.Errorf("bbolt: bucket (id %d) has an empty name", bk.ID)
	}
	var (
		h   *bolt.Bucket
		err error
	)
	if create {
		h, err = tx.CreateBucketIfNotExists([]byte(bk.Name))
		if err != nil {
			return nil, fmt.Errorf("bbolt: creating bucket %q: %w", bk.Name, err)
		}
	} else if h = tx.Bucket([]byte(bk.Name)); h == nil {
		return nil, nil
	}
	b.handles = append(b.handles, bucketHandle{bk.Name, h})
	return h, nil
}

// deleteRange deletes [start, end) (end nil: to the bucket's end). It seeks
// afresh after every delete: advancing a bbolt cursor after Cursor.Delete can
// skip the next key.
func deleteRange(h *bolt.Bucket, start, end []byte) error {
	c := h.Cursor()
	for k, _ := c.Seek(start); k != nil && (end == nil || bytes.Compare(k, end) < 0); k, _ = c.Seek(start) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// keyString renders a key for an error message, cut to a readable length.
func keyString(k []byte) string {
	if k == nil {
		return "<end>"
	}
	if len(k) > 64 {
		return fmt.Sprintf("%q...", k[:64])
	}
	return fmt.Sprintf("%q", k)
}
