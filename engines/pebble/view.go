package pebble

import (
	"errors"
	"fmt"
	"sync"

	pdb "github.com/cockroachdb/pebble/v2"

	"etcdlab/engines/engine"
)

// view is a pebble snapshot. Opening one is cheap (it pins a sequence number,
// not files), and pebble readers never block writers.
type view struct {
	e    *Engine
	mu   sync.RWMutex // Close excludes Get and Scan in flight
	snap *pdb.Snapshot
}

// NewView opens a snapshot of everything committed so far. It waits while a
// Reclaim runs.
func (e *Engine) NewView() (engine.View, error) {
	// Registered under the same lock as the gate, so that Close either sees
	// this view (and closes it) or NewView sees the engine closed.
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.reclaiming && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		return nil, e.errClosed()
	}
	v := &view{e: e, snap: e.db.NewSnapshot()}
	e.active++
	e.views[v] = struct{}{}
	return v, nil
}

func (v *view) errClosed() error {
	return fmt.Errorf("%w: pebble view of %s", engine.ErrClosed, v.e.dir)
}

// Get returns a copy of the value: pebble's slice dies with its closer, and a
// copy is valid for as long as the view (and beyond).
func (v *view) Get(b engine.Bucket, key []byte) ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.snap == nil {
		return nil, v.errClosed()
	}
	if len(key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key %q in bucket %s", engine.ErrNotFound, key[:32], b)
	}
	val, closer, err := v.snap.Get(bucketKey(nil, b, key))
	if errors.Is(err, pdb.ErrNotFound) {
		return nil, fmt.Errorf("%w: key %q in bucket %s", engine.ErrNotFound, key, b)
	}
	if err != nil {
		return nil, readErr(fmt.Sprintf("get %q in bucket %s", key, b), err)
	}
	out := make([]byte, len(val))
	copy(out, val)
	if err := closer.Close(); err != nil {
		return nil, readErr(fmt.Sprintf("get %q in bucket %s", key, b), err)
	}
	return out, nil
}

// Scan iterates [prefix+start, prefix+end) so that no other bucket is seen.
func (v *view) Scan(b engine.Bucket, start, end []byte, limit int, fn func(key, value []byte) bool) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.snap == nil {
		return v.errClosed()
	}
	if end != nil && string(start) >= string(end) {
		return nil
	}
	io := &pdb.IterOptions{LowerBound: bucketKey(nil, b, start)}
	if end == nil {
		io.UpperBound = iterUpper(b)
	} else {
		io.UpperBound = bucketKey(nil, b, end)
	}
	it, err := v.snap.NewIter(io)
	if err != nil {
		return readErr("scan bucket "+b.String(), err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return readErr("scan bucket "+b.String(), err)
		}
		n++
		if !fn(it.Key()[1:], val) || (limit > 0 && n >= limit) {
			break
		}
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return readErr("scan bucket "+b.String(), err)
	}
	return nil
}

// Close releases the snapshot; it is idempotent.
func (v *view) Close() error {
	v.mu.Lock()
	if v.snap == nil {
		v.mu.Unlock()
		return nil
	}
	err := v.snap.Close()
	v.snap = nil
	v.mu.Unlock()
	e := v.e
	e.mu.Lock()
	delete(e.views, v)
	e.active--
	e.cond.Broadcast()
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pebble: closing view of %s: %w", e.dir, err)
	}
	return nil
}
