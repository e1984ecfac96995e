package pebble

import (
	"bytes"
	"fmt"

	pdb "github.com/cockroachdb/pebble/v2"

	"etcdlab/engines/engine"
)

// bucketKey appends bucket b's prefix and key to dst.
func bucketKey(dst []byte, b engine.Bucket, key []byte) []byte {
	dst = append(dst, b.ID)
	return append(dst, key...)
}

// bucketEnd is the exclusive upper bound of bucket b's keys: the next prefix,
// or for the last bucket (0xFF, which has no next prefix) a run of 0xFF bytes
// longer than any allowed key, which sorts after every key of that bucket
// because keys are at most MaxKeySize bytes.
func bucketEnd(b engine.Bucket) []byte {
	if b.ID < 0xFF {
		return []byte{b.ID + 1}
	}
	return bytes.Repeat([]byte{0xFF}, MaxKeySize+2)
}

// iterUpper is the iterator upper bound for a scan to the end of bucket b
// (nil, unbounded, for the last bucket).
func iterUpper(b engine.Bucket) []byte {
	if b.ID < 0xFF {
		return []byte{b.ID + 1}
	}
	return nil
}

// batch is a pebble batch of prefixed keys. The first bad operation (key too
// large, batch too large, use after Close) is remembered and returned by Commit,
// which then applies nothing.
type batch struct {
	e       *Engine
	pb      *pdb.Batch
	scratch []byte
	n       int
	logical int64
	err     error
	closed  bool
}

// NewBatch returns an empty batch. Using it after the engine is closed makes
// Commit fail with ErrClosed.
func (e *Engine) NewBatch() engine.Batch {
	return &batch{e: e, pb: e.db.NewBatch()}
}

func (b *batch) check(bk engine.Bucket, keys ...[]byte) bool {
	if b.err != nil {
		return false
	}
	if b.closed {
		b.err = fmt.Errorf("%w: pebble batch used after Close", engine.ErrClosed)
		return false
	}
	for _, k := range keys {
		if len(k) > MaxKeySize {
			b.err = fmt.Errorf("%w: %d-byte key in bucket %s (limit %d)", ErrKeyTooLarge, len(k), bk, MaxKeySize)
			return false
		}
	}
	return true
}

func (b *batch) room(n int) bool {
	if b.pb.Len()+n+64 > maxBatchBytes {
		b.err = fmt.Errorf("%w: over %d bytes", ErrBatchTooLarge, maxBatchBytes)
		return false
	}
	return true
}

func (b *batch) Put(bk engine.Bucket, key, value []byte) {
	if !b.check(bk, key) || !b.room(len(key)+len(value)) {
		return
	}
	b.scratch = bucketKey(b.scratch[:0], bk, key)
	if err := b.pb.Set(b.scratch, value, nil); err != nil {
		b.err = fmt.Errorf("pebble: batch put: %w", err)
		return
	}
	b.n++
	b.logical += int64(len(key) + len(value))
}

func (b *batch) Delete(bk engine.Bucket, key []byte) {
	if !b.check(bk, key) || !b.room(len(key)) {
		return
	}
	b.scratch = bucketKey(b.scratch[:0], bk, key)
	if err := b.pb.Delete(b.scratch, nil); err != nil {
		b.err = fmt.Errorf("pebble: batch delete: %w", err)
		return
	}
	b.n++
}

func (b *batch) DeleteRange(bk engine.Bucket, start, end []byte) {
	if !b.check(bk, start, end) || !b.room(len(start)+len(end)+MaxKeySize) {
		return
	}
	b.n++ // an empty range is still an operation the caller made
	if end != nil && bytes.Compare(start, end) >= 0 {
		return
	}
	s := bucketKey(nil, bk, start)
	var lim []byte
	if end == nil {
		lim = bucketEnd(bk)
	} else {
		lim = bucketKey(nil, bk, end)
	}
	if err := b.pb.DeleteRange(s, lim, nil); err != nil {
		b.err = fmt.Errorf("pebble: batch delete range: %w", err)
	}
}

func (b *batch) Len() int { return b.n }

// Commit applies the batch atomically. Under wal=synced, Commit(true) waits for
// the WAL fdatasync (pebble.Sync) and Commit(false) does not (pebble.NoSync);
// under wal=unsynced and wal=disabled no commit syncs, whatever sync says: the
// contract's "on stable storage when Commit returns" is deliberately given up
// there (see WALMode). SyncedCommits counts Commit(true) calls as the contract
// defines it, in every mode; Stats.Fsyncs shows whether they really synced.
// An empty batch committed with sync under wal=synced still syncs the WAL,
// making earlier unsynced commits durable. The batch is empty afterwards,
// whatever the outcome.
func (b *batch) Commit(sync bool) (err error) {
	if b.closed {
		return fmt.Errorf("%w: pebble batch used after Close", engine.ErrClosed)
	}
	defer b.reset()
	if b.err != nil {
		return b.err
	}
	e := b.e
	if err := e.enter(true); err != nil {
		return err
	}
	defer e.leave(true)
	e.mu.Lock()
	failed := e.failed
	e.mu.Unlock()
	if failed != nil {
		return failed
	}
	// pebble keeps a failed batch: start a new one.
	defer e.recoverFatal("commit", &err, func() { b.pb = e.db.NewBatch() })
	durable := sync && e.opts.WAL == WALSynced
	wo := pdb.NoSync
	if durable {
		wo = pdb.Sync
	}
	empty := b.pb.Empty()
	if empty {
		if durable {
			err = e.db.LogData(nil, pdb.Sync)
		}
	} else {
		err = e.db.Apply(b.pb, wo)
	}
	if err != nil {
		// pebble does not let a batch that failed to apply be reused.
		b.pb.Close()
		b.pb = e.db.NewBatch()
		return fmt.Errorf("pebble: commit in %s: %w", e.dir, err)
	}
	if !durable && !empty {
		e.unsynced.Store(true)
	}
	e.commits.Add(1)
	if sync {
		e.syncedCommits.Add(1)
	}
	e.logicalBytes.Add(b.logical)
	return nil
}

func (b *batch) reset() {
	b.pb.Reset()
	b.n, b.logical, b.err = 0, 0, nil
}

func (b *batch) Close() {
	if b.closed {
		return
	}
	b.closed = true
	b.pb.Close()
}

// lastBucket is the bucket whose keys sort last; its bucketEnd bounds the
// whole key space.
var lastBucket = engine.Bucket{ID: 0xFF}
