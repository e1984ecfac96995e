package engine

import (
	"errors"
	"io"
)

// Sentinel errors shared by every engine. Implementations wrap them with %w so
// that callers can test with errors.Is while the message names the file, key or
// option at fault.
var (
	// ErrNotFound: the key is absent from the bucket (or the bucket is absent).
	ErrNotFound = errors.New("engines: not found")
	// ErrClosed: the engine, batch or view was used after Close.
	ErrClosed = errors.New("engines: closed")
	// ErrCorrupt: the data on disk or in an image is damaged.
	ErrCorrupt = errors.New("engines: corrupt data")
	// ErrWrongEngine: the directory, file or image belongs to another engine
	// (for example a bbolt file opened as pebble).
	ErrWrongEngine = errors.New("engines: data belongs to another engine")
	// ErrUnknownEngine: no engine is registered under that name.
	ErrUnknownEngine = errors.New("engines: unknown engine")
	// ErrBadOption: an engine option key is unknown or its value is malformed.
	ErrBadOption = errors.New("engines: bad option")
)

// Bucket names a keyspace. Buckets are independent: the same key in two buckets
// is two entries, and a scan of one never sees the other.
type Bucket struct {
	// ID is the bucket's one-byte key prefix on engines without native buckets.
	// IDs must be unique among the buckets a store uses.
	ID byte
	// Name is the bucket's name on engines with native buckets (bbolt).
	Name string
	// Sequential hints that keys are appended in increasing order (etcd's `key`
	// bucket, keyed by revision); bbolt then fills pages to its sequential fill
	// percent instead of splitting them in half.
	Sequential bool
}

func (b Bucket) String() string { return b.Name }

// Engine is one open store. All methods are safe for concurrent use; batches
// are committed one at a time in the order Commit is called.
type Engine interface {
	// Name is the engine's registered name ("bbolt", "pebble", "memory").
	Name() string
	// NewBatch returns an empty write batch.
	NewBatch() Batch
	// NewView opens a consistent read view of everything committed so far.
	NewView() (View, error)
	// Size is the backend size etcd's quota compares, in bytes: bbolt: the
	// high-water mark of the file (tx.Size(), last page id × page size, free
	// pages included, the grow slack past it excluded), exactly etcd's figure;
	// pebble: the bytes of the files pebble holds (DiskSpaceUsage of its
	// in-memory metrics: live, obsolete and zombie sstables, WAL, MANIFEST);
	// memory: key and value bytes. It reads in-memory state only, never the
	// file system, but it may cost a metrics read: callers on a request path
	// use the batching layer's copy, refreshed at each commit, as etcd does.
	Size() int64
	// SizeInUse is the part of Size that holds live data (bbolt: Size minus
	// free and pending pages; pebble: live sstables and blob files plus the
	// WAL; memory: key and value bytes). In-memory state only, like Size.
	SizeInUse() int64
	// DiskSize is what the engine's files take as `du --apparent-size` sees
	// them (bbolt: the file with its grow slack; pebble: every file in its
	// directory; memory: its data). It may list and stat files: for results
	// and reports only, never on a request path.
	DiskSize() int64
	// Reclaim returns space freed by deletions to the file system: bbolt copies
	// every bucket into a new file and swaps it in (etcd's defrag); pebble runs a
	// manual compaction of the whole key space. It waits for open views to close
	// and blocks new views and commits while it runs.
	Reclaim() error
	// WriteImage streams a consistent image of the whole store, as of the last
	// commit, to w and returns the number of bytes written. The engine's
	// OpenImage turns such an image back into an engine with the same content.
	WriteImage(w io.Writer) (int64, error)
	// Sync makes every batch committed so far durable: once it returns,
	// neither a process crash nor a machine crash loses any of them, whatever
	// the engine's knobs let Commit skip (bbolt no-sync, pebble wal=unsynced
	// or wal=disabled). bbolt: an fdatasync of the file when a commit skipped
	// one; pebble: a WAL fdatasync, or with wal=disabled a flush of the
	// memtables to sstables; memory: its image written to the data directory
	// (as Close does). It is the barrier a caller needs before discarding
	// another log that could replay those batches: the cluster calls it (via
	// the backend) before a disk snapshot lets the raft WAL be released.
	// Rare, never per request: with wal=disabled it costs a flush, on memory
	// a full image.
	Sync() error
	// Stats returns cumulative statistics since Open.
	Stats() Stats
	// Close releases the engine. Batches not committed are lost; a batch
	// committed without sync may be lost if the machine crashes afterwards.
	Close() error
}

