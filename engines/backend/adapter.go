package backend

import (
	"io"
	"sync/atomic"

	"etcdlab/engines/engine"
)

// AsEngine presents the backend as an engine.Engine, so that the engine
// conformance suite runs through the batching layer and benchmarks can drive
// "an engine with etcd's batching" through the same interface as a raw one.
//
// A batch committed without sync ends a write txn: it is visible to new views
// at once and reaches the engine with the next batch commit. A batch committed
// with sync is forced into the engine before Commit returns. Closing the
// adapter closes the backend (and so the engine).
//
// Its Stats count the adapter's own batches: Commits and SyncedCommits are
// Commit calls and LogicalBytes the key and value bytes they put, while
// Fsyncs and BytesWritten are the engine's, so WriteAmp is the disk bytes
// written per logical byte through the batching layer. The backend's own
// commit count is in Native["backend.commits"].
func (b *Backend) AsEngine() engine.Engine { return adapter{b, &adapterStats{}} }

type adapter struct {
	b     *Backend
	stats *adapterStats
}

type adapterStats struct {
	commits, synced, logical atomic.Int64
}

var _ engine.Engine = adapter{}

func (a adapter) Name() string { return a.b.eng.Name() }

func (a adapter) NewBatch() engine.Batch { return &adapterBatch{b: a.b, stats: a.stats} }

func (a adapter) NewView() (engine.View, error) {
	if a.b.closed.Load() {
		return nil, engine.ErrClosed
	}
	return readView{a.b.ReadTx()}, nil
}

func (a adapter) Size() int64                           { return a.b.Size() }
func (a adapter) SizeInUse() int64                      { return a.b.SizeInUse() }
func (a adapter) DiskSize() int64                       { return a.b.DiskSize() }
func (a adapter) Reclaim() error                        { return a.b.Defrag() }
func (a adapter) WriteImage(w io.Writer) (int64, error) { return a.b.Snapshot(w) }
func (a adapter) Sync() error                           { return a.b.Sync() }

func (a adapter) Stats() engine.Stats {
	bs := a.b.Stats()
	s := bs.Engine
	s.Commits = a.stats.commits.Load()
	s.SyncedCommits = a.stats.synced.Load()
	s.LogicalBytes = a.stats.logical.Load()
	s.Reclaims = bs.Defrags
	native := make(map[string]float64, len(s.Native)+3)
	for k, v := range s.Native {
		native[k] = v
	}
	native["backend.commits"] = float64(bs.Commits)
	native["backend.engine_commits"] = float64(bs.Engine.Commits)
	native["backend.pending_ops"] = float64(bs.PendingOps)
	s.Native = native
	return s
}

func (a adapter) Close() error {
	if a.b.closed.Load() {
		return engine.ErrClosed
	}
	return a.b.Close()
}

type readView struct{ r *ReadTx }

func (v readView) Get(bkt engine.Bucket, key []byte) ([]byte, error) { return v.r.Get(bkt, key) }
func (v readView) Scan(bkt engine.Bucket, start, end []byte, limit int, fn func(k, v []byte) bool) error {
	return v.r.Scan(bkt, start, end, limit, fn)
}
func (v readView) Close() error { v.r.Close(); return nil }

// adapterBatch records operations and replays them in one write txn on Commit.
type adapterBatch struct {
	b     *Backend
	stats *adapterStats
	ops   []op
}

type op struct {
	kind       byte // 'p' put, 'd' delete, 'r' delete range
	bkt        engine.Bucket
	key, value []byte
	end        []byte // nil: to the end of the bucket (clone keeps nil as nil)
}

func clone(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, len(p)), p...)
}

func (ab *adapterBatch) Put(bkt engine.Bucket, key, value []byte) {
	ab.ops = append(ab.ops, op{kind: 'p', bkt: bkt, key: clone(key), value: clone(value)})
}

func (ab *adapterBatch) Delete(bkt engine.Bucket, key []byte) {
	ab.ops = append(ab.ops, op{kind: 'd', bkt: bkt, key: clone(key)})
}

func (ab *adapterBatch) DeleteRange(bkt engine.Bucket, start, end []byte) {
	ab.ops = append(ab.ops, op{kind: 'r', bkt: bkt, key: clone(start), end: clone(end)})
}

func (ab *adapterBatch) Len() int { return len(ab.ops) }

func (ab *adapterBatch) Commit(sync bool) error {
	if ab.b.closed.Load() {
		return engine.ErrClosed
	}
	if err := ab.b.Err(); err != nil {
		return err
	}
	tx := ab.b.BatchTx()
	tx.Lock()
	for _, o := range ab.ops {
		switch o.kind {
		case 'p':
			if o.value == nil {
				o.value = []byte{}
			}
			tx.UnsafePut(o.bkt, o.key, o.value)
		case 'd':
			tx.UnsafeDelete(o.bkt, o.key)
		case 'r':
			tx.UnsafeDeleteRange(o.bkt, o.key, o.end)
		}
	}
	var logical int64
	for _, o := range ab.ops {
		if o.kind == 'p' {
			logical += int64(len(o.key) + len(o.value))
		}
	}
	var err error
	if sync {
		err = tx.Commit()
	}
	tx.Unlock()
	ab.ops = ab.ops[:0]
	if err == nil {
		err = ab.b.Err()
	}
	if err == nil {
		ab.stats.commits.Add(1)
		ab.stats.logical.Add(logical)
		if sync {
			ab.stats.synced.Add(1)
		}
	}
	return err
}

func (ab *adapterBatch) Close() { ab.ops = nil }
