package backend

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"etcdlab/engines/engine"
	"etcdlab/internal/clock"
)

// ErrClosed is returned by a backend used after Close. It wraps
// engine.ErrClosed, so callers can test for either.
var ErrClosed = fmt.Errorf("backend: %w", engine.ErrClosed)

// Backend batches writes to one engine as etcd's backend does. Create it with
// New; all methods are safe for concurrent use.
type Backend struct {
	eng engine.Engine
	cfg Config

	tx BatchTx

	// readMu guards the read side: the shared engine view of the last commit
	// and the read buffer of ended-but-uncommitted write txns. A reader takes
	// both under the read lock, so the pair is always consistent.
	readMu sync.RWMutex
	view   *sharedView
	// readTrees holds the puts of ended write txns since the last commit,
	// per bucket. Only publish writes it, under readMu. Readers never see it
	// directly: they get readSnap, an O(1) copy-on-write clone taken by the
	// first reader after a publish and shared by the readers after it. So a
	// write-only load never clones, and each clone costs the writer one copy
	// of the nodes it touches next, not a copy per write.
	readTrees map[byte]*tree
	readSnap  *overlay // nil until a reader asks after a change

	hook func(tx *BatchTx)

	stop chan struct{}
	done chan struct{}

	// size is the engine's Size as of the last commit (etcd's backend
	// refreshes it at the start of each transaction). The quota check reads
	// it on every write request, so it is an atomic here, the same for every
	// engine, and never asks the engine per request.
	size atomic.Int64

	closed atomic.Bool
	stats  stats
	errMu  sync.Mutex
	err    error // sticky commit failure
}

type stats struct {
	commits        atomic.Int64
	commitNanos    atomic.Int64
	maxCommitNanos atomic.Int64
	defrags        atomic.Int64
}

// Stats are the backend's cumulative figures plus its engine's.
type Stats struct {
	Commits     int64
	CommitTotal time.Duration
	MaxCommit   time.Duration
	Defrags     int64
	PendingOps  int
	Engine      engine.Stats
}

// sharedView is an engine view shared by every reader between two commits,
// closed when the last of them is done (etcd's shared read tx).
type sharedView struct {
	v    engine.View
	refs atomic.Int64
}

func (s *sharedView) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.v.Close()
	}
}

// New starts a backend over e. The backend owns e from now on: Close closes it.
func New(e engine.Engine, cfg Config) (*Backend, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v, err := e.NewView()
	if err != nil {
		return nil, fmt.Errorf("backend: opening the first read view: %w", err)
	}
	b := &Backend{
		eng:       e,
		cfg:       cfg,
		readTrees: map[byte]*tree{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	b.view = &sharedView{v: v}
	b.view.refs.Store(1) // the backend's own reference
	b.refreshSizes()
	b.tx.b = b
	b.tx.batch = e.NewBatch()
	b.tx.buf = &overlay{trees: map[byte]*tree{}, ranges: map[byte][]keyRange{}}
	// The ticker is made before the goroutine starts so that time advanced
	// right after New (a fake clock in tests) is never missed.
	go b.run(cfg.Clock.NewTicker(cfg.BatchInterval))
	return b, nil
}

// run commits every batch interval.
func (b *Backend) run(t clock.Ticker) {
	defer close(b.done)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C():
			b.tx.Lock()
			_ = b.tx.commit("interval")
			b.tx.mu.Unlock()
		}
	}
}

// Engine returns the engine under the backend.
func (b *Backend) Engine() engine.Engine { return b.eng }

// Config returns the backend's configuration with defaults applied.
func (b *Backend) Config() Config { return b.cfg }

// BatchTx returns the backend's single write transaction.
func (b *Backend) BatchTx() *BatchTx { return &b.tx }

// SetPreCommitHook installs fn, called before every commit with the write
// lock held; records fn puts through tx go into the same engine commit. fn is
// called even when nothing else is pending, so a changed consistent index
// alone is committed by ForceCommit.
func (b *Backend) SetPreCommitHook(fn func(tx *BatchTx)) {
	b.tx.Lock()
	b.hook = fn
	b.tx.mu.Unlock()
}

// Err returns the commit failure that stopped the backend, if any.
func (b *Backend) Err() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

