package memory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"etcdlab/engines/engine"
)

var (
	_ engine.Engine = (*Engine)(nil)
	_ engine.Batch  = (*batch)(nil)
	_ engine.View   = (*view)(nil)
)

// item is one entry of the tree. Keys and values are owned by the tree and
// never modified after insertion, which is what lets views share them.
type item struct {
	bucket byte
	key    []byte
	value  []byte
}

func less(a, b item) bool {
	if a.bucket != b.bucket {
		return a.bucket < b.bucket
	}
	return bytes.Compare(a.key, b.key) < 0
}

// Engine is an open memory engine. All methods are safe for concurrent use.
type Engine struct {
	dir  string
	opts Options

	mu sync.Mutex // serialises commits, view creation (Clone) and Close
	// persistMu serialises image writes (Sync, Close), so that a later image
	// is never renamed over by an earlier one.
	persistMu sync.Mutex
	tree      *btree.BTreeG[item]
	live      int64 // key+value bytes in tree
	closed    bool
	// closedFlag mirrors closed for views, which check it without taking mu.
	closedFlag atomic.Bool

	// Counters read by Stats without taking mu.
	commits, syncedCommits, logicalBytes atomic.Int64
	bytesWritten, fsyncs, reclaims       atomic.Int64
	liveBytes                            atomic.Int64 // mirror of live for Size
}

// Open opens a memory engine. With dir == "" it starts empty and keeps nothing
// on Close. Otherwise dir is created if needed and the image left there by
// the last Close, if any, is loaded. Open does not look for other engines'
// data: engines.Open, the registry, refuses such a dir (ErrWrongEngine)
// before it calls Open.
func Open(dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{dir: dir, opts: opts, tree: btree.NewG(opts.Degree, less)}
	if dir == "" {
		return e, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("memory: creating data dir: %w", err)
	}
	// A temporary image left by a crash during Close was never renamed into
	// place, so it holds nothing acknowledged: remove it.
	stale, err := filepath.Glob(filepath.Join(dir, ImageFile+".tmp-*"))
	if err != nil {
		return nil, fmt.Errorf("memory: listing data dir: %w", err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("memory: removing stale temporary image: %w", err)
		}
	}
	path := filepath.Join(dir, ImageFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, fmt.Errorf("memory: opening image: %w", err)
	}
	defer f.Close()
	tree, live, err := readImage(f, opts.Degree)
	if err != nil {
		return nil, fmt.Errorf("memory: loading %s: %w", path, err)
	}
	e.tree, e.live = tree, live
	e.liveBytes.Store(live)
	return e, nil
}

// OpenImage opens a memory engine holding the content of an image written by
// WriteImage. A stream that is not a memory image fails with
// engine.ErrWrongEngine, a damaged one with engine.ErrCorrupt. When dir != ""
// the image is persisted to dir/ImageFile before OpenImage returns
// (replacing any earlier memory image there), so the restored state survives a
// crash right after the restore.
func OpenImage(r io.Reader, dir string, opts Options) (*Engine, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	tree, live, err := readImage(r, opts.Degree)
	if err != nil {
		return nil, fmt.Errorf("memory: reading image: %w", err)
	}
	e := &Engine{dir: dir, opts: opts, tree: tree, live: live}
	e.liveBytes.Store(live)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("memory: creating data dir: %w", err)
		}
		if err := e.persist(tree.Clone()); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Name returns "memory".
func (e *Engine) Name() string { return Name }

// NewBatch returns an empty batch.
func (e *Engine) NewBatch() engine.Batch { return &batch{e: e} }

// NewView clones the tree: O(1), and later commits copy the nodes they change
// instead of touching the shared ones.
func (e *Engine) NewView() (engine.View, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("memory: new view: %w", engine.ErrClosed)
	}
	v := &view{e: e}
	v.tree.Store(e.tree.Clone())
	return v, nil
}

// Size is the key and value bytes stored: the memory engine has no files.
func (e *Engine) Size() int64 { return e.liveBytes.Load() }

// DiskSize equals Size: the engine's data is its whole footprint.
func (e *Engine) DiskSize() int64 { return e.liveBytes.Load() }

