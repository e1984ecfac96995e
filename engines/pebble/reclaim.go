package pebble

import (
	"context"
	"fmt"
	"time"
)

// reclaimSettle bounds how long Reclaim waits for pebble's background cleaner
// to delete the files the compaction made obsolete.
const reclaimSettle = 30 * time.Second

// Reclaim is etcd's defrag for pebble: a manual compaction of the whole key
// space to the bottom level, which drops deleted and overwritten entries (no
// snapshot pins them: Reclaim first waits for every open view to close and
// blocks new views and commits until it returns). Pebble deletes obsolete files
// asynchronously, so Reclaim then waits (bounded by 30 s) until its metrics
// report no obsolete or zombie sstables, so that Size reflects the reclaimed
// space when Reclaim returns.
func (e *Engine) Reclaim() error {
	e.mu.Lock()
	for e.reclaiming && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		e.mu.Unlock()
		return e.errClosed()
	}
	e.reclaiming = true
	for e.active > 0 && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		e.reclaiming = false
		e.cond.Broadcast()
		e.mu.Unlock()
		return e.errClosed()
	}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.reclaiming = false
		e.cond.Broadcast()
		e.mu.Unlock()
	}()

	// Flush first so that the memtable's data and tombstones take part, and
	// the WAL it pinned becomes obsolete.
	if err := e.db.Flush(); err != nil {
		return fmt.Errorf("pebble: reclaim %s: flush: %w", e.dir, err)
	}
	// Compact bounds are inclusive; bucketEnd of the last bucket is past every
	// key pebble can hold.
	if err := e.db.Compact(context.Background(), []byte{}, bucketEnd(lastBucket), true); err != nil {
		return fmt.Errorf("pebble: reclaim %s: compact: %w", e.dir, err)
	}
	deadline := time.Now().Add(reclaimSettle)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		m := e.db.Metrics()
		if m.Table.ObsoleteCount == 0 && m.Table.ZombieCount == 0 && m.BlobFiles.ObsoleteCount == 0 &&
			m.Compact.NumInProgress == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pebble: reclaim %s: obsolete files still present after %v", e.dir, reclaimSettle)
		}
		time.Sleep(wait)
	}
	e.reclaims.Add(1)
	return nil
}