func (b *Backend) setErr(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.errMu.Unlock()
}

// ForceCommit commits everything pending now.
func (b *Backend) ForceCommit() error {
	if b.closed.Load() {
		return ErrClosed
	}
	b.tx.Lock()
	defer b.tx.mu.Unlock()
	return b.tx.commit("force")
}

// Sync commits everything pending (ForceCommit) and then makes the engine
// durable up to that commit (engine.Sync): bbolt fsyncs if a commit skipped
// it, pebble syncs its WAL or, with wal=disabled, flushes its memtables,
// memory writes its image. A backend commit alone is durable only as far as
// the engine's knobs make it; callers that are about to discard another log
// able to replay those writes (the raft WAL, at a disk snapshot) call Sync
// first.
func (b *Backend) Sync() error {
	if err := b.ForceCommit(); err != nil {
		return err
	}
	if err := b.eng.Sync(); err != nil {
		return fmt.Errorf("backend: engine sync: %w", err)
	}
	return nil
}

// ReadTx opens a consistent read view: the last commit plus every write txn
// that has ended since. Close it when done.
func (b *Backend) ReadTx() *ReadTx {
	b.readMu.RLock()
	if snap := b.readSnap; snap != nil {
		v := b.view
		v.refs.Add(1) // under the lock: the view cannot be swapped out meanwhile
		b.readMu.RUnlock()
		return &ReadTx{view: v, buf: snap}
	}
	b.readMu.RUnlock()
	b.readMu.Lock()
	if b.readSnap == nil {
		snap := &overlay{}
		if len(b.readTrees) > 0 {
			snap.trees = make(map[byte]*tree, len(b.readTrees))
			for id, t := range b.readTrees {
				snap.trees[id] = t.Clone()
			}
		}
		b.readSnap = snap
	}
	v, snap := b.view, b.readSnap
	v.refs.Add(1)
	b.readMu.Unlock()
	return &ReadTx{view: v, buf: snap}
}

// publish makes a finished write txn's puts visible to new readers. Called
// with the write lock held.
func (b *Backend) publish(puts []bucketItem) {
	if len(puts) == 0 {
		return
	}
	b.readMu.Lock()
	for _, p := range puts {
		t := b.readTrees[p.bucket]
		if t == nil {
			t = newTree()
			b.readTrees[p.bucket] = t
		}
		t.ReplaceOrInsert(p.item) // copies only nodes a reader's clone shares
	}
	b.readSnap = nil
	b.readMu.Unlock()
}

// swapView installs a fresh engine view after a commit and empties the read
// buffer (its contents are now in the engine). Called with the write lock.
func (b *Backend) swapView() error {
	v, err := b.eng.NewView()
	if err != nil {
		return fmt.Errorf("backend: opening a read view after commit: %w", err)
	}
	nv := &sharedView{v: v}
	nv.refs.Store(1)
	b.readMu.Lock()
	old := b.view
	b.view = nv
	b.readTrees = map[byte]*tree{}
	b.readSnap = nil
	b.readMu.Unlock()
	old.release()
	return nil
}

// Snapshot commits what is pending and streams a consistent image of the
// engine to w (etcd's backend snapshot).
func (b *Backend) Snapshot(w io.Writer) (int64, error) {
	if err := b.ForceCommit(); err != nil {
		return 0, err
	}
	return b.eng.WriteImage(w)
}

// Defrag commits what is pending, then reclaims the engine's free space
// (bbolt: rewrite the file; pebble: compact) with writes stopped and new
// reads held until it is done, as etcd's defrag does.
func (b *Backend) Defrag() error {
	if b.closed.Load() {
		return ErrClosed
	}
	b.tx.Lock()
	defer b.tx.mu.Unlock()
	if err := b.tx.commit("force"); err != nil {
		return err
	}
	b.readMu.Lock()
	defer b.readMu.Unlock()
	// Drop the backend's own reference so the engine can wait for the last
	// reader; Reclaim blocks until every open view is closed.
	b.view.release()
	rerr := b.eng.Reclaim()
	v, err := b.eng.NewView()
	if err != nil {
		b.setErr(fmt.Errorf("backend: reopening a read view after defrag: %w", err))
		return errors.Join(rerr, b.Err())
	}
	b.view = &sharedView{v: v}
	b.view.refs.Store(1)
	b.refreshSizes()
	if rerr != nil {
		return fmt.Errorf("backend: defrag: %w", rerr)
	}
	b.stats.defrags.Add(1)
	return nil
}