// Batch accumulates writes applied atomically by Commit. A Batch is used by one
// goroutine at a time. After Commit (successful or not) the batch is empty and
// may be reused.
type Batch interface {
	// Put sets key to value in bucket b. The slices are copied.
	Put(b Bucket, key, value []byte)
	// Delete removes key from bucket b; deleting an absent key is not an error.
	Delete(b Bucket, key []byte)
	// DeleteRange removes every key in [start, end) from bucket b. A nil end
	// means the end of the bucket.
	DeleteRange(b Bucket, start, end []byte)
	// Len is the number of operations in the batch.
	Len() int
	// Commit applies the batch atomically. With sync the data is on stable
	// storage when Commit returns (unless an engine knob gives that up:
	// bbolt no-sync, pebble wal=unsynced or disabled); without, it may be
	// lost by a machine crash, and on pebble by a process crash too (its WAL
	// writer buffers the record in process memory for a moment). Engine.Sync
	// makes every committed batch durable.
	Commit(sync bool) error
	// Close discards the batch.
	Close()
}

// View is a consistent, read-only snapshot of the store. A View is safe for
// concurrent use by several goroutines. Close it promptly: an open view pins
// old data (bbolt pages, pebble sstables) and delays Reclaim.
type View interface {
	// Get returns the value of key in bucket b, or an error wrapping
	// ErrNotFound. The value is valid until the View is closed; do not modify it.
	Get(b Bucket, key []byte) ([]byte, error)
	// Scan calls fn for each key in [start, end) of bucket b in ascending byte
	// order, at most limit times when limit > 0. A nil end means the end of the
	// bucket. fn returns false to stop early. The slices passed to fn are valid
	// only during the call.
	Scan(b Bucket, start, end []byte, limit int, fn func(key, value []byte) bool) error
	// Close releases the view. It is idempotent.
	Close() error
}

// Stats are cumulative since the engine was opened. Counters that an engine
// cannot observe directly are derived as documented by the engine.
type Stats struct {
	// Engine is the engine's name.
	Engine string
	// Commits counts committed batches; SyncedCommits those committed with
	// Commit(true), whether or not the engine's settings (bbolt no-sync,
	// pebble's WAL modes) let them fsync: Fsyncs says what reached the disk.
	Commits, SyncedCommits int64
	// Fsyncs counts fsync/fdatasync calls the engine made.
	Fsyncs int64
	// BytesWritten counts bytes the engine wrote to its files.
	BytesWritten int64
	// LogicalBytes counts key and value bytes handed to Put in committed
	// batches; BytesWritten / LogicalBytes is the engine's write amplification.
	LogicalBytes int64
	// Reclaims counts completed Reclaim calls.
	Reclaims int64
	// FSMetadataOps counts the file-system metadata calls the engine and the
	// library under it made (open, create, list, stat, remove, rename, lock,
	// mkdir), where the engine can observe them. They belong to opens,
	// flushes, compactions and commits, never to a single read or write: the
	// parity test holds every engine to that. The directory sampling that
	// DiskSize and Stats do for their callers is not in it.
	FSMetadataOps int64
	// Native holds engine-specific metrics under flat names, for example
	// "bbolt.tx.page_alloc_bytes" or "pebble.l0.files". One name is shared:
	// RetainedBytesMetric.
	Native map[string]float64
}

// RetainedBytesMetric names the Native metric of the bytes in Size that an
// engine keeps on purpose for reuse and that Reclaim does not return (pebble:
// obsolete WAL files kept for recycling, bounded by its memtable count). It
// is part of the real footprint; the reclamation check looks past it.
const RetainedBytesMetric = "retained_bytes"

// WriteAmp is BytesWritten / LogicalBytes, or 0 before anything was written.
func (s Stats) WriteAmp() float64 {
	if s.LogicalBytes == 0 {
		return 0
	}
	return float64(s.BytesWritten) / float64(s.LogicalBytes)
}

// Sub returns the change from an earlier snapshot o to s, for per-phase
// accounting. Native metrics are copied from s unchanged (many are gauges).
func (s Stats) Sub(o Stats) Stats {
	d := s
	d.Commits -= o.Commits
	d.SyncedCommits -= o.SyncedCommits
	d.Fsyncs -= o.Fsyncs
	d.BytesWritten -= o.BytesWritten
	d.LogicalBytes -= o.LogicalBytes
	d.Reclaims -= o.Reclaims
	d.FSMetadataOps -= o.FSMetadataOps
	return d
}
