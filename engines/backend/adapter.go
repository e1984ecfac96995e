package backend

import (
	"io"

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
func (b *Backend) AsEngine() engine.Engine { return adapter{b} }

type adapter struct{ b *Backend }

var _ engine.Engine = adapter{}

func (a adapter) Name() string { return a.b.eng.Name() }

func (a adapter) NewBatch() engine.Batch { return &adapterBatch{b: a.b} }

func (a adapter) NewView() (engine.View, error) {
	if a.b.closed.Load() {
		return nil, engine.ErrClosed
	}
	return readView{a.b.ReadTx()}, nil
}

func (a adapter) Size() int64                           { return a.b.Size() }
func (a adapter) SizeInUse() int64                      { return a.b.SizeInUse() }
func (a adapter) Reclaim() error                        { return a.b.Defrag() }
func (a adapter) WriteImage(w io.Writer) (int64, error) { return a.b.Snapshot(w) }
func (a adapter) Stats() engine.Stats                   { return a.b.Stats().Engine }

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
	b   *Backend
	ops []op
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
	var err error
	if sync {
		err = tx.Commit()
	}
	tx.Unlock()
	ab.ops = ab.ops[:0]
	if err == nil {
		err = ab.b.Err()
	}
	return err
}

func (ab *adapterBatch) Close() { ab.ops = nil }
