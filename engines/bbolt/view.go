package bbolt

import (
	"bytes"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"etcdlab/engines/engine"
)

// view is a bbolt read transaction. mu's read side is held by each Get and
// Scan, its write side by Close, so Close never pulls the mapping away from
// a running read. The read transaction is safe for concurrent readers: on a
// read-only bbolt tx, bucket lookups and cursors touch no shared mutable
// state (its statistics are updated atomically).
type view struct {
	e  *Engine
	mu sync.RWMutex
	tx *bolt.Tx // nil once closed
}

func (v *view) errClosed() error {
	return fmt.Errorf("%w: bbolt view", engine.ErrClosed)
}

// Get implements engine.View. The value points into bbolt's mmap and is
// valid until the view is closed.
func (v *view) Get(b engine.Bucket, key []byte) ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.tx == nil {
		return nil, v.errClosed()
	}
	if h := v.tx.Bucket([]byte(b.Name)); h != nil {
		// bbolt returns nil for absent keys and for nested buckets (which
		// we never create); an empty stored value comes back non-nil.
		if val := h.Get(key); val != nil {
			return val, nil
		}
	}
	return nil, fmt.Errorf("%w: key %s in bucket %s", engine.ErrNotFound, keyString(key), b.Name)
}

// Scan implements engine.View.
func (v *view) Scan(b engine.Bucket, start, end []byte, limit int, fn func(key, value []byte) bool) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.tx == nil {
		return v.errClosed()
	}
	h := v.tx.Bucket([]byte(b.Name))
	if h == nil {
		return nil
	}
	c := h.Cursor()
	var k, val []byte
	if start == nil {
		k, val = c.First()
	} else {
		k, val = c.Seek(start)
	}
	n := 0
	for ; k != nil; k, val = c.Next() {
		if end != nil && bytes.Compare(k, end) >= 0 {
			break
		}
		if val == nil {
			continue // a nested bucket, not a key
		}
		if !fn(k, val) {
			break
		}
		if n++; limit > 0 && n >= limit {
			break
		}
	}
	return nil
}

// Close implements engine.View; it is idempotent.
func (v *view) Close() error {
	v.mu.Lock()
	if v.tx == nil {
		v.mu.Unlock()
		return nil
	}
	err := v.tx.Rollback()
	v.tx = nil
	v.mu.Unlock()
	v.e.viewsMu.Lock()
	delete(v.e.views, v)
	v.e.viewsMu.Unlock()
	v.e.gate.RUnlock()
	if err != nil {
		return fmt.Errorf("bbolt: closing view: %w", err)
	}
	return nil
}