// SizeInUse equals Size: nothing is ever allocated and left free.
func (e *Engine) SizeInUse() int64 { return e.liveBytes.Load() }

// Reclaim has nothing to return to the file system; it only counts, so that
// callers' accounting of reclaims is the same on every engine.
func (e *Engine) Reclaim() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("memory: reclaim: %w", engine.ErrClosed)
	}
	e.reclaims.Add(1)
	return nil
}

// WriteImage streams the content as of the last commit to w. Commits may
// proceed while it writes: it works on a clone.
func (e *Engine) WriteImage(w io.Writer) (int64, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return 0, fmt.Errorf("memory: write image: %w", engine.ErrClosed)
	}
	snap := e.tree.Clone()
	e.mu.Unlock()
	n, err := writeImage(w, snap)
	if err != nil {
		return n, fmt.Errorf("memory: write image: %w", err)
	}
	return n, nil
}

// Stats returns the counters since Open.
func (e *Engine) Stats() engine.Stats {
	e.mu.Lock()
	keys := e.tree.Len()
	e.mu.Unlock()
	return engine.Stats{
		Engine:        Name,
		Commits:       e.commits.Load(),
		SyncedCommits: e.syncedCommits.Load(),
		Fsyncs:        e.fsyncs.Load(),
		BytesWritten:  e.bytesWritten.Load(),
		LogicalBytes:  e.logicalBytes.Load(),
		Reclaims:      e.reclaims.Load(),
		Native: map[string]float64{
			"memory.keys":       float64(keys),
			"memory.live_bytes": float64(e.liveBytes.Load()),
		},
	}
}

// Sync implements engine.Engine: it writes the image of everything committed
// to the data dir, as Close does, so that a crash afterwards loses none of it
// (a process crash otherwise loses every commit since the last image). It
// costs a full image, which is why the contract keeps it off request paths
// (the cluster calls it at disk snapshots). With no dir, nothing.
func (e *Engine) Sync() error {
	e.persistMu.Lock()
	defer e.persistMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("memory: sync: %w", engine.ErrClosed)
	}
	snap := e.tree.Clone()
	e.mu.Unlock()
	if e.dir == "" {
		return nil
	}
	return e.persist(snap)
}

// Close writes the image to the data dir (when there is one) and releases the
// engine. Using the engine afterwards fails with engine.ErrClosed; a second
// Close does too.
func (e *Engine) Close() error {
	e.persistMu.Lock()
	defer e.persistMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return fmt.Errorf("memory: close: %w", engine.ErrClosed)
	}
	e.closed = true
	e.closedFlag.Store(true)
	snap := e.tree.Clone()
	e.mu.Unlock()
	if e.dir == "" {
		return nil
	}
	return e.persist(snap)
}

// persist writes snap to dir/MemoryFile so that either the old or the new
// image is there after a crash, never a torn one: temp file, fsync, rename,
// fsync of the directory (the rename is durable only once the directory is).
func (e *Engine) persist(snap *btree.BTreeG[item]) (err error) {
	final := filepath.Join(e.dir, ImageFile)
	tmp, err := os.CreateTemp(e.dir, ImageFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("memory: writing image: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("memory: writing image %s: %w", final, err)
		}
	}()
	n, err := writeImage(tmp, snap)
	e.bytesWritten.Add(n)
	if err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	e.fsyncs.Add(1)
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	d, err := os.Open(e.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return err
	}
	e.fsyncs.Add(1)
	return nil
}

// op is one recorded batch operation; kind tells which fields matter.
type op struct {
	kind       opKind
	bucket     byte
	key, value []byte // key is the start of a delete-range
	end        []byte // nil: end of the bucket
}

type opKind uint8

const (
	opPut opKind = iota
	opDelete
	opDeleteRange
)