// refreshSizes copies the engine's Size into the backend's atomic. Called
// after each commit and defrag with the write lock held, and by New.
func (b *Backend) refreshSizes() { b.size.Store(b.eng.Size()) }

// Size is the engine's Size (etcd's backend size, which the quota compares)
// as of the last commit: an atomic load, whatever the engine.
func (b *Backend) Size() int64 { return b.size.Load() }

// SizeInUse is the part of Size holding live data (engine.SizeInUse, from
// in-memory state). No request path reads it, only Status and the results'
// sampling, so it is not refreshed at every commit.
func (b *Backend) SizeInUse() int64 { return b.eng.SizeInUse() }

// DiskSize is what the engine's files take on disk now (engine.DiskSize: it
// may list the data directory). For results and reports only.
func (b *Backend) DiskSize() int64 { return b.eng.DiskSize() }

// Stats returns the backend's and the engine's statistics.
func (b *Backend) Stats() Stats {
	b.tx.Lock()
	pending := b.tx.pending
	b.tx.mu.Unlock()
	return Stats{
		Commits:     b.stats.commits.Load(),
		CommitTotal: time.Duration(b.stats.commitNanos.Load()),
		MaxCommit:   time.Duration(b.stats.maxCommitNanos.Load()),
		Defrags:     b.stats.defrags.Load(),
		PendingOps:  pending,
		Engine:      b.eng.Stats(),
	}
}

// Close commits what is pending, stops the batch timer and closes the engine.
// Readers still open keep their view until they close it, but must not
// outlive the engine: close them first.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return ErrClosed
	}
	close(b.stop)
	<-b.done
	b.tx.Lock()
	cerr := b.tx.commit("close")
	b.tx.batch.Close()
	b.tx.mu.Unlock()
	b.readMu.Lock()
	b.view.release()
	b.readMu.Unlock()
	return errors.Join(cerr, b.eng.Close())
}

// ReadTx is a consistent read view; see Backend.ReadTx.
type ReadTx struct {
	view   *sharedView
	buf    *overlay
	closed atomic.Bool
}

// Get returns the value of key in bucket bkt (engine.ErrNotFound if absent).
// The value is valid until Close.
func (r *ReadTx) Get(bkt engine.Bucket, key []byte) ([]byte, error) {
	if r.closed.Load() {
		return nil, engine.ErrClosed
	}
	return r.buf.get(r.view.v, bkt, key)
}

// Scan calls fn for the keys of [start, end) in order, at most limit of them
// (limit <= 0: all). The slices passed to fn are valid only during the call.
func (r *ReadTx) Scan(bkt engine.Bucket, start, end []byte, limit int, fn func(k, v []byte) bool) error {
	if r.closed.Load() {
		return engine.ErrClosed
	}
	return r.buf.scan(r.view.v, bkt, start, end, limit, fn)
}

// Close releases the view. It is idempotent.
func (r *ReadTx) Close() {
	if !r.closed.Swap(true) {
		r.view.release()
	}
}

// DefragFigures are a defrag's sizes before and after, what etcd logs for
// it: the size the quota compares (Size) and the size on disk (DiskSize).
type DefragFigures struct {
	Before, After, DiskBefore, DiskAfter int64
}

// Detail renders the figures as an event's detail line, and Values as its
// named values: one rendering for every layer that defragments (the
// cluster's nodes and the bench's mvcc and engine layers).
func (f DefragFigures) Detail() string {
	return fmt.Sprintf("size %d -> %d disk %d -> %d", f.Before, f.After, f.DiskBefore, f.DiskAfter)
}

// Values: see Detail.
func (f DefragFigures) Values() map[string]float64 {
	return map[string]float64{
		"db_size_before_bytes":      float64(f.Before),
		"db_size_after_bytes":       float64(f.After),
		"db_disk_size_before_bytes": float64(f.DiskBefore),
		"db_disk_size_after_bytes":  float64(f.DiskAfter),
	}
}
