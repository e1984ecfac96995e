package bbolt

import (
	"bytes"
	"errors"
	"fmt"

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

// batch records operations in memory; Commit applies them in order in one
// bbolt read-write transaction.
type batch struct {
	e       *Engine
	ops     []op
	arena   []byte
	logical int64 // len(key)+len(value) of the puts
	closed  bool
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

// Close implements engine.Batch.
func (b *batch) Close() {
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
	db := e.db
	if len(b.ops) == 0 {
		if sync && e.unsynced && !e.opts.NoSync {
			if err := db.Sync(); err != nil {
				return fmt.Errorf("bbolt: fsync %s: %w", e.path, err)
			}
			e.fsyncs.Add(1)
			e.unsynced = false
		}
		return nil
	}
	// bbolt reads NoSync during Commit; commits are serialized by commitMu.
	noSync := e.opts.NoSync || !sync
	db.NoSync = noSync
	var ts bolt.TxStats
	err := db.Update(func(tx *bolt.Tx) error {
		tx.OnCommit(func() { ts = tx.Stats() })
		if err := b.apply(tx, e.opts.SeqFillPercent); err != nil {
			return applyError{err}
		}
		return nil
	})
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
	if err := e.db.Sync(); err != nil {
		return fmt.Errorf("bbolt: fsync %s: %w", e.path, err)
	}
	e.fsyncs.Add(1)
	e.unsynced = false
	return nil
}

// apply runs the ops in order inside tx.
func (b *batch) apply(tx *bolt.Tx, seqFill float64) error {
	type handle struct {
		name string
		bk   *bolt.Bucket
	}
	var handles []handle // a batch touches few buckets; a slice beats a map
	get := func(bk engine.Bucket, create bool) (*bolt.Bucket, error) {
		for _, h := range handles {
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
			return nil, nil // absent bucket: nothing to delete
		}
		handles = append(handles, handle{bk.Name, h})
		return h, nil
	}
	for i := range b.ops {
		o := &b.ops[i]
		key := b.arena[o.k0:o.k1]
		switch o.kind {
		case opPut:
			h, err := get(o.bucket, true)
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
			h, err := get(o.bucket, false)
			if err != nil {
				return err
			}
			if h == nil {
				continue // absent bucket: nothing to delete
			}
			if err := h.Delete(key); err != nil {
				return fmt.Errorf("bbolt: delete of key %s in bucket %s: %w", keyString(key), o.bucket.Name, err)
			}
		case opDeleteRange:
			h, err := get(o.bucket, false)
			if err != nil {
				return err
			}
			if h == nil {
				continue
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
	}
	return nil
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