type batch struct {
	e   *Engine
	ops []op
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func (b *batch) Put(bk engine.Bucket, key, value []byte) {
	v := clone(value)
	if v == nil {
		v = []byte{} // a stored value is never nil, so Get of an empty value is not mistaken for absence
	}
	b.ops = append(b.ops, op{kind: opPut, bucket: bk.ID, key: clone(key), value: v})
}

func (b *batch) Delete(bk engine.Bucket, key []byte) {
	b.ops = append(b.ops, op{kind: opDelete, bucket: bk.ID, key: clone(key)})
}

func (b *batch) DeleteRange(bk engine.Bucket, start, end []byte) {
	b.ops = append(b.ops, op{kind: opDeleteRange, bucket: bk.ID, key: clone(start), end: clone(end)})
}

func (b *batch) Len() int { return len(b.ops) }

func (b *batch) Close() { b.ops = nil }

// Commit applies the operations in order under the engine lock. sync has no
// effect: the memory engine writes nothing on commit (see the package doc).
func (b *batch) Commit(sync bool) error {
	ops := b.ops
	b.ops = nil
	e := b.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("memory: commit: %w", engine.ErrClosed)
	}
	var logical int64
	for _, o := range ops {
		switch o.kind {
		case opPut:
			old, replaced := e.tree.ReplaceOrInsert(item{bucket: o.bucket, key: o.key, value: o.value})
			if replaced {
				e.live -= int64(len(old.key) + len(old.value))
			}
			e.live += int64(len(o.key) + len(o.value))
			logical += int64(len(o.key) + len(o.value))
		case opDelete:
			if old, ok := e.tree.Delete(item{bucket: o.bucket, key: o.key}); ok {
				e.live -= int64(len(old.key) + len(old.value))
			}
		case opDeleteRange:
			var doomed []item
			ascend(e.tree, o.bucket, o.key, o.end, func(it item) bool {
				doomed = append(doomed, it)
				return true
			})
			for _, it := range doomed {
				e.tree.Delete(it)
				e.live -= int64(len(it.key) + len(it.value))
			}
		}
	}
	e.liveBytes.Store(e.live)
	e.commits.Add(1)
	if sync {
		e.syncedCommits.Add(1)
	}
	e.logicalBytes.Add(logical)
	return nil
}

// ascend visits the entries of bucket in [start, end); nil end is the end of
// the bucket.
func ascend(t *btree.BTreeG[item], bucket byte, start, end []byte, fn func(item) bool) {
	lo := item{bucket: bucket, key: start}
	switch {
	case end != nil:
		if bytes.Compare(start, end) >= 0 {
			return
		}
		t.AscendRange(lo, item{bucket: bucket, key: end}, fn)
	case bucket < 0xff:
		// The smallest entry of the next bucket bounds this one.
		t.AscendRange(lo, item{bucket: bucket + 1, key: nil}, fn)
	default:
		t.AscendGreaterOrEqual(lo, fn)
	}
}

// view reads a clone of the tree. tree is nil once the view is closed; it is
// atomic because a View may be used by several goroutines while one closes it.
type view struct {
	e    *Engine
	tree atomic.Pointer[btree.BTreeG[item]]
}

// snapshot returns the view's tree, or ErrClosed when the view or the engine
// was closed (the memory engine could go on serving a view of a closed engine,
// but the disk engines cannot, and callers should see the same behaviour).
func (v *view) snapshot(what string) (*btree.BTreeG[item], error) {
	t := v.tree.Load()
	if t == nil || v.e.closedFlag.Load() {
		return nil, fmt.Errorf("memory: %s: %w", what, engine.ErrClosed)
	}
	return t, nil
}

func (v *view) Get(b engine.Bucket, key []byte) ([]byte, error) {
	t, err := v.snapshot("get")
	if err != nil {
		return nil, err
	}
	it, ok := t.Get(item{bucket: b.ID, key: key})
	if !ok {
		return nil, fmt.Errorf("memory: get %q in bucket %s: %w", key, b, engine.ErrNotFound)
	}
	return it.value, nil
}

func (v *view) Scan(b engine.Bucket, start, end []byte, limit int, fn func(key, value []byte) bool) error {
	t, err := v.snapshot("scan")
	if err != nil {
		return err
	}
	n := 0
	ascend(t, b.ID, start, end, func(it item) bool {
		n++
		// fn gets the tree's own slices: they are never modified, but the
		// contract only promises them for the duration of the call.
		if !fn(it.key, it.value) {
			return false
		}
		return limit <= 0 || n < limit
	})
	return nil
}

// Close drops the view's clone; the nodes it shared are garbage once the
// writer has copied them.
func (v *view) Close() error {
	v.tree.Store(nil)
	return nil
}
